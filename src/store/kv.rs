//! Key-value backends (sled, memory): the layout of [`keys`] over a sorted
//! map of bytes, and the [`Store`] every such map provides.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    Checkpoint, Commit, ComponentCounts, FILE_SOURCE_PREFIX, FileCounts, FileKey, Fingerprint, MinuteCounts, Store,
    StoreError, keys,
};
use crate::model::{LevelCounts, add_counts};

/// A sorted map of bytes that takes a commit's writes at once.
pub trait KvStore: Send + Sync + 'static {
    /// Applies `commit` atomically and durably (see [`Store::commit`]),
    /// through [`writes`].
    fn apply(&self, commit: &Commit) -> Result<(), StoreError>;

    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every (key, value) whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// The last `count` (key, value) pairs whose keys start with
    /// `prefix`, in key order: without reading the others.
    fn scan_prefix_last(&self, prefix: &[u8], count: usize) -> Result<Vec<Entry>, StoreError>;

    /// Every (key, value) with `from <= key < to`, in key order.
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// Removes `keys` at once, durably; safe beside commits (the map
    /// serializes the two). Returns how many it removed: none while the
    /// map is closed after a failed write.
    fn remove(&self, keys: Vec<Vec<u8>>) -> Result<u64, StoreError>;

    /// The counter under `key` (0 when absent).
    fn counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        stored_counter(key, self.get(key)?)
    }
}

/// A stored (key, value) pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What the per-minute reads share.
trait MinuteReads: KvStore + Store {
    /// Every service with lines, once each.
    fn services(&self) -> Result<Vec<String>, StoreError> {
        // In order of service: the same names come together.
        let mut services: Vec<String> = self
            .components(None)?
            .into_iter()
            .map(|counts| counts.service)
            .collect();
        services.dedup();
        Ok(services)
    }

    /// `service`'s minutes starting in `from_ms..to_ms`, from the hour
    /// keys that hold them.
    fn service_minutes(&self, service: &str, from_ms: i64, to_ms: i64) -> Result<Vec<MinuteCounts>, StoreError> {
        let prefix = keys::hour_service_prefix(service);
        let first_hour = from_ms.div_euclid(keys::HOUR_MS) * keys::HOUR_MS;
        let mut minutes = Vec::new();
        if from_ms >= to_ms {
            return Ok(minutes);
        }
        for (key, value) in self.scan_range(&keys::hour(service, first_hour), &keys::hour(service, to_ms))? {
            let hour_ms = keys::parse_hour(&key, &prefix).ok_or_else(|| StoreError::corrupt(&key))?;
            let hour = keys::decode_hour(&value).ok_or_else(|| StoreError::corrupt(&key))?;
            minutes.extend(
                hour.into_iter()
                    .map(|(minute, counts)| MinuteCounts {
                        start_ms: hour_ms + i64::from(minute) * 60_000,
                        counts,
                    })
                    .filter(|minute| (from_ms..to_ms).contains(&minute.start_ms)),
            );
        }
        Ok(minutes)
    }
}

impl<S: KvStore> MinuteReads for S {}

/// A key and its new value (`None`: removed).
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// Every (key, new value) `commit` writes, given `current` values:
/// counters summed, checkpoints set (`None`: removed), the commit's number.
pub fn writes(
    commit: &Commit,
    current: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Vec<Write>, StoreError> {
    let mut hours = std::collections::BTreeMap::<_, keys::HourCounts>::new();
    for ((service, minute), by_level) in &commit.minutes {
        let (hour, minute_of_hour) = keys::hour_of_minute(service, *minute);
        hours.entry(hour).or_default().insert(minute_of_hour, *by_level);
    }
    let mut writes = Vec::with_capacity(commit.components.len() + hours.len() + commit.checkpoints.len() + 2);
    writes.push((
        keys::COMMIT_SEQ.to_vec(),
        Some(keys::encode_counter(commit.seq).to_vec()),
    ));
    if commit.invalid > 0 {
        let invalid = stored_counter(keys::INVALID, current(keys::INVALID)?)?;
        writes.push((
            keys::INVALID.to_vec(),
            Some(keys::encode_counter(invalid + commit.invalid).to_vec()),
        ));
    }
    for ((service, component), added) in &commit.components {
        let key = keys::component(service, component);
        let mut counts = match current(&key)? {
            None => LevelCounts::default(),
            Some(bytes) => keys::decode_levels(&bytes).ok_or_else(|| StoreError::corrupt(&key))?,
        };
        add_counts(&mut counts, added);
        writes.push((key, Some(keys::encode_levels(&counts))));
    }
    for (key, added) in hours {
        let mut hour = match current(&key)? {
            None => keys::HourCounts::new(),
            Some(bytes) => keys::decode_hour(&bytes).ok_or_else(|| StoreError::corrupt(&key))?,
        };
        for (minute, added) in &added {
            add_counts(hour.entry(*minute).or_default(), added);
        }
        writes.push((key, Some(keys::encode_hour(&hour))));
    }
    for (source, checkpoint) in &commit.checkpoints {
        writes.push((keys::checkpoint(source), checkpoint.as_ref().map(encode_checkpoint)));
    }
    Ok(writes)
}

impl<T: KvStore> Store for T {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.apply(commit)
    }

    fn last_commit_seq(&self) -> Result<u64, StoreError> {
        self.counter(keys::COMMIT_SEQ)
    }

    fn invalid(&self) -> Result<u64, StoreError> {
        self.counter(keys::INVALID)
    }

    fn components(&self, service: Option<&str>) -> Result<Vec<ComponentCounts>, StoreError> {
        let prefix = match service {
            Some(service) => keys::component_service_prefix(service),
            None => keys::COMPONENT_PREFIX.to_vec(),
        };
        self.scan_prefix(&prefix)?
            .into_iter()
            .map(|(key, value)| {
                let (service, component) = keys::parse_component(&key).ok_or_else(|| StoreError::corrupt(&key))?;
                Ok(ComponentCounts {
                    service: service.to_owned(),
                    component: component.to_owned(),
                    counts: keys::decode_levels(&value).ok_or_else(|| StoreError::corrupt(&key))?,
                })
            })
            .collect()
    }

    fn last_minutes(&self, service: &str, count: usize) -> Result<Vec<MinuteCounts>, StoreError> {
        let prefix = keys::hour_service_prefix(service);
        let mut minutes = Vec::new();
        // Keys come in time order, one per hour, each with its minutes in
        // order; each has at least one minute, so the last `count` keys
        // hold the last `count` minutes.
        for (key, value) in self.scan_prefix_last(&prefix, count)? {
            let hour_ms = keys::parse_hour(&key, &prefix).ok_or_else(|| StoreError::corrupt(&key))?;
            let hour = keys::decode_hour(&value).ok_or_else(|| StoreError::corrupt(&key))?;
            minutes.extend(hour.into_iter().map(|(minute, counts)| MinuteCounts {
                start_ms: hour_ms + i64::from(minute) * 60_000,
                counts,
            }));
        }
        minutes.drain(..minutes.len().saturating_sub(count));
        Ok(minutes)
    }

    fn minutes_between(
        &self,
        service: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MinuteCounts>, StoreError> {
        let services = match service {
            Some(service) => vec![service.to_owned()],
            None => self.services()?,
        };
        let mut minutes: BTreeMap<i64, LevelCounts> = BTreeMap::new();
        for service in &services {
            for minute in self.service_minutes(service, from_ms, to_ms)? {
                add_counts(minutes.entry(minute.start_ms).or_default(), &minute.counts);
            }
        }
        Ok(minutes
            .into_iter()
            .map(|(start_ms, counts)| MinuteCounts { start_ms, counts })
            .collect())
    }

    fn services_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, LevelCounts)>, StoreError> {
        let mut services = Vec::new();
        for service in self.services()? {
            let mut total = LevelCounts::default();
            for minute in self.service_minutes(&service, from_ms, to_ms)? {
                add_counts(&mut total, &minute.counts);
            }
            if total.iter().any(|&n| n > 0) {
                services.push((service, total));
            }
        }
        Ok(services)
    }

    fn drop_minutes_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        // Hours that end by the cutoff: their keys start before this one's.
        let last_start = cutoff_ms.div_euclid(keys::HOUR_MS) * keys::HOUR_MS - keys::HOUR_MS;
        let mut old = Vec::new();
        for service in self.services()? {
            let (from, to) = (keys::hour(&service, i64::MIN), keys::hour(&service, last_start + 1));
            old.extend(self.scan_range(&from, &to)?.into_iter().map(|(key, _)| key));
        }
        match old.is_empty() {
            true => Ok(0),
            false => self.remove(old),
        }
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError> {
        let key = keys::checkpoint(source);
        self.get(&key)?
            .map(|bytes| decode_checkpoint(&bytes).ok_or_else(|| StoreError::corrupt(&key)))
            .transpose()
    }

    fn file_checkpoints(&self) -> Result<Vec<(FileKey, Checkpoint)>, StoreError> {
        let prefix = keys::checkpoint(FILE_SOURCE_PREFIX);
        self.scan_prefix(&prefix)?
            .into_iter()
            .map(|(key, value)| {
                let source = std::str::from_utf8(&key[keys::CHECKPOINT_PREFIX.len()..]).ok();
                let file = source
                    .and_then(FileKey::from_source)
                    .ok_or_else(|| StoreError::corrupt(&key))?;
                let checkpoint = decode_checkpoint(&value).ok_or_else(|| StoreError::corrupt(&key))?;
                Ok((file, checkpoint))
            })
            .collect()
    }
}

/// The counter stored under `key` as `bytes` (0 when absent).
fn stored_counter(key: &[u8], bytes: Option<Vec<u8>>) -> Result<u64, StoreError> {
    match bytes {
        None => Ok(0),
        Some(bytes) => keys::decode_counter(&bytes).ok_or_else(|| StoreError::corrupt(key)),
    }
}

/// The encoded value of a checkpoint.
fn encode_checkpoint(checkpoint: &Checkpoint) -> Vec<u8> {
    postcard::to_stdvec(checkpoint).expect("a checkpoint always encodes")
}

/// A checkpoint as versions before formats stored it.
#[derive(Deserialize)]
struct CheckpointV1 {
    offset: u64,
    head: Fingerprint,
    path: Vec<u8>,
    first_path: Vec<u8>,
}

/// Decodes a stored checkpoint, of this version or the one before.
fn decode_checkpoint(bytes: &[u8]) -> Option<Checkpoint> {
    if let Ok(checkpoint) = postcard::from_bytes(bytes) {
        return Some(checkpoint);
    }
    let old: CheckpointV1 = postcard::from_bytes(bytes).ok()?;
    Some(Checkpoint {
        offset: old.offset,
        head: old.head,
        path: old.path,
        first_path: old.first_path,
        format: None,
        counts: FileCounts::default(),
    })
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[test]
    fn checkpoints_of_the_version_before_formats_still_decode() {
        #[derive(Serialize)]
        struct Before {
            offset: u64,
            head: Fingerprint,
            path: String,
            first_path: String,
        }
        let head = Fingerprint { len: 10, hash: 42 };
        let old = postcard::to_stdvec(&Before {
            offset: 7,
            head,
            path: "a.log".into(),
            first_path: "b.log".into(),
        })
        .unwrap();
        let decoded = decode_checkpoint(&old).unwrap();
        assert_eq!((decoded.offset, decoded.head, decoded.format), (7, head, None));
        assert_eq!(decoded.counts, FileCounts::default());
        let current = Checkpoint {
            format: Some("syslog".into()),
            counts: FileCounts {
                parsed: 3,
                invalid: 1,
                untimed: 2,
            },
            ..decoded
        };
        assert_eq!(decode_checkpoint(&encode_checkpoint(&current)), Some(current));
        assert_eq!(decode_checkpoint(b"\xff"), None);
    }
}
