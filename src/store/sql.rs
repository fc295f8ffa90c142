//! What the SQL backends (SQLite, PostgreSQL) share: counters by
//! component kept one row per level, named as in the API, folded back into
//! per-level arrays; counts by minute kept one row per minute with a column
//! per level (a fifth of the rows to write: they are most of a commit).

use super::{Checkpoint, ComponentCounts, FileKey, StoreError};
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

/// The per-level columns of `minutes`, in [`Level::ALL`]'s order.
pub const MINUTE_LEVEL_COLUMNS: &str = "trace, debug, info, warn, error, fatal, unknown";

/// `column = table.column + EXCLUDED.column` for each level column: the
/// upsert that adds a commit's minute to the stored one.
pub fn add_minute_levels(table: &str) -> String {
    MINUTE_LEVEL_COLUMNS
        .split(", ")
        .map(|column| format!("{column} = {table}.{column} + EXCLUDED.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column types of one backend, for [`minutes_migration`].
pub struct SqlTypes {
    pub name: &'static str,
    pub minute: &'static str,
    pub count: &'static str,
    /// After a table's closing parenthesis.
    pub table_options: &'static str,
}

/// Schema 3: counts by minute in `minutes`, one row per (service, minute)
/// with a column per level; schema 2's `minute_counts` rows summed into it,
/// and the table replaced by a view of its shape (`service, minute, level,
/// n`, counts above 0), so queries written against it still work.
pub fn minutes_migration(types: &SqlTypes) -> String {
    let SqlTypes {
        name,
        minute,
        count,
        table_options,
    } = types;
    let columns: Vec<String> = MINUTE_LEVEL_COLUMNS
        .split(", ")
        .map(|column| format!("{column} {count} NOT NULL DEFAULT 0,"))
        .collect();
    let sums: Vec<String> = Level::ALL
        .iter()
        .map(|level| format!("sum(CASE level WHEN '{}' THEN n ELSE 0 END)", level.name()))
        .collect();
    let view: Vec<String> = Level::ALL
        .iter()
        .zip(MINUTE_LEVEL_COLUMNS.split(", "))
        .map(|(level, column)| {
            format!(
                "SELECT service, minute, '{}' AS level, {column} AS n FROM minutes WHERE {column} > 0",
                level.name()
            )
        })
        .collect();
    format!(
        "CREATE TABLE minutes (service {name} NOT NULL, minute {minute} NOT NULL, {} PRIMARY KEY (service, minute)){table_options};
         INSERT INTO minutes (service, minute, {MINUTE_LEVEL_COLUMNS})
             SELECT service, minute, {} FROM minute_counts GROUP BY service, minute;
         DROP TABLE minute_counts;
         CREATE VIEW minute_counts AS {};",
        columns.join(" "),
        sums.join(", "),
        view.join(" UNION ALL ")
    )
}

/// The level columns of `minutes`, each summed (as a 64-bit integer, which
/// PostgreSQL's `sum` of bigints is not).
pub fn summed_minute_levels() -> String {
    MINUTE_LEVEL_COLUMNS
        .split(", ")
        .map(|column| format!("CAST(sum({column}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `minutes` row's level columns as per-level counts.
pub fn minute_levels(columns: [i64; 7]) -> LevelCounts {
    columns.map(|n| n as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_columns_are_the_levels_in_order() {
        let names: Vec<String> = Level::ALL.iter().map(|level| level.name().to_lowercase()).collect();
        assert_eq!(MINUTE_LEVEL_COLUMNS, names.join(", "));
    }
}
