//! The embedded, durable backend: one sled tree, one `apply_batch` and one
//! flush per commit.

use std::path::Path;

use super::{Commit, Entry, Store, StoreError, keys};

/// Counters and checkpoints in a sled database on disk.
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`, caching up to `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|source| {
                let path = dir.display().to_string();
                match &source {
                    // sled reports a held lock only in the message.
                    sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                        StoreError::Locked { path }
                    }
                    sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => StoreError::Damaged {
                        path,
                        detail: source.to_string(),
                    },
                    _ => StoreError::Open { path, source },
                }
            })?;
        check_format(&db, dir)?;
        Ok(SledStore { db })
    }
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

impl Store for SledStore {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        // The aggregator is the only writer, so reading the current values
        // here cannot race with another increment.
        for (key, value) in commit.writes(|key| self.get(key))? {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key)?.map(|value| value.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.db
            .scan_prefix(prefix)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((key.to_vec(), value.to_vec()))
            })
            .collect()
    }
}
