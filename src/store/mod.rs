//! Storage: one atomic commit of counter increments plus source checkpoints,
//! and the reads the API needs. sled is the embedded default backend;
//! SQLite keeps the counts in one file of tables, PostgreSQL in a server
//! several nodes can share; the in-memory one serves `logproc process`,
//! which keeps nothing.
#![deny(missing_docs)]

pub mod copy;
pub mod keys;
mod kv;
mod memory;
mod postgres_store;
mod sled_store;
mod sql;
mod sqlite_store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;
pub use postgres_store::{PostgresStore, redact_url};
pub use sled_store::SledStore;
pub use sqlite_store::SqliteStore;

use crate::model::{Delta, LevelCounts};

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
    /// A SQL database refused an operation.
    #[error("the database {path}: {detail}")]
    Sql {
        /// The database (a file, or a URL without its password).
        path: String,
        /// What the database reported.
        detail: String,
    },
    /// The database's schema is newer than this build's.
    #[error(
        "the database {path} has schema version {found}; this logproc knows versions up to {expected}: run a newer logproc"
    )]
    Schema {
        /// The database.
        path: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        expected: i64,
    },
    /// The database server cannot be reached (down, or the connection
    /// broke); calls fail until it answers again.
    #[error("the database {database} cannot be reached: {detail}")]
    Unreachable {
        /// The database (its URL without the password).
        database: String,
        /// Why.
        detail: String,
    },
    /// Another live process uses this node id.
    #[error(
        "node id `{node}` is in use on the database {database} by {holder}; give each logproc its own node.id (LOGPROC_NODE__ID)"
    )]
    NodeInUse {
        /// The node id.
        node: String,
        /// The database (its URL without the password).
        database: String,
        /// Who holds it, as it wrote itself into the `nodes` table.
        holder: String,
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
    /// a commit whose outcome is unknown (a failed flush, a connection cut
    /// after COMMIT was sent) can be told applied or not.
    pub seq: u64,
    /// Invalid lines to add.
    pub invalid: u64,
    /// Per-level counts to add, by (service, component).
    pub components: BTreeMap<(String, String), LevelCounts>,
    /// Per-level counts to add, by (service, minute start in epoch ms).
    pub minutes: BTreeMap<(String, i64), LevelCounts>,
    /// New checkpoints by source; `None` removes the source's checkpoint.
    pub checkpoints: BTreeMap<String, Option<Checkpoint>>,
}

impl Commit {
    /// The counter increments of `delta`, and the checkpoints that go with it.
    pub fn new(seq: u64, delta: &Delta, checkpoints: BTreeMap<String, Option<Checkpoint>>) -> Commit {
        let mut components = BTreeMap::new();
        let mut minutes = BTreeMap::new();
        for (service, counts) in &delta.services {
            for (component, by_level) in &counts.components {
                components.insert((service.clone(), component.clone()), *by_level);
            }
            for (minute, by_level) in &counts.minutes {
                minutes.insert((service.clone(), *minute), *by_level);
            }
        }
        Commit {
            seq,
            invalid: delta.invalid,
            components,
            minutes,
            checkpoints,
        }
    }

    /// True when the commit writes nothing.
    pub fn is_empty(&self) -> bool {
        self.invalid == 0 && self.components.is_empty() && self.minutes.is_empty() && self.checkpoints.is_empty()
    }
}

/// Lines of one (service, component), per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentCounts {
    /// The service.
    pub service: String,
    /// The component, within the service.
    pub component: String,
    /// Lines per level ([`crate::model::Level::index`]).
    pub counts: LevelCounts,
}

/// Lines of one service in one minute, per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCounts {
    /// The minute's start, epoch ms.
    pub start_ms: i64,
    /// Lines per level ([`crate::model::Level::index`]).
    pub counts: LevelCounts,
}

/// A plugin a node runs, as the SQL backends' `plugins` table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginState {
    /// The plugin's name (what routes name).
    pub name: String,
    /// As the plugin describes itself.
    pub version: String,
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
    /// `built-in`, `file` or `upload`.
    pub source: &'static str,
    /// When it was loaded, epoch ms.
    pub loaded_at_ms: i64,
}

/// Where the aggregator commits and the API reads: counters and
/// checkpoints. Every backend keeps the same promise: a commit is applied
/// whole or not at all, durably, and once.
pub trait Store: Send + Sync + 'static {
    /// Applies `commit` atomically and durably: after a crash either all of it
    /// is visible or none. A commit whose number is already stored (its
    /// outcome was lost) is not applied again.
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;

    /// The number of this writer's last commit in the store (0: none yet).
    fn last_commit_seq(&self) -> Result<u64, StoreError>;

    /// A number that changes when any other process commits to this store;
    /// `None` when no other process writes to it (then only this one's
    /// commits change what it holds).
    fn others_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Whether the store answers (a database server may be away while
    /// nothing is committed).
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Records the plugins this node runs now, for users of the database
    /// (nothing reads them back).
    fn record_plugins(&self, plugins: &[PluginState]) -> Result<(), StoreError> {
        let _ = plugins;
        Ok(())
    }

    /// Lines that could not be parsed.
    fn invalid(&self) -> Result<u64, StoreError>;

    /// Lines by (service, component), ordered by service then component
    /// (bytewise); of `service` only, when given.
    fn components(&self, service: Option<&str>) -> Result<Vec<ComponentCounts>, StoreError>;

    /// The last `count` minutes of `service` that have lines, oldest first,
    /// without reading the others.
    fn last_minutes(&self, service: &str, count: usize) -> Result<Vec<MinuteCounts>, StoreError>;

    /// The minutes starting in `from_ms..to_ms` that have lines, oldest
    /// first: of `service`, or of every service summed; reading only the
    /// hours they are in.
    fn minutes_between(&self, service: Option<&str>, from_ms: i64, to_ms: i64)
    -> Result<Vec<MinuteCounts>, StoreError>;

    /// Each service's lines in the minutes starting in `from_ms..to_ms`
    /// (services with none left out), in no particular order.
    fn services_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, LevelCounts)>, StoreError>;

    /// Drops the per-minute counts of minutes before `cutoff_ms` (totals
    /// stay): whole hours only where minutes are kept by the hour. Returns
    /// how many rows or keys went.
    fn drop_minutes_before(&self, cutoff_ms: i64) -> Result<u64, StoreError>;

    /// The committed checkpoint of `source`.
    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError>;

    /// Every stored checkpoint of a file (this writer's).
    fn file_checkpoints(&self) -> Result<Vec<(FileKey, Checkpoint)>, StoreError>;
}

impl StoreError {
    /// A value under `key` that does not decode.
    pub fn corrupt(key: &[u8]) -> StoreError {
        StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
        }
    }
}
