//! The embedded, durable backend: one sled tree, one `apply_batch` and one
//! flush per commit.
//!
//! A commit that fails (a full disk, an I/O error) leaves sled holding
//! writes in memory that are not on disk, and sled refuses every later
//! write: the database is closed, reads answer "unavailable" rather than
//! counts that a restart would lose, and the next commit opens it again
//! from disk once there is room (`storage.min_free_mib`), so the service
//! recovers by itself. Reads wait while a commit is written, so they never
//! see one that is not yet on disk.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::kv::{self, Entry, KvStore};
use super::{Commit, StoreError, keys};

/// Counters and checkpoints in a sled database on disk.
pub struct SledStore {
    dir: PathBuf,
    cache_bytes: u64,
    min_free_bytes: u64,
    state: RwLock<State>,
}

enum State {
    Open(sled::Db),
    /// Closed after a failed write, for this reason.
    Failed(String),
}

impl SledStore {
    /// Opens (or creates) the database in `dir`, caching up to
    /// `cache_bytes`, if its file system has `min_free_bytes` free (else
    /// nothing in `dir` is touched).
    pub fn open(dir: &Path, cache_bytes: u64, min_free_bytes: u64) -> Result<SledStore, StoreError> {
        let db = open_db(dir, cache_bytes, min_free_bytes)?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            cache_bytes,
            min_free_bytes,
            state: RwLock::new(State::Open(db)),
        })
    }

    /// Runs `read` on the open database.
    fn read<T>(&self, read: impl FnOnce(&sled::Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &*self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            State::Open(db) => read(db),
            State::Failed(reason) => Err(StoreError::Unavailable { reason: reason.clone() }),
        }
    }
}

/// Opens sled in `dir` and checks what it holds.
fn open_db(dir: &Path, cache_bytes: u64, min_free_bytes: u64) -> Result<sled::Db, StoreError> {
    check_free_space(dir, min_free_bytes)?;
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_bytes)
        .open()
        .map_err(|source| {
            let path = dir.display().to_string();
            match &source {
                // sled reports a held lock only in the message.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => StoreError::Locked { path },
                sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => StoreError::Damaged {
                    path,
                    detail: source.to_string(),
                },
                _ => StoreError::Open { path, source },
            }
        })?;
    check_format(&db, dir)?;
    Ok(db)
}

/// Refuses to go on when the file system of `dir` (or of its nearest
/// existing parent, for a store still to be made) has less than
/// `min_free_bytes` free.
fn check_free_space(dir: &Path, min_free_bytes: u64) -> Result<(), StoreError> {
    use std::os::unix::ffi::OsStrExt as _;
    let existing = dir.ancestors().find(|path| path.exists()).unwrap_or(Path::new("."));
    let Ok(path) = std::ffi::CString::new(existing.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: statvfs writes only the struct passed; the path is a C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        // Unknown: opening will say what is wrong, if anything.
        return Ok(());
    }
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < min_free_bytes {
        return Err(StoreError::NoSpace {
            path: dir.display().to_string(),
            free_mib: free >> 20,
            needed_mib: min_free_bytes >> 20,
        });
    }
    Ok(())
}

/// A file next to sled's that says a store lives here, and in which
/// format. sled takes a database it cannot read for a crash's torn write and
/// opens it empty; the marker tells that apart from a new store.
const MARKER: &str = "logproc-store";

/// Refuses a store written in another format or found empty where one was;
/// marks a new store with our format.
fn check_format(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let path = dir.display().to_string();
    let marker = dir.join(MARKER);
    let marked = match std::fs::read_to_string(&marker) {
        Ok(text) => Some(
            text.trim()
                .strip_prefix("format ")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| StoreError::Damaged {
                    path: path.clone(),
                    detail: format!("{} does not hold a store format: {text:?}", marker.display()),
                })?,
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(StoreError::Open {
                path,
                source: error.into(),
            });
        }
    };
    let stored = match db.get(keys::FORMAT)? {
        Some(bytes) => Some(keys::decode_counter(&bytes).ok_or_else(|| StoreError::corrupt(keys::FORMAT))?),
        // Stores from before format markers hold data but no format key.
        None if !db.is_empty() => Some(1),
        None => None,
    };
    let found = match (marked, stored) {
        (None, None) => {
            db.insert(keys::FORMAT, &keys::encode_counter(keys::FORMAT_VERSION)[..])?;
            db.flush()?;
            keys::FORMAT_VERSION
        }
        (Some(_), None) => {
            return Err(StoreError::Damaged {
                path,
                detail: "its database came up empty although it has held counts: its files were damaged or replaced"
                    .into(),
            });
        }
        (_, Some(found)) => found,
    };
    if found != keys::FORMAT_VERSION {
        return Err(StoreError::Format {
            path,
            writer: if found < keys::FORMAT_VERSION {
                "an older logproc"
            } else {
                "a newer logproc"
            },
            found,
            expected: keys::FORMAT_VERSION,
        });
    }
    if marked.is_none() {
        write_marker(&marker).map_err(|error| StoreError::Open {
            path,
            source: error.into(),
        })?;
    }
    Ok(())
}

/// Writes the marker durably: a crash leaves either no marker or a whole one.
fn write_marker(marker: &Path) -> std::io::Result<()> {
    crate::atomic_file::write(marker, &[format!("format {}\n", keys::FORMAT_VERSION).as_bytes()])
}

impl KvStore for SledStore {
    fn apply(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let State::Failed(_) = &*state {
            let db = open_db(&self.dir, self.cache_bytes, self.min_free_bytes)?;
            tracing::info!(dir = ?self.dir, "The store is open again; committing what waited.");
            // The commit that failed may have reached the disk all the same.
            let on_disk = keys::decode_counter(&db.get(keys::COMMIT_SEQ)?.unwrap_or_default()).unwrap_or(0);
            *state = State::Open(db);
            if on_disk >= commit.seq {
                return Ok(());
            }
        }
        let State::Open(db) = &*state else {
            unreachable!("opened above")
        };
        let written = (|| {
            let mut batch = sled::Batch::default();
            // The aggregator is the only writer, so reading the current
            // values here cannot race with another increment.
            for (key, value) in kv::writes(commit, |key| Ok(db.get(key)?.map(|value| value.to_vec())))? {
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            db.apply_batch(batch)?;
            db.flush()?;
            Ok(())
        })();
        if let Err(error @ (StoreError::Backend(_) | StoreError::Open { .. })) = &written {
            // What sled holds in memory is not on disk, and it takes no
            // more writes: close it; the next commit opens it again.
            *state = State::Failed(error.to_string());
        }
        written
    }

    fn remove(&self, keys: Vec<Vec<u8>>) -> Result<u64, StoreError> {
        // Under the commits' lock: a commit's reads and writes of a key do
        // not straddle its removal.
        let state = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let State::Open(db) = &*state else {
            return Ok(0);
        };
        let removed = keys.len() as u64;
        let mut batch = sled::Batch::default();
        for key in keys {
            batch.remove(key);
        }
        db.apply_batch(batch)?;
        db.flush()?;
        Ok(removed)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|db| Ok(db.get(key)?.map(|value| value.to_vec())))
    }

    fn scan_prefix_last(&self, prefix: &[u8], count: usize) -> Result<Vec<Entry>, StoreError> {
        self.read(|db| {
            let mut last = db
                .scan_prefix(prefix)
                .rev()
                .take(count)
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.to_vec(), value.to_vec()))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            last.reverse();
            Ok(last)
        })
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.read(|db| {
            db.range(from..to)
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.to_vec(), value.to_vec()))
                })
                .collect()
        })
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.read(|db| {
            db.scan_prefix(prefix)
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.to_vec(), value.to_vec()))
                })
                .collect()
        })
    }
}
