//! What the SQL backends (SQLite, PostgreSQL) share: counters kept one row
//! per level, named as in the API, folded back into per-level arrays.

use super::{Checkpoint, ComponentCounts, FileKey, MinuteCounts, StoreError};
use crate::model::{Level, LevelCounts};

/// The levels of `counts` above 0, by name, with their counts: the rows
/// a commit adds to.
pub fn counted_levels(counts: &LevelCounts) -> impl Iterator<Item = (&'static str, i64)> + '_ {
    Level::ALL.into_iter().filter_map(|level| {
        let n = counts[level.index()];
        (n > 0).then_some((level.name(), n as i64))
    })
}

/// Levels by the names the `level` columns hold.
fn level_index(name: &str) -> Option<usize> {
    Level::ALL.iter().position(|level| level.name() == name)
}

/// Rows of `(service, component, level, n)` ordered by service and
/// component, as per-level counts.
pub fn fold_components(rows: impl IntoIterator<Item = (String, String, String, i64)>) -> Vec<ComponentCounts> {
    let mut out: Vec<ComponentCounts> = Vec::new();
    for (service, component, level, n) in rows {
        let same = out
            .last()
            .is_some_and(|last| last.service == service && last.component == component);
        if !same {
            out.push(ComponentCounts {
                service,
                component,
                counts: LevelCounts::default(),
            });
        }
        if let (Some(last), Some(index)) = (out.last_mut(), level_index(&level)) {
            last.counts[index] += n as u64;
        }
    }
    out
}

/// Rows of `(minute start in epoch seconds, level, n)` ordered by minute,
/// as per-level counts.
pub fn fold_minutes(rows: impl IntoIterator<Item = (i64, String, i64)>) -> Vec<MinuteCounts> {
    let mut out: Vec<MinuteCounts> = Vec::new();
    for (minute, level, n) in rows {
        let start_ms = minute * 1000;
        if out.last().is_none_or(|last| last.start_ms != start_ms) {
            out.push(MinuteCounts {
                start_ms,
                counts: LevelCounts::default(),
            });
        }
        if let (Some(last), Some(index)) = (out.last_mut(), level_index(&level)) {
            last.counts[index] += n as u64;
        }
    }
    out
}

/// The columns of a checkpoint row, in the order both backends read them.
pub const CHECKPOINT_COLUMNS: &str =
    "byte_offset, head_len, head_hash, path, first_path, format, parsed, invalid, untimed";

/// Checkpoint rows by source id, as the files they belong to.
pub fn file_checkpoints(rows: Vec<(String, Checkpoint)>) -> Result<Vec<(FileKey, Checkpoint)>, StoreError> {
    rows.into_iter()
        .map(|(source, checkpoint)| {
            let file = FileKey::from_source(&source).ok_or_else(|| StoreError::corrupt(source.as_bytes()))?;
            Ok((file, checkpoint))
        })
        .collect()
}

/// `error` of the database at `path` (a file, or a URL without its password).
pub fn sql_error(path: &str, error: impl ToString) -> StoreError {
    StoreError::Sql {
        path: path.to_owned(),
        detail: error.to_string(),
    }
}
