//! A store that lives in memory, for one-shot runs (`logproc process`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::kv::{self, Entry, KvStore};
use super::{Commit, StoreError};

/// Keys and values in a sorted map; nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl KvStore for MemoryStore {
    fn apply(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().expect("store lock poisoned");
        for (key, value) in kv::writes(commit, |key| Ok(entries.get(key).cloned()))? {
            match value {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.lock().expect("store lock poisoned").get(key).cloned())
    }

    fn scan_prefix_last(&self, prefix: &[u8], count: usize) -> Result<Vec<Entry>, StoreError> {
        let mut last = self.scan_prefix(prefix)?;
        last.drain(..last.len().saturating_sub(count));
        Ok(last)
    }

    fn remove(&self, keys: Vec<Vec<u8>>) -> Result<u64, StoreError> {
        let mut entries = self.entries.lock().expect("store lock poisoned");
        Ok(keys.iter().filter(|key| entries.remove(*key).is_some()).count() as u64)
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let entries = self.entries.lock().expect("store lock poisoned");
        Ok(entries
            .range(from.to_vec()..to.to_vec())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let entries = self.entries.lock().expect("store lock poisoned");
        Ok(entries
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }
}
