//! Storage: one atomic commit of counter increments plus source checkpoints,
//! point reads, prefix scans. sled is the embedded backend; the in-memory one
//! serves `logproc process`, which keeps nothing.
#![deny(missing_docs)]

pub mod keys;
mod memory;
mod sled_store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;
pub use sled_store::SledStore;

use crate::model::{Delta, LevelCounts, add_counts};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data directory.
    #[error(
        "the data directory {path} is in use by another process (its lock is held); stop the other logproc or choose another --data-dir"
    )]
    Locked {
        /// The data directory.
        path: String,
    },
    /// The data directory holds damaged or foreign data.
    #[error(
        "the data directory {path} is damaged or was written by an incompatible version ({detail}). Restore it from a backup, or move it aside to start with empty counts (every file would then be read again)"
    )]
    Damaged {
        /// The data directory.
        path: String,
        /// What sled reported.
        detail: String,
    },
    /// The data directory was written by another version of logproc.
    #[error(
        "the data directory {path} was written by {writer} (store format {found}); this logproc reads format {expected}. Run the logproc that wrote it, or move the directory aside to start with empty counts (every file would then be read again)"
    )]
    Format {
        /// The data directory.
        path: String,
        /// "an older logproc" or "a newer logproc".
        writer: &'static str,
        /// The format found.
        found: u64,
        /// The format this build reads and writes.
        expected: u64,
    },
    /// The data directory could not be opened.
    #[error("cannot open the data directory {path}")]
    Open {
        /// The data directory.
        path: String,
        /// What sled reported.
        source: sled::Error,
    },
    /// A read or write failed.
    #[error("storage error: {0}")]
    Backend(#[from] sled::Error),
    /// A stored value is not what its key says.
    #[error("corrupt value under key {key:?}")]
    Corrupt {
        /// The key, lossily decoded.
        key: String,
    },
    /// The file system of the data directory has too little room to open
    /// the store safely (sled writes as it opens; a write cut short by a
    /// full disk can damage it).
    #[error(
        "the data directory {path} has {free_mib} MiB free; the store needs at least {needed_mib} MiB (storage.min_free_mib) to be opened or written safely: free some space"
    )]
    NoSpace {
        /// The data directory.
        path: String,
        /// Free space for this process.
        free_mib: u64,
        /// storage.min_free_mib.
        needed_mib: u64,
    },
    /// A write failed; reads and writes wait until the store is opened
    /// again from disk, which every commit tries.
    #[error("the store is unavailable until a write succeeds again: {reason}")]
    Unavailable {
        /// Why the last write failed.
        reason: String,
    },
}

/// How far a file has been counted: every line before `offset` is in the
/// committed counters, none after it. Stored under the file's [`FileKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Byte offset just past the last counted line (of the decompressed
    /// stream, for a `.gz` file).
    pub offset: u64,
    /// The file's first bytes, since an inode can be reused by another file.
    pub head: Fingerprint,
    /// Where the file was when this checkpoint was taken: the path's bytes
    /// (a name need not be UTF-8; a `String` encodes the same).
    pub path: Vec<u8>,
    /// The path the file was first read under: it picks the file's parser
    /// (and whether it is compressed) whatever it is renamed to.
    pub first_path: Vec<u8>,
    /// The format the parser chose for the file from its first lines
    /// (`Some("")`: it had nothing to choose; `None`: not asked yet). Kept,
    /// so that a file's format never changes once it is read.
    pub format: Option<String>,
    /// What the file's lines have counted, up to `offset`.
    pub counts: FileCounts,
}

/// Lines of one file, counted since it was first read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    /// Lines parsed.
    pub parsed: u64,
    /// Lines counted invalid.
    pub invalid: u64,
    /// Parsed lines without a readable timestamp (counted at the time of
    /// reading).
    pub untimed: u64,
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

/// A hash of a file's first bytes (at most 1 KiB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// How many leading bytes the hash covers.
    pub len: u32,
    /// FNV-1a hash of those bytes.
    pub hash: u64,
}

/// Which file a checkpoint belongs to: device and inode, so that a file
/// keeps its checkpoint when it is renamed (rotated) within the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileKey {
    /// The key of the file `metadata` describes.
    pub fn of(metadata: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// The source id of the file in checkpoints and batch ordering.
    pub fn source(&self) -> String {
        format!("{FILE_SOURCE_PREFIX}{}:{}", self.dev, self.ino)
    }

    /// The key a [`FileKey::source`] string names.
    pub fn from_source(source: &str) -> Option<FileKey> {
        let (dev, ino) = source.strip_prefix(FILE_SOURCE_PREFIX)?.split_once(':')?;
        Some(FileKey {
            dev: dev.parse().ok()?,
            ino: ino.parse().ok()?,
        })
    }
}

/// Source ids of files start with this.
pub const FILE_SOURCE_PREFIX: &str = "file:";

/// What one commit writes, all or nothing.
#[derive(Debug, Default)]
pub struct Commit {
    /// This commit's number, one past the last's; stored with it, so that
    /// a commit whose flush failed can be told on disk or not.
    pub seq: u64,
    /// Invalid lines to add.
    pub invalid: u64,
    /// Per-level counts to add, by `c/` key.
    pub components: BTreeMap<Vec<u8>, LevelCounts>,
    /// Per-level counts to add by minute of the hour, by `m/` key.
    pub hours: BTreeMap<Vec<u8>, keys::HourCounts>,
    /// New checkpoints by source; `None` removes the source's checkpoint.
    pub checkpoints: BTreeMap<String, Option<Checkpoint>>,
}

impl Commit {
    /// The counter increments of `delta`, and the checkpoints that go with it.
    pub fn new(seq: u64, delta: &Delta, checkpoints: BTreeMap<String, Option<Checkpoint>>) -> Commit {
        let mut components = BTreeMap::new();
        let mut hours = BTreeMap::<_, keys::HourCounts>::new();
        for (service, counts) in &delta.services {
            for (component, by_level) in &counts.components {
                components.insert(keys::component(service, component), *by_level);
            }
            for (minute, by_level) in &counts.minutes {
                let (hour, minute_of_hour) = keys::hour_of_minute(service, *minute);
                hours.entry(hour).or_default().insert(minute_of_hour, *by_level);
            }
        }
        Commit {
            seq,
            invalid: delta.invalid,
            components,
            hours,
            checkpoints,
        }
    }

    /// True when the commit writes nothing.
    pub fn is_empty(&self) -> bool {
        self.invalid == 0 && self.components.is_empty() && self.hours.is_empty() && self.checkpoints.is_empty()
    }

    /// Every (key, new value) the commit writes, given `current` values:
    /// counters summed, checkpoints set (`None`: removed).
    fn writes(&self, current: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>) -> Result<Vec<Write>, StoreError> {
        let mut writes = Vec::with_capacity(self.components.len() + self.hours.len() + self.checkpoints.len() + 2);
        writes.push((keys::COMMIT_SEQ.to_vec(), Some(keys::encode_counter(self.seq).to_vec())));
        if self.invalid > 0 {
            let invalid = stored_counter(keys::INVALID, current(keys::INVALID)?)?;
            writes.push((
                keys::INVALID.to_vec(),
                Some(keys::encode_counter(invalid + self.invalid).to_vec()),
            ));
        }
        for (key, added) in &self.components {
            let mut counts = match current(key)? {
                None => LevelCounts::default(),
                Some(bytes) => keys::decode_levels(&bytes).ok_or_else(|| StoreError::corrupt(key))?,
            };
            add_counts(&mut counts, added);
            writes.push((key.clone(), Some(keys::encode_levels(&counts))));
        }
        for (key, added) in &self.hours {
            let mut hour = match current(key)? {
                None => keys::HourCounts::new(),
                Some(bytes) => keys::decode_hour(&bytes).ok_or_else(|| StoreError::corrupt(key))?,
            };
            for (minute, added) in added {
                add_counts(hour.entry(*minute).or_default(), added);
            }
            writes.push((key.clone(), Some(keys::encode_hour(&hour))));
        }
        for (source, checkpoint) in &self.checkpoints {
            writes.push((keys::checkpoint(source), checkpoint.as_ref().map(encode_checkpoint)));
        }
        Ok(writes)
    }
}

/// A key and its new value (`None`: removed).
type Write = (Vec<u8>, Option<Vec<u8>>);

/// A stored (key, value) pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A key-value store the aggregator commits to and the API reads from.
pub trait Store: Send + Sync + 'static {
    /// Applies `commit` atomically and durably: after a crash either all of it
    /// is visible or none.
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;

    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every (key, value) whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;

    /// The last `count` (key, value) pairs whose keys start with
    /// `prefix`, in key order: without reading the others.
    fn scan_prefix_last(&self, prefix: &[u8], count: usize) -> Result<Vec<Entry>, StoreError>;

    /// The committed checkpoint of `source`.
    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError> {
        let key = keys::checkpoint(source);
        self.get(&key)?
            .map(|bytes| decode_checkpoint(&bytes).ok_or_else(|| StoreError::corrupt(&key)))
            .transpose()
    }

    /// The counter under `key` (0 when absent).
    fn counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        stored_counter(key, self.get(key)?)
    }

    /// The sequence number of the last commit on disk (0: none yet).
    fn last_commit_seq(&self) -> Result<u64, StoreError> {
        self.counter(keys::COMMIT_SEQ)
    }
}

/// The counter stored under `key` as `bytes` (0 when absent).
fn stored_counter(key: &[u8], bytes: Option<Vec<u8>>) -> Result<u64, StoreError> {
    match bytes {
        None => Ok(0),
        Some(bytes) => keys::decode_counter(&bytes).ok_or_else(|| StoreError::corrupt(key)),
    }
}

impl StoreError {
    /// A value under `key` that does not decode.
    pub fn corrupt(key: &[u8]) -> StoreError {
        StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
        }
    }
}

/// Every stored checkpoint of a file, by key.
pub fn file_checkpoints(store: &dyn Store) -> Result<Vec<(FileKey, Checkpoint)>, StoreError> {
    let prefix = keys::checkpoint(FILE_SOURCE_PREFIX);
    store
        .scan_prefix(&prefix)?
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

/// The encoded value of a checkpoint.
fn encode_checkpoint(checkpoint: &Checkpoint) -> Vec<u8> {
    postcard::to_stdvec(checkpoint).expect("a checkpoint always encodes")
}

#[cfg(test)]
mod tests {
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
