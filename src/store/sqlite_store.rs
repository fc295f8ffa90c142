//! SQLite: counters and checkpoints in relational tables in one file, written in
//! WAL mode by one connection (one writer), read by another. The file
//! opens in the `sqlite3` shell while the service runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{
    CHECKPOINT_COLUMNS, MINUTE_LEVEL_COLUMNS, SqlTypes, add_minute_levels, counted_levels, file_checkpoints,
    fold_components, minute_levels, minutes_migration, sql_error, summed_minute_levels,
};
use super::{
    Checkpoint, Commit, ComponentCounts, FileCounts, FileKey, Fingerprint, MinuteCounts, PluginState, Store, StoreError,
};
use crate::model::LevelCounts;

/// The schema version this build writes; `logproc_schema` holds the one a
/// file has.
pub const SCHEMA_VERSION: i64 = 3;

/// Migrations, one per version: index 0 makes version 1; the last is
/// [`minutes_migration`].
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE counts (
    service   TEXT NOT NULL,
    component TEXT NOT NULL,
    level     TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (service, component, level)
) WITHOUT ROWID;
CREATE TABLE minute_counts (
    service TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    level   TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (service, minute, level)
) WITHOUT ROWID;
CREATE TABLE totals (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
);
CREATE TABLE nodes (
    node         TEXT PRIMARY KEY,
    commit_seq   INTEGER NOT NULL,
    committed_at INTEGER
);
CREATE TABLE checkpoints (
    node        TEXT NOT NULL,
    source      TEXT NOT NULL,
    byte_offset INTEGER NOT NULL,
    head_len    INTEGER NOT NULL,
    head_hash   INTEGER NOT NULL,
    path        BLOB NOT NULL,
    first_path  BLOB NOT NULL,
    format      TEXT,
    parsed      INTEGER NOT NULL,
    invalid     INTEGER NOT NULL,
    untimed     INTEGER NOT NULL,
    PRIMARY KEY (node, source)
) WITHOUT ROWID;
",
    "
CREATE TABLE plugins (
    node      TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    source    TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    PRIMARY KEY (node, name)
) WITHOUT ROWID;
",
];

const TYPES: SqlTypes = SqlTypes {
    name: "TEXT",
    minute: "INTEGER",
    count: "INTEGER",
    table_options: " WITHOUT ROWID",
};

/// Counters and checkpoints in a SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    node: String,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    /// An exclusive `flock` on the file while this process uses it: a
    /// second logproc on one file is refused (SQLite's own locks are
    /// `fcntl` locks, which `flock` does not touch on Linux).
    _lock: std::fs::File,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` for node `node`.
    pub fn open(path: &Path, node: &str) -> Result<SqliteStore, StoreError> {
        let text = path.display().to_string();
        let sql = |error: rusqlite::Error| sql_error(&text, error);
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| sql_error(&text, error))?;
        }
        let lock = lock_file(path)?;
        let writer = Connection::open(path).map_err(sql)?;
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(sql)?;
        migrate(&writer, &text)?;
        writer
            .execute(
                "INSERT INTO nodes (node, commit_seq) VALUES (?1, 0) ON CONFLICT (node) DO NOTHING",
                params![node],
            )
            .map_err(sql)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        reader.execute_batch("PRAGMA busy_timeout = 5000;").map_err(sql)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            node: node.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            _lock: lock,
        })
    }

    fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let reader = self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&reader).map_err(|error| self.error(error))
    }

    fn error(&self, error: rusqlite::Error) -> StoreError {
        sql_error(&self.path.display().to_string(), error)
    }
}

/// A row of `minute` (epoch seconds), then the seven level columns.
fn minute_row(row: &rusqlite::Row) -> rusqlite::Result<MinuteCounts> {
    Ok(MinuteCounts {
        start_ms: row.get::<_, i64>(0)? * 1000,
        counts: row_levels(row)?,
    })
}

/// The seven level columns that follow a row's first.
fn row_levels(row: &rusqlite::Row) -> rusqlite::Result<LevelCounts> {
    let mut levels = [0i64; 7];
    for (index, n) in levels.iter_mut().enumerate() {
        *n = row.get(index + 1)?;
    }
    Ok(minute_levels(levels))
}

/// Epoch ms as the seconds of `minute` that are at or after it: `minute >=
/// ceil_seconds(ms)` is `minute * 1000 >= ms`, on the column's index.
fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
}

/// Takes the file's exclusive lock, or says who holds it.
fn lock_file(path: &Path) -> Result<std::fs::File, StoreError> {
    use std::os::fd::AsRawFd as _;
    let text = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|error| sql_error(&text, error))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(StoreError::Locked { path: text });
    }
    Ok(file)
}

/// Brings the schema to [`SCHEMA_VERSION`], refusing a newer one.
fn migrate(connection: &Connection, path: &str) -> Result<(), StoreError> {
    let sql = |error: rusqlite::Error| sql_error(path, error);
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS logproc_schema (version INTEGER NOT NULL)")
        .map_err(sql)?;
    let found: i64 = connection
        .query_row("SELECT coalesce(max(version), 0) FROM logproc_schema", [], |row| {
            row.get(0)
        })
        .map_err(sql)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: path.to_owned(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    let migrations = MIGRATIONS
        .iter()
        .map(|sql| sql.to_string())
        .chain([minutes_migration(&TYPES)]);
    for (version, migration) in migrations.enumerate().skip(found as usize) {
        let batch = format!(
            "BEGIN IMMEDIATE; {migration} DELETE FROM logproc_schema; INSERT INTO logproc_schema VALUES ({}); COMMIT;",
            version + 1
        );
        connection.execute_batch(&batch).map_err(sql)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = (|| -> rusqlite::Result<()> {
            let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let stored: i64 = tx.query_row(
                "SELECT commit_seq FROM nodes WHERE node = ?1",
                params![self.node],
                |row| row.get(0),
            )?;
            if stored as u64 >= commit.seq {
                // Applied already: its outcome was lost on the way back.
                return Ok(());
            }
            {
                let mut count = tx.prepare_cached(
                    "INSERT INTO counts (service, component, level, n) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (service, component, level) DO UPDATE SET n = n + excluded.n",
                )?;
                for ((service, component), counts) in &commit.components {
                    for (level, n) in counted_levels(counts) {
                        count.execute(params![service, component, level, n])?;
                    }
                }
                let mut minute = tx.prepare_cached(&format!(
                    "INSERT INTO minutes (service, minute, {MINUTE_LEVEL_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (service, minute) DO UPDATE SET {}",
                    add_minute_levels("minutes")
                ))?;
                for ((service, start_ms), counts) in &commit.minutes {
                    let [trace, debug, info, warn, error, fatal, unknown] = counts.map(|n| n as i64);
                    minute.execute(params![
                        service,
                        start_ms.div_euclid(1000),
                        trace,
                        debug,
                        info,
                        warn,
                        error,
                        fatal,
                        unknown
                    ])?;
                }
                if commit.invalid > 0 {
                    tx.execute(
                        "INSERT INTO totals (name, n) VALUES ('invalid', ?1)
                         ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
                        params![commit.invalid as i64],
                    )?;
                }
                let mut set = tx.prepare_cached(
                    "INSERT OR REPLACE INTO checkpoints (node, source, byte_offset, head_len, head_hash, path,
                     first_path, format, parsed, invalid, untimed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                let mut remove = tx.prepare_cached("DELETE FROM checkpoints WHERE node = ?1 AND source = ?2")?;
                for (source, checkpoint) in &commit.checkpoints {
                    match checkpoint {
                        None => {
                            remove.execute(params![self.node, source])?;
                        }
                        Some(checkpoint) => {
                            set.execute(params![
                                self.node,
                                source,
                                checkpoint.offset as i64,
                                checkpoint.head.len,
                                checkpoint.head.hash as i64,
                                checkpoint.path,
                                checkpoint.first_path,
                                checkpoint.format,
                                checkpoint.counts.parsed as i64,
                                checkpoint.counts.invalid as i64,
                                checkpoint.counts.untimed as i64,
                            ])?;
                        }
                    }
                }
            }
            tx.execute(
                "UPDATE nodes SET commit_seq = ?2, committed_at = unixepoch() WHERE node = ?1",
                params![self.node, commit.seq as i64],
            )?;
            tx.commit()
        })();
        written.map_err(|error| self.error(error))
    }

    fn record_plugins(&self, plugins: &[PluginState]) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = (|| -> rusqlite::Result<()> {
            let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM plugins WHERE node = ?1", params![self.node])?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO plugins (node, name, version, sha256, source, loaded_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for plugin in plugins {
                    insert.execute(params![
                        self.node,
                        plugin.name,
                        plugin.version,
                        plugin.sha256,
                        plugin.source,
                        plugin.loaded_at_ms.div_euclid(1000)
                    ])?;
                }
            }
            tx.commit()
        })();
        written.map_err(|error| self.error(error))
    }

    fn last_commit_seq(&self) -> Result<u64, StoreError> {
        self.read(|db| {
            db.query_row(
                "SELECT commit_seq FROM nodes WHERE node = ?1",
                params![self.node],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|seq| seq.unwrap_or(0) as u64)
        })
    }

    fn invalid(&self) -> Result<u64, StoreError> {
        self.read(|db| {
            db.query_row("SELECT n FROM totals WHERE name = 'invalid'", [], |row| {
                row.get::<_, i64>(0)
            })
            .optional()
            .map(|n| n.unwrap_or(0) as u64)
        })
    }

    fn components(&self, service: Option<&str>) -> Result<Vec<ComponentCounts>, StoreError> {
        self.read(|db| {
            let mut statement = db.prepare_cached(
                "SELECT service, component, level, n FROM counts
                 WHERE ?1 IS NULL OR service = ?1 ORDER BY service, component",
            )?;
            let rows = statement.query_map(params![service], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
            Ok(fold_components(rows.collect::<rusqlite::Result<Vec<_>>>()?))
        })
    }

    fn last_minutes(&self, service: &str, count: usize) -> Result<Vec<MinuteCounts>, StoreError> {
        self.read(|db| {
            let mut statement = db.prepare_cached(&format!(
                "SELECT * FROM (SELECT minute, {MINUTE_LEVEL_COLUMNS} FROM minutes
                     WHERE service = ?1 ORDER BY minute DESC LIMIT ?2)
                 ORDER BY minute"
            ))?;
            let rows = statement.query_map(params![service, count.min(i64::MAX as usize) as i64], minute_row)?;
            rows.collect()
        })
    }

    fn minutes_between(
        &self,
        service: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MinuteCounts>, StoreError> {
        let (from, to) = (ceil_seconds(from_ms), ceil_seconds(to_ms));
        self.read(|db| {
            let mut statement = db.prepare_cached(&format!(
                "SELECT minute, {} FROM minutes
                 WHERE minute >= ?1 AND minute < ?2 AND (?3 IS NULL OR service = ?3)
                 GROUP BY minute ORDER BY minute",
                summed_minute_levels()
            ))?;
            let rows = statement.query_map(params![from, to, service], minute_row)?;
            rows.collect()
        })
    }

    fn services_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, LevelCounts)>, StoreError> {
        let (from, to) = (ceil_seconds(from_ms), ceil_seconds(to_ms));
        self.read(|db| {
            let mut statement = db.prepare_cached(&format!(
                "SELECT service, {} FROM minutes WHERE minute >= ?1 AND minute < ?2 GROUP BY service",
                summed_minute_levels()
            ))?;
            let rows = statement.query_map(params![from, to], |row| Ok((row.get(0)?, row_levels(row)?)))?;
            rows.collect()
        })
    }

    fn drop_minutes_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        writer
            .execute(
                "DELETE FROM minutes WHERE minute < ?1",
                params![ceil_seconds(cutoff_ms)],
            )
            .map(|rows| rows as u64)
            .map_err(|error| self.error(error))
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.read(|db| {
            db.query_row(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE node = ?1 AND source = ?2"),
                params![self.node, source],
                |row| checkpoint_at(row, 0),
            )
            .optional()
        })
    }

    fn file_checkpoints(&self) -> Result<Vec<(FileKey, Checkpoint)>, StoreError> {
        let rows = self.read(|db| {
            let mut statement = db.prepare_cached(&format!(
                "SELECT source, {CHECKPOINT_COLUMNS} FROM checkpoints WHERE node = ?1 AND source LIKE 'file:%'"
            ))?;
            let rows = statement.query_map(params![self.node], |row| {
                Ok((row.get::<_, String>(0)?, checkpoint_at(row, 1)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        file_checkpoints(rows)
    }
}

/// The checkpoint in [`CHECKPOINT_COLUMNS`] from column `first` on.
fn checkpoint_at(row: &rusqlite::Row, first: usize) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        offset: row.get::<_, i64>(first)? as u64,
        head: Fingerprint {
            len: row.get(first + 1)?,
            hash: row.get::<_, i64>(first + 2)? as u64,
        },
        path: row.get(first + 3)?,
        first_path: row.get(first + 4)?,
        format: row.get(first + 5)?,
        counts: FileCounts {
            parsed: row.get::<_, i64>(first + 6)? as u64,
            invalid: row.get::<_, i64>(first + 7)? as u64,
            untimed: row.get::<_, i64>(first + 8)? as u64,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn checkpoint(offset: u64) -> Checkpoint {
        Checkpoint {
            offset,
            head: Fingerprint { len: 3, hash: u64::MAX },
            path: b"a\xffb.log".to_vec(),
            first_path: b"a.log".to_vec(),
            format: Some(String::new()),
            counts: FileCounts {
                parsed: 2,
                invalid: 1,
                untimed: 0,
            },
        }
    }

    #[test]
    fn a_commit_is_applied_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = SqliteStore::open(&path, "n1").unwrap();
        assert!(matches!(SqliteStore::open(&path, "n1"), Err(StoreError::Locked { .. })));
        let mut commit = Commit {
            seq: 1,
            invalid: 2,
            ..Commit::default()
        };
        commit
            .components
            .insert(("api".into(), "db".into()), [0, 0, 3, 0, 1, 0, 0]);
        commit.minutes.insert(("api".into(), -60_000), [0, 0, 3, 0, 0, 0, 0]);
        commit.minutes.insert(("api".into(), 120_000), [0, 0, 0, 0, 1, 0, 0]);
        commit.checkpoints = BTreeMap::from([("file:1:2".to_owned(), Some(checkpoint(10)))]);
        store.commit(&commit).unwrap();
        // The same number again: its outcome was lost, it is not applied twice.
        store.commit(&commit).unwrap();
        drop(store);
        let store = SqliteStore::open(&path, "n1").unwrap();
        assert_eq!(store.last_commit_seq().unwrap(), 1);
        assert_eq!(store.invalid().unwrap(), 2);
        let components = store.components(None).unwrap();
        assert_eq!(components.len(), 1);
        assert_eq!(components[0].counts, [0, 0, 3, 0, 1, 0, 0]);
        let minutes = store.last_minutes("api", 1).unwrap();
        assert_eq!(
            minutes,
            [MinuteCounts {
                start_ms: 120_000,
                counts: [0, 0, 0, 0, 1, 0, 0]
            }]
        );
        assert_eq!(store.last_minutes("api", 9).unwrap()[0].start_ms, -60_000);
        let files = store.file_checkpoints().unwrap();
        assert_eq!(files, [(FileKey { dev: 1, ino: 2 }, checkpoint(10))]);
        let forget = Commit {
            seq: 2,
            checkpoints: BTreeMap::from([("file:1:2".to_owned(), None)]),
            ..Commit::default()
        };
        store.commit(&forget).unwrap();
        assert_eq!(store.checkpoint("file:1:2").unwrap(), None);
    }

    #[test]
    fn a_schema_1_file_is_migrated_and_keeps_its_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        // What a build of schema 1 left: minutes one row per level.
        let db = Connection::open(&path).unwrap();
        db.execute_batch(&format!(
            "{} CREATE TABLE logproc_schema (version INTEGER NOT NULL); INSERT INTO logproc_schema VALUES (1);
             INSERT INTO nodes VALUES ('n1', 1, 0);
             INSERT INTO counts VALUES ('api', 'db', 'INFO', 3);
             INSERT INTO minute_counts VALUES ('api', 60, 'INFO', 2), ('api', 60, 'ERROR', 1), ('api', 120, 'WARN', 4),
                 ('web', 60, 'UNKNOWN', 5);",
            MIGRATIONS[0]
        ))
        .unwrap();
        drop(db);
        let store = SqliteStore::open(&path, "n1").unwrap();
        assert_eq!(store.last_commit_seq().unwrap(), 1);
        assert_eq!(store.components(None).unwrap()[0].counts, [0, 0, 3, 0, 0, 0, 0]);
        let minute = |start_ms, counts| MinuteCounts { start_ms, counts };
        assert_eq!(
            store.last_minutes("api", 5).unwrap(),
            [
                minute(60_000, [0, 0, 2, 0, 1, 0, 0]),
                minute(120_000, [0, 0, 0, 4, 0, 0, 0])
            ]
        );
        assert_eq!(
            store.last_minutes("web", 1).unwrap(),
            [minute(60_000, [0, 0, 0, 0, 0, 0, 5])]
        );
        let plugin = PluginState {
            name: "json".into(),
            version: "1".into(),
            sha256: "ab".into(),
            source: "built-in",
            loaded_at_ms: 1_000,
        };
        store.record_plugins(&[plugin]).unwrap();
        drop(store);
        let db = Connection::open(&path).unwrap();
        let version: i64 = db
            .query_row("SELECT version FROM logproc_schema", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let loaded: i64 = db
            .query_row("SELECT loaded_at FROM plugins WHERE name = 'json'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(loaded, 1);
        // The view keeps schema 2's shape.
        let mut rows = db
            .prepare("SELECT service, minute, level, n FROM minute_counts ORDER BY service, minute, level")
            .unwrap();
        let rows: Vec<(String, i64, String, i64)> = rows
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let row = |service: &str, minute, level: &str, n| (service.to_owned(), minute, level.to_owned(), n);
        assert_eq!(
            rows,
            [
                row("api", 60, "ERROR", 1),
                row("api", 60, "INFO", 2),
                row("api", 120, "WARN", 4),
                row("web", 60, "UNKNOWN", 5)
            ]
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(SqliteStore::open(&path, "n1").unwrap());
        let db = Connection::open(&path).unwrap();
        db.execute("UPDATE logproc_schema SET version = 99", []).unwrap();
        drop(db);
        let error = SqliteStore::open(&path, "n1").err().unwrap();
        assert!(matches!(error, StoreError::Schema { found: 99, .. }), "{error}");
    }
}
