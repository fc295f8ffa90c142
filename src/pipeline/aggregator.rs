//! The aggregator, the only writer: merges finished batches in each source's
//! order and commits counters and checkpoints together, on an interval.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, error, info, warn};

use super::Done;
use super::batch::{Ack, Counted, Progress, SourceId};
use super::metrics::{LinesByKind, PipelineMetrics, kind_of};
use super::names::NameCaps;
use crate::model::Delta;
use crate::store::{Checkpoint, Commit, FileCounts, Store, StoreError};

/// Finished batches of one source that wait for an earlier one.
#[derive(Default)]
struct SourceOrder {
    next_seq: u64,
    waiting: BTreeMap<u64, Done>,
}

/// What is merged but not yet committed.
#[derive(Default)]
struct Pending {
    delta: Delta,
    /// `None` removes the source's checkpoint.
    checkpoints: BTreeMap<String, Option<Checkpoint>>,
    /// Told once the commit that holds their batch succeeds.
    acks: Vec<(Ack, Counted)>,
    lines: LinesByKind,
}

/// Each file's counts so far (committed or pending), which its next
/// checkpoint adds a batch to; read from its stored checkpoint the first time.
struct FileTotals {
    store: Arc<dyn Store>,
    known: HashMap<SourceId, FileCounts>,
}

impl FileTotals {
    fn add(&mut self, source: &SourceId, delta: &Delta) -> FileCounts {
        let store = &self.store;
        let counts = self.known.entry(source.clone()).or_insert_with(|| {
            // A store that cannot be read here fails the commit too.
            store
                .checkpoint(source)
                .ok()
                .flatten()
                .map(|checkpoint| checkpoint.counts)
                .unwrap_or_default()
        });
        counts.parsed += delta.parsed;
        counts.invalid += delta.invalid;
        counts.untimed += delta.untimed;
        *counts
    }
}

impl Pending {
    fn absorb(&mut self, done: Done, totals: &mut FileTotals, caps: &mut NameCaps) {
        match done.progress {
            Progress::Untracked => {}
            Progress::Advance(mut checkpoint) => {
                checkpoint.counts = totals.add(&done.source, &done.delta);
                self.checkpoints.insert(done.source.to_string(), Some(checkpoint));
            }
            Progress::Forget => {
                totals.known.remove(&done.source);
                self.checkpoints.insert(done.source.to_string(), None);
            }
        }
        let kind = &mut self.lines[kind_of(done.source.as_ref())];
        kind[0] += done.delta.parsed;
        kind[1] += done.delta.invalid;
        if let Some(ack) = done.ack {
            self.acks.push((
                ack,
                Counted {
                    parsed: done.delta.parsed,
                    invalid: done.delta.invalid,
                },
            ));
        }
        self.delta.merge(caps.apply(done.delta));
    }
}

/// Whether commits go through: the aggregator says, `/healthz` and
/// `POST /ingest` ask.
#[derive(Debug, Default)]
pub struct CommitHealth {
    failing: Mutex<Option<String>>,
    /// The number of the last commit that went through: what is in the
    /// store changes only with it.
    last_seq: std::sync::atomic::AtomicU64,
}

impl CommitHealth {
    /// Health after the store's last commit, number `last_seq`.
    pub fn new(last_seq: u64) -> CommitHealth {
        let health = CommitHealth::default();
        health.committed(last_seq);
        health
    }

    /// The number of the last commit that went through.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(std::sync::atomic::Ordering::Acquire)
    }

    fn committed(&self, seq: u64) {
        self.last_seq.store(seq, std::sync::atomic::Ordering::Release);
    }

    /// Why the last commit failed, while commits fail.
    pub fn failing(&self) -> Option<String> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, failing: Option<String>) {
        *self.failing.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = failing;
    }
}

/// First wait before a failed commit is tried again, doubled up to
/// [`LAST_RETRY`] while it keeps failing.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Once batches stop coming for this long, what they brought is committed
/// without waiting for the next tick, so the end of a burst does not wait
/// up to a whole interval. While batches keep coming, commits stay one per
/// interval, but for batches a request waits for (HTTP ingest), which go at
/// once.
const IDLE_COMMIT: Duration = Duration::from_millis(5);

/// A commit handed to the store, and the requests waiting for it.
struct Written {
    commit: Arc<Commit>,
    acks: Vec<(Ack, Counted)>,
    lines: LinesByKind,
}

/// Runs until every sender of `done` is gone, then commits what remains.
/// Commits are numbered on from `last_seq`. One commit is in flight at a
/// time, while the next one's batches are merged: a store that takes a
/// while to commit (a database server's round trips and fsync) does not
/// stall the workers. While a commit fails, no more batches are taken
/// (sources wait: reading pauses, the queue fills) and it is tried again,
/// as it was, until it goes through.
pub async fn run_aggregator(
    done: async_channel::Receiver<Done>,
    store: Arc<dyn Store>,
    interval: Duration,
    mut last_seq: u64,
    mut caps: NameCaps,
    health: Arc<CommitHealth>,
    metrics: Arc<PipelineMetrics>,
) -> anyhow::Result<()> {
    let mut order: HashMap<SourceId, SourceOrder> = HashMap::new();
    let mut pending = Pending::default();
    let mut totals = FileTotals {
        store: store.clone(),
        known: HashMap::new(),
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let idle = tokio::time::sleep(IDLE_COMMIT);
    tokio::pin!(idle);
    let mut idle_armed = false;
    let mut in_flight: Option<(Written, tokio::task::JoinHandle<Result<(), StoreError>>)> = None;
    // A commit came due while another was in flight: it goes once that is in.
    let mut due_later = false;
    // Set while a commit fails: it, and when to try it again.
    let mut failed: Option<(Written, Duration)> = None;
    loop {
        if let Some((written, wait)) = failed.take() {
            tokio::time::sleep(wait).await;
            match write(&store, &written, &metrics).await {
                Ok(()) => {
                    last_seq = written.commit.seq;
                    release(written, &health);
                    health.set(None);
                    info!("Commits go through again; nothing was lost.");
                }
                Err(error) => {
                    metrics.failed();
                    let error = format!("{error:#}");
                    if health.failing().as_ref() != Some(&error) {
                        warn!(%error, "Commit failed again; will retry.");
                    }
                    health.set(Some(error));
                    failed = Some((written, (wait * 2).min(LAST_RETRY)));
                }
            }
            continue;
        }
        let due = tokio::select! {
            finished = done.recv() => match finished {
                Ok(finished) => {
                    accept(&mut order, &mut pending, &mut totals, &mut caps, finished);
                    idle.as_mut().reset(tokio::time::Instant::now() + IDLE_COMMIT);
                    idle_armed = true;
                    // A request waits for its batches: they are committed at
                    // once, and what comes meanwhile with the next commit
                    // (group commit), rather than at the end of a burst.
                    !pending.acks.is_empty()
                }
                Err(_) => break,
            },
            _ = ticker.tick() => true,
            () = &mut idle, if idle_armed => {
                idle_armed = false;
                true
            }
            joined = async { (&mut in_flight.as_mut().expect("polled only while in flight").1).await },
                if in_flight.is_some() =>
            {
                let (written, _) = in_flight.take().expect("in flight");
                match joined.map_err(anyhow::Error::from).and_then(|result| Ok(result?)) {
                    Ok(()) => {
                        last_seq = written.commit.seq;
                        release(written, &health);
                    }
                    Err(error) => {
                        // Kept, and tried again as it is.
                        metrics.failed();
                        let error = format!("{error:#}");
                        error!(%error, "Commit failed: nothing more is read or accepted until it goes through (retrying).");
                        health.set(Some(error));
                        failed = Some((written, FIRST_RETRY));
                    }
                }
                std::mem::take(&mut due_later)
            }
        };
        if !due || failed.is_some() {
            continue;
        }
        if in_flight.is_some() {
            due_later = true;
            continue;
        }
        if let Some(written) = take_commit(&mut pending, last_seq + 1) {
            let (store, commit, metrics) = (store.clone(), written.commit.clone(), metrics.clone());
            let lines = written.lines;
            let task = tokio::task::spawn_blocking(move || timed_commit(store.as_ref(), &commit, &lines, &metrics));
            in_flight = Some((written, task));
        }
    }
    let unordered: usize = order.values().map(|source| source.waiting.len()).sum();
    if unordered > 0 {
        // Cannot happen while every batch sent reaches the aggregator; if it
        // does, committing them would break the checkpoint's promise.
        error!(
            batches = unordered,
            "Batches finished after a missing one were not committed."
        );
    }
    // The last commits, in order: the one in flight (or failed), then the rest.
    let earlier = match (in_flight, failed) {
        (Some((written, task)), _) => {
            task.await??;
            Some(written)
        }
        (None, Some((written, _))) => {
            write(&store, &written, &metrics).await?;
            Some(written)
        }
        (None, None) => None,
    };
    if let Some(written) = earlier {
        last_seq = written.commit.seq;
        release(written, &health);
    }
    if let Some(written) = take_commit(&mut pending, last_seq + 1) {
        write(&store, &written, &metrics).await?;
        release(written, &health);
    }
    Ok(())
}

/// Merges `finished` if it is next in its source; otherwise holds it until
/// the batches before it are in. Counts and checkpoint move together, so a
/// checkpoint never covers a batch whose counts are not merged.
///
/// Batches of sources without offsets (HTTP, WebSocket) have no checkpoint to
/// keep in step, and are merged at once. A source forgotten is the end of it:
/// its order is dropped too.
fn accept(
    order: &mut HashMap<SourceId, SourceOrder>,
    pending: &mut Pending,
    totals: &mut FileTotals,
    caps: &mut NameCaps,
    finished: Done,
) {
    if finished.progress == Progress::Untracked {
        pending.absorb(finished, totals, caps);
        return;
    }
    let id = finished.source.clone();
    let source = order.entry(id.clone()).or_default();
    source.waiting.insert(finished.seq, finished);
    while let Some(next) = source.waiting.remove(&source.next_seq) {
        source.next_seq += 1;
        let forget = next.progress == Progress::Forget;
        pending.absorb(next, totals, caps);
        if forget {
            order.remove(&id);
            return;
        }
    }
    if source.waiting.is_empty() {
        // An emptied map keeps its node (11 batches' room, 2.5 KB):
        // with 100,000 files followed, 250 MB.
        source.waiting = BTreeMap::new();
    }
}

/// Takes what `pending` holds as commit number `seq`; `None` when it
/// writes nothing (its requests are answered at once).
fn take_commit(pending: &mut Pending, seq: u64) -> Option<Written> {
    let taken = std::mem::take(pending);
    debug!(
        lines = taken.delta.lines(),
        sources = taken.checkpoints.len(),
        "Committing."
    );
    let written = Written {
        commit: Arc::new(Commit::new(seq, &taken.delta, taken.checkpoints)),
        acks: taken.acks,
        lines: taken.lines,
    };
    if written.commit.is_empty() {
        release_acks(written.acks);
        return None;
    }
    Some(written)
}

/// Applies `written`'s commit off the async threads.
async fn write(store: &Arc<dyn Store>, written: &Written, metrics: &Arc<PipelineMetrics>) -> anyhow::Result<()> {
    let (store, commit, metrics) = (store.clone(), written.commit.clone(), metrics.clone());
    let lines = written.lines;
    tokio::task::spawn_blocking(move || timed_commit(store.as_ref(), &commit, &lines, &metrics)).await??;
    Ok(())
}

/// Applies `commit`, and counts it and its `lines` in `metrics` once it
/// goes through.
fn timed_commit(
    store: &dyn Store,
    commit: &Commit,
    lines: &LinesByKind,
    metrics: &PipelineMetrics,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    store.commit(commit)?;
    metrics.committed(lines, started.elapsed());
    Ok(())
}

/// A commit went through: its number is published in `health` before the
/// acks go, so a request told its lines are in sees them in `/stats`
/// (whose cache goes by the number).
fn release(written: Written, health: &CommitHealth) {
    health.committed(written.commit.seq);
    release_acks(written.acks);
}

fn release_acks(acks: Vec<(Ack, Counted)>) {
    for (ack, counted) in acks {
        // The requester may have gone; its lines are committed all the same.
        let _ = ack.send(counted);
    }
}
