//! The watched directory: every file that matches a route is read from its
//! checkpoint and then followed. File system events wake a file's reader at
//! once; a poll backs them up, and a rescan of the directory finds files
//! whose events were lost. Both back off while nothing changes (from
//! `watch.poll_interval_ms` up to [`MAX_IDLE_POLL`]), and a poll first
//! compares the file's size and time with the last look, without opening
//! it: 100,000 idle files cost next to nothing.
//!
//! Files are known by device and inode, not by name, so a file renamed
//! within the directory (rotated) keeps its reader and its checkpoint.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::file::{FileReader, LastLine, ReadError, ReadLimits};
use crate::pipeline::{Batch, Counted, ParserHandle, Router};
use crate::store::{FileKey, Store};

/// Files of the watch directory that no route matches, by identity.
pub type IgnoredFiles = Arc<Mutex<BTreeMap<FileKey, IgnoredFile>>>;

/// A file the watcher does not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredFile {
    pub path: PathBuf,
    pub reason: String,
}

/// Makes sure the watch directory is one (creating it if missing, with a
/// word in the log) and returns it resolved, so that a start that cannot
/// read it fails before it listens.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => anyhow::bail!(
            "the watch directory {} is not a directory; set watch.dir (or --watch-dir) to a directory",
            dir.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|error| anyhow::anyhow!("cannot create the watch directory {}: {error}", dir.display()))?;
            info!(dir = %dir.display(), "The watch directory did not exist; created it.");
        }
        Err(error) => anyhow::bail!("cannot read the watch directory {}: {error}", dir.display()),
    }
    // Checkpoints keep the path a file was first read under: `./logs/a.log`
    // and `/srv/logs/a.log` must be one.
    std::fs::canonicalize(dir)
        .map_err(|error| anyhow::anyhow!("cannot resolve the watch directory {}: {error}", dir.display()))
}

/// What the watcher needs to start readers.
pub struct WatchContext {
    /// The directory, as [`prepare_dir`] returned it.
    pub dir: PathBuf,
    /// Where the watcher lists the files it does not read.
    pub ignored: IgnoredFiles,
    pub router: Arc<Router>,
    pub store: Arc<dyn Store>,
    pub batches: async_channel::Sender<Batch>,
    pub limits: ReadLimits,
    pub poll_interval: Duration,
    /// A last line without newline counts once its file has not changed for this long.
    pub final_line_idle: Duration,
    /// The checkpoint of a file gone from the directory is removed after this long.
    pub forget_after: Duration,
    /// Read files that links lead to outside the directory.
    pub follow_symlinks: bool,
    /// Files read at the same time (each holds a read buffer).
    pub concurrent_reads: usize,
    /// Where readers add the bytes they read.
    pub bytes_read: Arc<AtomicU64>,
    pub cancel: CancellationToken,
}

/// A file the watcher knows: followed, or gone and waiting to be forgotten.
#[derive(Default)]
struct Tracked {
    follower: Option<Follower>,
    /// Sequence number of the file's next batch; outlives its followers.
    next_seq: Arc<AtomicU64>,
    /// The path of a checkpoint stored before this run: it routes the file
    /// even if it has been renamed since.
    first_path: Option<PathBuf>,
    /// When a rescan first missed the file.
    missing_since: Option<Instant>,
}

struct Follower {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Tracked {
    fn live_follower(&self) -> Option<&Follower> {
        self.follower.as_ref().filter(|follower| !follower.task.is_finished())
    }
}

/// The files of the directory, by identity.
struct Files {
    ctx: Arc<WatchContext>,
    readers: TaskTracker,
    reads: Arc<Semaphore>,
    tracked: HashMap<FileKey, Tracked>,
    /// Files whose checkpoint removal is not committed yet: a new file on
    /// the same inode waits for it, so its batches cannot be mixed up with
    /// the removal in the aggregator's order.
    forgetting: HashMap<FileKey, tokio::sync::oneshot::Receiver<Counted>>,
    /// Why the directory could not be listed last time: a lasting problem
    /// is logged once, not at every rescan.
    list_error: Option<String>,
    /// The directory's device: its files' keys have it (a listing gives
    /// only their inodes).
    dir_dev: u64,
    /// Readers started so far.
    started: u64,
}

/// Watches `ctx.dir` until cancelled, then waits for every reader to stop.
pub async fn watch_dir(ctx: WatchContext) -> anyhow::Result<()> {
    let (event_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = event_tx.send(event);
    })?;
    watcher.watch(&ctx.dir, RecursiveMode::NonRecursive)?;
    // Taken before the directory is said to be watched: it may go any time
    // after (and is then reported by the rescans).
    let dir_dev = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(&ctx.dir)?.dev()
    };
    info!(dir = %ctx.dir.display(), "Watching directory.");

    let store = ctx.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.file_checkpoints()).await??;
    let mut files = Files {
        dir_dev,
        started: 0,
        reads: Arc::new(Semaphore::new(ctx.concurrent_reads.max(1))),
        ctx: Arc::new(ctx),
        readers: TaskTracker::new(),
        tracked: HashMap::new(),
        forgetting: HashMap::new(),
        list_error: None,
    };
    for (key, checkpoint) in stored {
        let tracked = files.tracked.entry(key).or_default();
        tracked.first_path = Some(super::file::path_of(checkpoint.first_path));
    }
    let ctx = files.ctx.clone();
    // The first rescan at once, then one per `rescan_every`, which grows
    // while rescans find nothing new.
    let mut rescan_every = ctx.poll_interval;
    let next_rescan = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(next_rescan);
    loop {
        let lost_events = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            Some(event) = events.recv() => match event {
                // Our own reads raise access events; following them would
                // make every read wake the reader again.
                Ok(event) if event.kind.is_access() => false,
                Ok(event) if event.need_rescan() => {
                    warn!("File system events were lost (queue overflow); rescanning and waking every reader.");
                    true
                }
                Ok(event) => {
                    for path in event.paths {
                        files.observe(&path, true);
                    }
                    false
                }
                Err(error) => {
                    warn!(error = %error, "File system events were lost; rescanning and waking every reader.");
                    true
                }
            },
            _ = &mut next_rescan => {
                rescan_every = match files.rescan().await {
                    true => ctx.poll_interval,
                    false => (rescan_every * 2).min(MAX_IDLE_POLL.max(ctx.poll_interval)),
                };
                next_rescan.as_mut().reset(tokio::time::Instant::now() + rescan_every);
                false
            }
        };
        if lost_events {
            // Readers that slept through their events look now.
            files.wake_all();
            rescan_every = ctx.poll_interval;
            next_rescan.as_mut().reset(tokio::time::Instant::now());
        }
    }
    drop(watcher);
    files.readers.close();
    files.readers.wait().await;
    Ok(())
}

impl Files {
    /// Wakes (if `wake`) the reader of the file at `path`, or starts one if
    /// the file is new to this run or its reader ended. Returns the file's
    /// key, if `path` names a file.
    fn observe(&mut self, path: &Path, wake: bool) -> Option<FileKey> {
        let metadata = std::fs::metadata(path).ok().filter(|metadata| !metadata.is_dir())?;
        let key = FileKey::of(&metadata);
        if !metadata.is_file() {
            // A FIFO would block its reader; a device or socket is no log.
            self.ignore(key, path, || "not a regular file (a FIFO, socket or device)".into());
            return Some(key);
        }
        if self.forgetting.contains_key(&key) {
            return Some(key);
        }
        let tracked = self.tracked.get_mut(&key);
        if let Some(tracked) = tracked {
            tracked.missing_since = None;
            if let Some(follower) = tracked.live_follower() {
                if wake {
                    follower.wake.notify_one();
                }
                return Some(key);
            }
        }
        let first_path = self.tracked.get(&key).and_then(|tracked| tracked.first_path.as_deref());
        let routed_by = first_path.unwrap_or(path).to_path_buf();
        let Some(parser) = self.route(&routed_by) else {
            let name = routed_by.file_name().unwrap_or_default().to_string_lossy();
            let globs: Vec<_> = self.ctx.router.globs().collect();
            self.ignore(key, path, || {
                format!("no route matches `{name}` (routes: {})", globs.join(", "))
            });
            return Some(key);
        };
        if let Some(target) = self.link_out_of_dir(path) {
            self.ignore(key, path, || {
                format!(
                    "a symbolic link to {}, outside the watch directory (set watch.follow_symlinks: true to read it)",
                    target.display()
                )
            });
            return Some(key);
        }
        self.ctx.ignored.lock().expect("ignored lock poisoned").remove(&key);
        let tracked = self.tracked.entry(key).or_default();
        let wake = Arc::new(Notify::new());
        let mut reader = FileReader::new(
            path.to_path_buf(),
            key,
            key.source().into(),
            parser,
            tracked.next_seq.clone(),
        );
        reader.bytes_read = Some(self.ctx.bytes_read.clone());
        let task = self
            .readers
            .spawn(follow_file(self.ctx.clone(), reader, wake.clone(), self.reads.clone()));
        tracked.follower = Some(Follower { wake, task });
        self.started += 1;
        Some(key)
    }

    /// Wakes every reader.
    fn wake_all(&self) {
        for follower in self.tracked.values().filter_map(Tracked::live_follower) {
            follower.wake.notify_one();
        }
    }

    /// Lists a file that is not read in `/sources`, with the reason,
    /// logged once per name.
    fn ignore(&self, key: FileKey, path: &Path, reason: impl FnOnce() -> String) {
        let mut listed = self.ctx.ignored.lock().expect("ignored lock poisoned");
        // Seen at every rescan: the reason is made only for a new name.
        if listed.get(&key).is_some_and(|file| file.path == path) {
            return;
        }
        let ignored = IgnoredFile {
            path: path.to_path_buf(),
            reason: reason(),
        };
        info!(path = ?ignored.path, reason = %ignored.reason, "File ignored; it is listed in /sources with the reason.");
        listed.insert(key, ignored);
    }

    /// Where `path` leads, if it is a symbolic link to a file outside the
    /// directory and such links are not followed.
    fn link_out_of_dir(&self, path: &Path) -> Option<PathBuf> {
        if self.ctx.follow_symlinks || !std::fs::symlink_metadata(path).ok()?.is_symlink() {
            return None;
        }
        // The directory is canonical (see `prepare_dir`).
        let target = std::fs::canonicalize(path).ok()?;
        (target.parent() != Some(self.ctx.dir.as_path())).then_some(target)
    }

    /// The parser for a file, by its name (bytes that are not UTF-8 read
    /// as U+FFFD: `*.log` still matches).
    fn route(&self, path: &Path) -> Option<ParserHandle> {
        self.ctx
            .router
            .parser_for(&path.file_name()?.to_string_lossy())
            .cloned()
    }

    /// Starts readers for files without one, and forgets the checkpoints of
    /// files gone for longer than `forget_after`. True when it found a file
    /// or a change no event had shown.
    async fn rescan(&mut self) -> bool {
        self.forgetting.retain(|_, committed| {
            matches!(
                committed.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            )
        });
        let entries = match std::fs::read_dir(&self.ctx.dir) {
            Ok(entries) => {
                if self.list_error.take().is_some() {
                    info!(dir = %self.ctx.dir.display(), "The watch directory can be listed again.");
                }
                entries
            }
            Err(error) => {
                let error = error.to_string();
                if self.list_error.as_ref() != Some(&error) {
                    warn!(dir = %self.ctx.dir.display(), %error, "Cannot list the watch directory; will retry at every rescan.");
                    self.list_error = Some(error);
                }
                return false;
            }
        };
        let started_before = self.started;
        let mut present = HashSet::new();
        for entry in entries.flatten() {
            // A file followed already is known by its inode (from the
            // listing, no stat); others are looked at.
            use std::os::unix::fs::DirEntryExt as _;
            let known = FileKey {
                dev: self.dir_dev,
                ino: entry.ino(),
            };
            let followed = self
                .tracked
                .get(&known)
                .is_some_and(|tracked| tracked.live_follower().is_some());
            if followed && !entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
                present.insert(known);
            } else if let Some(key) = self.observe(&entry.path(), false) {
                present.insert(key);
            }
        }
        let found = self.started != started_before;
        self.ctx
            .ignored
            .lock()
            .expect("ignored lock poisoned")
            .retain(|key, _| present.contains(key));
        let now = Instant::now();
        let mut forget = Vec::new();
        for (key, tracked) in &mut self.tracked {
            if present.contains(key) || tracked.live_follower().is_some() {
                continue;
            }
            let since = *tracked.missing_since.get_or_insert(now);
            if now.duration_since(since) >= self.ctx.forget_after {
                forget.push(*key);
            }
        }
        for key in forget {
            let tracked = self.tracked.remove(&key).expect("collected above");
            let seq = tracked.next_seq.fetch_add(1, Ordering::Relaxed);
            info!(file = %key.source(), path = ?tracked.first_path.as_deref().unwrap_or(Path::new("")), "File is gone; forgetting its checkpoint.");
            let (ack, committed) = tokio::sync::oneshot::channel();
            if self
                .ctx
                .batches
                .send(Batch::forget(key.source().into(), seq, ack))
                .await
                .is_err()
            {
                return found;
            }
            self.forgetting.insert(key, committed);
        }
        found
    }
}

/// The longest a poll waits for a file (or a rescan for the directory)
/// that has not changed; events wake a reader at once all the same.
pub const MAX_IDLE_POLL: Duration = Duration::from_secs(60);

/// What a look at `path` (a stat, no open) sees: which file, its size and
/// modification time. Equal looks: nothing to read.
fn look_at(path: &Path) -> Option<(FileKey, u64, Option<std::time::SystemTime>)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((FileKey::of(&metadata), metadata.len(), metadata.modified().ok()))
}

/// Reads a file from its checkpoint, then again on every wake or poll, until
/// cancelled or the file is gone.
async fn follow_file(ctx: Arc<WatchContext>, mut reader: FileReader, wake: Arc<Notify>, reads: Arc<Semaphore>) {
    // The checkpoint, tried again while the store cannot be read (closed
    // after a failed write): reading starts once it is back.
    let mut retry_in = ctx.poll_interval;
    let mut warned = false;
    loop {
        // Thousands of files can appear at once: their look-ups wait their
        // turn like their reads.
        let permit = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            permit = reads.clone().acquire_owned() => permit.expect("never closed"),
        };
        let (store, source) = (ctx.store.clone(), reader.source.clone());
        let checkpoint = tokio::task::spawn_blocking(move || store.checkpoint(&source)).await;
        drop(permit);
        match checkpoint {
            Ok(Ok(checkpoint)) => {
                if let Some(checkpoint) = checkpoint {
                    reader.resume(checkpoint);
                }
                break;
            }
            Ok(Err(error)) => {
                if !std::mem::replace(&mut warned, true) {
                    warn!(path = ?reader.path, error = %error, "Cannot read the file's checkpoint; will read the file once it can.");
                }
            }
            Err(_) => return,
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tokio::time::sleep(retry_in) => {}
        }
        retry_in = (retry_in * 2).min(Duration::from_secs(5));
    }
    info!(path = ?reader.path, offset = reader.offset, "Reading file.");
    // When the file last changed size, to tell a last line still being
    // written from one that will never get its newline.
    let mut changed = (reader.size_seen, Instant::now());
    // The last error reported, so that a lasting one is reported once.
    let mut last_error = None;
    // The file as last looked at before a read: unchanged, a poll does not
    // open it.
    let mut last_look = None;
    // Time until the next poll: doubled while polls find nothing.
    let mut wait = ctx.poll_interval;
    loop {
        let idle_for = changed.1.elapsed();
        let line_waits = reader.size_seen > reader.offset;
        let last_line = match line_waits && idle_for >= ctx.final_line_idle {
            true => LastLine::CompleteIfSize(reader.size_seen),
            false => LastLine::Waits,
        };
        // A stat, here: cheap (the directory's listing is read here too),
        // where a read would take a blocking thread and a read slot.
        let look = look_at(&reader.path);
        let result = match look.is_some() && look == last_look && last_line == LastLine::Waits {
            true => Ok(0),
            false => {
                let permit = tokio::select! {
                    _ = ctx.cancel.cancelled() => return,
                    permit = reads.clone().acquire_owned() => permit.expect("never closed"),
                };
                let worker_ctx = ctx.clone();
                let read = tokio::task::spawn_blocking(move || {
                    let result =
                        reader.read_available(&worker_ctx.batches, worker_ctx.limits, last_line, &worker_ctx.cancel);
                    drop(permit);
                    (reader, result)
                })
                .await;
                let Ok((returned, result)) = read else { return };
                reader = returned;
                result
            }
        };
        let size_changed = reader.size_seen != changed.0;
        if size_changed {
            changed = (reader.size_seen, Instant::now());
        }
        let changed_look = look != last_look;
        last_look = look;
        match result {
            Ok(lines) => {
                if lines > 0 {
                    debug!(path = ?reader.path, lines, offset = reader.offset, "Read lines.");
                }
                wait = match lines > 0 || size_changed || changed_look {
                    true => ctx.poll_interval,
                    false => (wait * 2).min(MAX_IDLE_POLL.max(ctx.poll_interval)),
                };
                last_error = None;
            }
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                info!(path = ?reader.path, "File is gone (or no longer a regular file); no longer followed.");
                return;
            }
            Err(error) => {
                let message = error.to_string();
                if last_error.as_ref() != Some(&message) {
                    warn!(path = ?reader.path, error = %message, "Cannot read file; will retry when it changes.");
                    last_error = Some(message);
                }
            }
        }
        // A last line without newline is counted once idle: wake by then.
        let mut sleep = wait;
        if reader.size_seen > reader.offset {
            let idle_in = ctx.final_line_idle.saturating_sub(changed.1.elapsed());
            sleep = sleep.min(idle_in + Duration::from_millis(10));
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = wake.notified() => wait = ctx.poll_interval,
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}
