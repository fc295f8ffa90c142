//! The aggregator, the only writer: merges finished batches in each source's
//! order and commits counters and checkpoints together, on an interval.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error};

use super::Done;
use super::batch::{Ack, Counted, Progress, SourceId};
use crate::model::Delta;
use crate::store::{Checkpoint, Commit, FileCounts, Store};

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
    fn absorb(&mut self, done: Done, totals: &mut FileTotals) {
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
        if let Some(ack) = done.ack {
            self.acks.push((
                ack,
                Counted {
                    parsed: done.delta.parsed,
                    invalid: done.delta.invalid,
                },
            ));
        }
        self.delta.merge(done.delta);
    }
}

/// Once batches stop coming for this long, what they brought is committed
/// without waiting for the next tick, so the end of a burst (and an HTTP
/// ingest's answer) does not wait up to a whole interval. While batches keep
/// coming, commits stay one per interval.
const IDLE_COMMIT: Duration = Duration::from_millis(5);

/// Runs until every sender of `done` is gone, then commits what remains.
pub async fn run_aggregator(
    done: async_channel::Receiver<Done>,
    store: Arc<dyn Store>,
    interval: Duration,
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
    loop {
        let due = tokio::select! {
            finished = done.recv() => match finished {
                Ok(finished) => {
                    accept(&mut order, &mut pending, &mut totals, finished);
                    idle.as_mut().reset(tokio::time::Instant::now() + IDLE_COMMIT);
                    idle_armed = true;
                    false
                }
                Err(_) => break,
            },
            _ = ticker.tick() => true,
            () = &mut idle, if idle_armed => {
                idle_armed = false;
                true
            }
        };
        if due && let Err(error) = commit(&store, &mut pending).await {
            // Kept in `pending`: the next tick retries.
            error!(error = %error, "Commit failed; will retry.");
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
    commit(&store, &mut pending).await
}

/// Merges `finished` if it is next in its source; otherwise holds it until
/// the batches before it are in. Counts and checkpoint move together, so a
/// checkpoint never covers a batch whose counts are not merged.
///
/// Batches of sources without offsets (HTTP, WebSocket) have no checkpoint to
/// keep in step, and are merged at once. A source forgotten is the end of it:
/// its order is dropped too.
fn accept(order: &mut HashMap<SourceId, SourceOrder>, pending: &mut Pending, totals: &mut FileTotals, finished: Done) {
    if finished.progress == Progress::Untracked {
        pending.absorb(finished, totals);
        return;
    }
    let id = finished.source.clone();
    let source = order.entry(id.clone()).or_default();
    source.waiting.insert(finished.seq, finished);
    while let Some(next) = source.waiting.remove(&source.next_seq) {
        source.next_seq += 1;
        let forget = next.progress == Progress::Forget;
        pending.absorb(next, totals);
        if forget {
            order.remove(&id);
            return;
        }
    }
}

async fn commit(store: &Arc<dyn Store>, pending: &mut Pending) -> anyhow::Result<()> {
    if pending.delta.lines() > 0 || !pending.checkpoints.is_empty() {
        let commit = Commit::new(&pending.delta, pending.checkpoints.clone());
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.commit(&commit)).await??;
    }
    debug!(
        lines = pending.delta.lines(),
        sources = pending.checkpoints.len(),
        "Committed."
    );
    for (ack, counted) in std::mem::take(&mut pending.acks) {
        // The requester may have gone; its lines are committed all the same.
        let _ = ack.send(counted);
    }
    *pending = Pending::default();
    Ok(())
}
