//! The embedded, durable backend: one sled tree, one `apply_batch` and one
//! flush per commit.

use std::path::Path;

use super::{Commit, Entry, Store, StoreError, encode_checkpoint, keys};

/// Counters and checkpoints in a sled database on disk.
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 << 20)
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
        Ok(SledStore { db })
    }
}

impl Store for SledStore {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        // The aggregator is the only writer, so reading the current values
        // here cannot race with another increment.
        for (key, amount) in &commit.increments {
            let current = self.counter(key)?;
            batch.insert(key.as_slice(), &keys::encode_counter(current + amount)[..]);
        }
        for (source, checkpoint) in &commit.checkpoints {
            batch.insert(keys::checkpoint(source), encode_checkpoint(checkpoint));
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
