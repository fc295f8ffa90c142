//! `logproc store copy`: one store's counts and file checkpoints written
//! into another in one commit, so that a node moves backends (sled to
//! PostgreSQL, say) without reading any file again.

use std::collections::BTreeMap;

use super::{Commit, Store, StoreError};

/// What a copy wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Parsed lines, all levels.
    pub lines: u64,
    /// Invalid lines.
    pub invalid: u64,
    /// (service, component) counters.
    pub components: usize,
    /// (service, minute) counters.
    pub minutes: usize,
    /// File checkpoints.
    pub files: usize,
}

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The destination has commits of this node already: adding the counts
    /// again would count lines twice.
    #[error(
        "the destination already holds this node's counts (its commit number is {0}); copying would count its lines twice. Copy into an empty store, or (PostgreSQL) under a node id that has not committed there"
    )]
    NotEmpty(u64),
}

/// Adds every counter of `from` to `to` and sets `from`'s file
/// checkpoints there, in one commit of `to`.
pub fn copy(from: &dyn Store, to: &dyn Store) -> Result<Copied, CopyError> {
    let seq = to.last_commit_seq()?;
    if seq > 0 {
        return Err(CopyError::NotEmpty(seq));
    }
    let mut commit = Commit {
        seq: 1,
        invalid: from.invalid()?,
        ..Commit::default()
    };
    let mut copied = Copied {
        invalid: commit.invalid,
        ..Copied::default()
    };
    // Ordered by service: each service's minutes are read once.
    let mut previous: Option<String> = None;
    for counted in from.components(None)? {
        copied.lines += counted.counts.iter().sum::<u64>();
        if previous.as_ref() != Some(&counted.service) {
            for minute in from.last_minutes(&counted.service, usize::MAX)? {
                commit
                    .minutes
                    .insert((counted.service.clone(), minute.start_ms), minute.counts);
            }
            previous = Some(counted.service.clone());
        }
        commit
            .components
            .insert((counted.service, counted.component), counted.counts);
    }
    commit.checkpoints = from
        .file_checkpoints()?
        .into_iter()
        .map(|(file, checkpoint)| (file.source(), Some(checkpoint)))
        .collect::<BTreeMap<_, _>>();
    copied.components = commit.components.len();
    copied.minutes = commit.minutes.len();
    copied.files = commit.checkpoints.len();
    to.commit(&commit)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Checkpoint, FileCounts, FileKey, Fingerprint, MemoryStore};

    #[test]
    fn everything_is_copied_once() {
        let from = MemoryStore::default();
        let mut commit = Commit {
            seq: 1,
            invalid: 4,
            ..Commit::default()
        };
        commit
            .components
            .insert(("a".into(), "x".into()), [1, 0, 2, 0, 0, 0, 0]);
        commit
            .components
            .insert(("a".into(), "y".into()), [0, 0, 0, 0, 3, 0, 0]);
        commit
            .components
            .insert(("b".into(), "x".into()), [0, 5, 0, 0, 0, 0, 0]);
        commit.minutes.insert(("a".into(), 60_000), [1, 0, 2, 0, 3, 0, 0]);
        commit.minutes.insert(("b".into(), -60_000), [0, 5, 0, 0, 0, 0, 0]);
        let checkpoint = Checkpoint {
            offset: 9,
            head: Fingerprint { len: 1, hash: 2 },
            path: b"f".to_vec(),
            first_path: b"f".to_vec(),
            format: None,
            counts: FileCounts::default(),
        };
        commit.checkpoints.insert("file:1:2".into(), Some(checkpoint.clone()));
        from.commit(&commit).unwrap();

        let to = MemoryStore::default();
        let copied = copy(&from, &to).unwrap();
        assert_eq!(
            copied,
            Copied {
                lines: 11,
                invalid: 4,
                components: 3,
                minutes: 2,
                files: 1
            }
        );
        assert_eq!(to.components(None).unwrap(), from.components(None).unwrap());
        assert_eq!(to.last_minutes("b", 9).unwrap(), from.last_minutes("b", 9).unwrap());
        assert_eq!(
            to.file_checkpoints().unwrap(),
            [(FileKey { dev: 1, ino: 2 }, checkpoint)]
        );
        assert_eq!(to.invalid().unwrap(), 4);
        assert!(matches!(copy(&from, &to), Err(CopyError::NotEmpty(1))));
    }
}
