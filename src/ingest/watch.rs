//! The watched directory: every file that matches a route is read from its
//! checkpoint and then followed. File system events wake a file's reader at
//! once; a poll on an interval backs them up, since events can be missed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::file::{FileReader, LastLine, ReadError, ReadLimits};
use crate::pipeline::{Batch, Router};
use crate::store::Store;

/// What the watcher needs to start readers.
pub struct WatchContext {
    pub dir: PathBuf,
    pub router: Arc<Router>,
    pub store: Arc<dyn Store>,
    pub batches: async_channel::Sender<Batch>,
    pub limits: ReadLimits,
    pub poll_interval: Duration,
    /// A last line without newline counts once its file has not changed for this long.
    pub final_line_idle: Duration,
    pub cancel: CancellationToken,
}

struct Follower {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
    next_seq: Arc<AtomicU64>,
}

/// Watches `ctx.dir` until cancelled, then waits for every reader to stop.
pub async fn watch_dir(mut ctx: WatchContext) -> anyhow::Result<()> {
    std::fs::create_dir_all(&ctx.dir)
        .map_err(|error| anyhow::anyhow!("cannot create the watch directory {}: {error}", ctx.dir.display()))?;
    // Paths name sources in checkpoints, and events and scans must agree on
    // them: `./logs/a.log` and `/srv/logs/a.log` are one file.
    ctx.dir = std::fs::canonicalize(&ctx.dir)
        .map_err(|error| anyhow::anyhow!("cannot resolve the watch directory {}: {error}", ctx.dir.display()))?;
    let (event_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = event_tx.send(event);
    })?;
    watcher.watch(&ctx.dir, RecursiveMode::NonRecursive)?;
    info!(dir = %ctx.dir.display(), "Watching directory.");

    let ctx = Arc::new(ctx);
    let readers = TaskTracker::new();
    let mut followers: HashMap<PathBuf, Follower> = HashMap::new();
    let mut rescan = tokio::time::interval(ctx.poll_interval);
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            Some(event) = events.recv() => match event {
                // Our own reads raise access events; following them would
                // make every read wake the reader again.
                Ok(event) if event.kind.is_access() => {}
                Ok(event) => {
                    for path in event.paths {
                        follow(&ctx, &readers, &mut followers, &path);
                    }
                }
                Err(error) => {
                    warn!(error = %error, "File system events were lost; rescanning.");
                    rescan.reset_immediately();
                }
            },
            _ = rescan.tick() => {
                match std::fs::read_dir(&ctx.dir) {
                    Ok(entries) => {
                        for entry in entries.flatten() {
                            follow(&ctx, &readers, &mut followers, &entry.path());
                        }
                    }
                    Err(error) => warn!(dir = %ctx.dir.display(), error = %error, "Cannot list the watch directory."),
                }
            }
        }
    }
    drop(watcher);
    readers.close();
    readers.wait().await;
    Ok(())
}

/// Wakes the reader of `path`, or starts one if the file is new (or its
/// reader ended, as after a deletion).
fn follow(ctx: &Arc<WatchContext>, readers: &TaskTracker, followers: &mut HashMap<PathBuf, Follower>, path: &Path) {
    let next_seq = match followers.get(path) {
        Some(follower) if !follower.task.is_finished() => {
            follower.wake.notify_one();
            return;
        }
        Some(follower) => follower.next_seq.clone(),
        None => Arc::default(),
    };
    if !path.is_file() {
        return;
    }
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return;
    };
    let Some(parser) = ctx.router.parser_for(name) else {
        debug!(path = %path.display(), "No route matches; file ignored.");
        return;
    };
    let wake = Arc::new(Notify::new());
    let reader = FileReader::new(
        path.to_path_buf(),
        path.to_string_lossy().into(),
        parser.clone(),
        0,
        next_seq.clone(),
    );
    let task = readers.spawn(follow_file(ctx.clone(), reader, wake.clone()));
    followers.insert(path.to_path_buf(), Follower { wake, task, next_seq });
}

/// Reads a file from its checkpoint, then again on every wake or poll, until
/// cancelled or the file is gone.
async fn follow_file(ctx: Arc<WatchContext>, mut reader: FileReader, wake: Arc<Notify>) {
    let store = ctx.store.clone();
    let source = reader.source.clone();
    match tokio::task::spawn_blocking(move || store.checkpoint(&source)).await {
        Ok(Ok(checkpoint)) => {
            if let Some(checkpoint) = checkpoint {
                (reader.offset, reader.file) = (checkpoint.offset, checkpoint.file);
            }
        }
        Ok(Err(error)) => {
            warn!(path = %reader.path.display(), error = %error, "Cannot read the file's checkpoint; not reading it.");
            return;
        }
        Err(_) => return,
    }
    info!(path = %reader.path.display(), offset = reader.offset, "Reading file.");
    // When the file last changed size, to tell a last line still being
    // written from one that will never get its newline.
    let mut changed = (reader.size_seen, Instant::now());
    loop {
        let idle = changed.1.elapsed() >= ctx.final_line_idle;
        let last_line = match reader.size_seen > reader.offset && idle {
            true => LastLine::CompleteIfSize(reader.size_seen),
            false => LastLine::Waits,
        };
        let worker_ctx = ctx.clone();
        let result = tokio::task::spawn_blocking(move || {
            let result = reader.read_available(&worker_ctx.batches, worker_ctx.limits, last_line, &worker_ctx.cancel);
            (reader, result)
        })
        .await;
        let Ok((returned, result)) = result else { return };
        reader = returned;
        if reader.size_seen != changed.0 {
            changed = (reader.size_seen, Instant::now());
        }
        match result {
            Ok(lines) if lines > 0 => {
                debug!(path = %reader.path.display(), lines, offset = reader.offset, "Read lines.")
            }
            Ok(_) => {}
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                debug!(path = %reader.path.display(), "File is gone; no longer followed.");
                return;
            }
            Err(error) => warn!(path = %reader.path.display(), error = %error, "Cannot read file; will retry."),
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(ctx.poll_interval) => {}
        }
    }
}
