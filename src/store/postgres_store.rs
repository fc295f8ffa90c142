//! PostgreSQL: counters shared by every node (logproc process) that commits
//! to one database; checkpoints and commit numbers per node. The client is
//! async (tokio-postgres) and runs on a small runtime of the store's own, so
//! the [`Store`] calls, made from blocking threads and async tasks alike,
//! just wait for their answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::sql::{
    CHECKPOINT_COLUMNS, MINUTE_LEVEL_COLUMNS, SqlTypes, add_minute_levels, counted_levels, file_checkpoints,
    fold_components, minute_levels, minutes_migration, sql_error, summed_minute_levels,
};
use super::{
    Checkpoint, Commit, ComponentCounts, FileCounts, FileKey, Fingerprint, MinuteCounts, PluginState, Store, StoreError,
};
use crate::model::LevelCounts;

/// The schema version this build writes; `logproc_schema` holds the
/// database's.
pub const SCHEMA_VERSION: i32 = 3;

/// Migrations, one per version: index 0 makes version 1; the last is
/// [`minutes_migration`]. Names sort bytewise (`COLLATE "C"`), as the API
/// orders them.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE counts (
    service   text COLLATE \"C\" NOT NULL,
    component text COLLATE \"C\" NOT NULL,
    level     text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (service, component, level)
);
CREATE TABLE minute_counts (
    service text COLLATE \"C\" NOT NULL,
    minute  timestamptz NOT NULL,
    level   text NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (service, minute, level)
);
CREATE TABLE totals (
    name text PRIMARY KEY,
    n    bigint NOT NULL
);
CREATE TABLE nodes (
    node         text PRIMARY KEY,
    commit_seq   bigint NOT NULL,
    committed_at timestamptz,
    instance     text NOT NULL
);
CREATE TABLE checkpoints (
    node        text NOT NULL,
    source      text NOT NULL,
    byte_offset bigint NOT NULL,
    head_len    bigint NOT NULL,
    head_hash   bigint NOT NULL,
    path        bytea NOT NULL,
    first_path  bytea NOT NULL,
    format      text,
    parsed      bigint NOT NULL,
    invalid     bigint NOT NULL,
    untimed     bigint NOT NULL,
    PRIMARY KEY (node, source)
);
",
    "
CREATE TABLE plugins (
    node      text NOT NULL,
    name      text NOT NULL,
    version   text NOT NULL,
    sha256    text NOT NULL,
    source    text NOT NULL,
    loaded_at timestamptz NOT NULL,
    PRIMARY KEY (node, name)
);
",
];

const TYPES: SqlTypes = SqlTypes {
    name: "text COLLATE \"C\"",
    minute: "timestamptz",
    count: "bigint",
    table_options: "",
};

/// Longest one store call may wait for the database.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a commit's transaction may wait for the database; then its
/// connection counts as lost (the outcome is learnt from the commit number
/// on the next one).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening waits for the node's lock: a process of this node
/// killed a moment ago holds it until the server sees its connection close.
const NODE_LOCK_WAIT: Duration = Duration::from_secs(5);
/// Reads served at once (the API's; the aggregator writes on its own
/// connection).
const READERS: usize = 4;
/// Tries of a commit that lost a deadlock or a serialization conflict to
/// another node's, before the error goes to the aggregator (which retries
/// later).
const CONFLICT_TRIES: usize = 5;

/// Counters and checkpoints in a PostgreSQL database.
pub struct PostgresStore {
    db: Arc<Database>,
    /// Runs the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

/// What the store's tasks share.
struct Database {
    /// The URL without its password, for messages.
    shown: String,
    node: String,
    /// Who this process is, stored in `nodes.instance` when it claims the
    /// node: a commit finding another there has been replaced, and stops.
    instance: String,
    config: tokio_postgres::Config,
    /// The connection commits go through; it holds the node's advisory
    /// lock. `None` after it failed: the next commit opens another.
    writer: tokio::sync::Mutex<Option<Writer>>,
    readers: Pool,
}

impl PostgresStore {
    /// Connects to the database at `url` as node `node`: brings its schema
    /// up to date and claims the node (refused while another live process
    /// holds it).
    pub fn open(url: &str, node: &str) -> Result<PostgresStore, StoreError> {
        let shown = redact_url(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|error| StoreError::Sql {
            path: shown.clone(),
            detail: format!("not a PostgreSQL URL: {error}"),
        })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Sql {
                path: shown,
                detail: "sslmode=require: this build has no TLS client; connect over a trusted network, a Unix socket or a tunnel, with sslmode=disable or prefer".into(),
            });
        }
        // As libpq does: a URL without a password takes PGPASSWORD's, so the
        // secret need not be in the configuration.
        if config.get_password().is_none()
            && let Some(password) = std::env::var_os("PGPASSWORD")
        {
            config.password(password.as_encoded_bytes());
        }
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives_idle(Duration::from_secs(30))
            .application_name(format!("logproc {node}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|error| sql_error(&shown, error))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let readers = Pool::builder(manager)
            .max_size(READERS)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(ANSWER_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| sql_error(&shown, error))?;
        let store = PostgresStore {
            db: Arc::new(Database {
                shown,
                node: node.to_owned(),
                instance: instance_name(),
                config,
                writer: tokio::sync::Mutex::new(None),
                readers,
            }),
            runtime: Some(runtime),
        };
        store.run(|db| async move { db.claim().await })?;
        Ok(store)
    }

    /// Runs `work` on the store's runtime and waits for its answer.
    fn run<T, F>(&self, work: impl FnOnce(Arc<Database>) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let work = work(self.db.clone());
        let shown = self.db.shown.clone();
        let runtime = self.runtime.as_ref().expect("the runtime lives as long as the store");
        runtime.spawn(async move {
            let result = tokio::time::timeout(ANSWER_TIMEOUT, work)
                .await
                .unwrap_or_else(|_| Err(unreachable(&shown, format!("no answer within {ANSWER_TIMEOUT:?}"))));
            let _ = answer.send(result);
        });
        answered
            .recv()
            .unwrap_or_else(|_| Err(unreachable(&self.db.shown, "the database task stopped")))
    }

    /// Runs a read on a pooled connection.
    fn read<T, F>(
        &self,
        read: impl FnOnce(Arc<Database>, deadpool_postgres::Object) -> F + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        self.run(|db| async move {
            let client = db.readers.get().await.map_err(|error| match error {
                deadpool_postgres::PoolError::Backend(error) => db.error(error),
                error => unreachable(&db.shown, error),
            })?;
            read(db.clone(), client).await.map_err(|error| db.error(error))
        })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which an async caller
        // may not; the connections close either way.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Database {
    /// Opens the writer connection: migrates the schema, takes the node's
    /// lock and writes this process into the node's row.
    async fn claim(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        let client = self.connect().await?;
        self.migrate(&client).await?;
        client
            .execute(
                "INSERT INTO nodes (node, commit_seq, instance) VALUES ($1, 0, $2)
                 ON CONFLICT (node) DO UPDATE SET instance = EXCLUDED.instance",
                &[&self.node, &self.instance],
            )
            .await
            .map_err(|error| self.error(error))?;
        *writer = Some(self.prepare(client).await?);
        Ok(())
    }

    /// The writer on `client`: the commit's statements prepared.
    async fn prepare(&self, client: Client) -> Result<Writer, StoreError> {
        let statements = Statements::prepare(&client).await.map_err(|error| self.error(error))?;
        Ok(Writer { client, statements })
    }

    /// A new connection holding the node's advisory lock.
    async fn connect(&self) -> Result<Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|error| self.error(error))?;
        tokio::spawn(async move {
            // Ends when the connection does; the client's calls then fail.
            let _ = connection.await;
        });
        let deadline = tokio::time::Instant::now() + NODE_LOCK_WAIT;
        loop {
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtextextended('logproc node ' || $1, 0))",
                    &[&self.node],
                )
                .await
                .and_then(|row| row.try_get(0))
                .map_err(|error| self.error(error))?;
            if locked {
                return Ok(client);
            }
            if tokio::time::Instant::now() >= deadline {
                let holder: Option<String> = client
                    .query_opt("SELECT instance FROM nodes WHERE node = $1", &[&self.node])
                    .await
                    .ok()
                    .flatten()
                    .and_then(|row| row.try_get(0).ok());
                return Err(StoreError::NodeInUse {
                    node: self.node.clone(),
                    database: self.shown.clone(),
                    holder: holder.unwrap_or_else(|| "another process".into()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Brings the schema to [`SCHEMA_VERSION`], refusing a newer one; nodes
    /// starting together take turns.
    async fn migrate(&self, client: &Client) -> Result<(), StoreError> {
        let sql = |error| self.error(error);
        client.batch_execute("BEGIN").await.map_err(sql)?;
        let found: i32 = async {
            client
                .batch_execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('logproc schema', 0));
                     CREATE TABLE IF NOT EXISTS logproc_schema (version integer NOT NULL);",
                )
                .await?;
            client
                .query_one("SELECT coalesce(max(version), 0) FROM logproc_schema", &[])
                .await?
                .try_get(0)
        }
        .await
        .map_err(sql)?;
        if found > SCHEMA_VERSION {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(StoreError::Schema {
                path: self.shown.clone(),
                found: found.into(),
                expected: SCHEMA_VERSION.into(),
            });
        }
        let migrations = MIGRATIONS
            .iter()
            .map(|sql| sql.to_string())
            .chain([minutes_migration(&TYPES)]);
        for (version, migration) in migrations.enumerate().skip(found as usize) {
            let update = format!(
                "DELETE FROM logproc_schema; INSERT INTO logproc_schema VALUES ({})",
                version + 1
            );
            client.batch_execute(&migration).await.map_err(sql)?;
            client.batch_execute(&update).await.map_err(sql)?;
        }
        client.batch_execute("COMMIT").await.map_err(sql)
    }

    async fn commit(&self, rows: CommitRows) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        if writer.as_ref().is_none_or(|writer| writer.client.is_closed()) {
            *writer = None;
            let client = self.connect().await?;
            *writer = Some(self.prepare(client).await?);
        }
        let connected = writer.as_ref().expect("connected above");
        let mut tries = 0;
        loop {
            tries += 1;
            let applied = tokio::time::timeout(COMMIT_TIMEOUT, self.apply(connected, &rows))
                .await
                .unwrap_or_else(|_| {
                    Err(Failed::Store(unreachable(
                        &self.shown,
                        format!("no answer to a commit within {COMMIT_TIMEOUT:?}"),
                    )))
                });
            match applied {
                Err(Failed::Database(error)) if tries < CONFLICT_TRIES && is_conflict(&error) => continue,
                Ok(()) => return Ok(()),
                Err(failed) => {
                    // A fresh connection for the next try: this one may be
                    // mid-transaction or broken.
                    *writer = None;
                    return Err(match failed {
                        Failed::Database(error) => self.error(error),
                        Failed::Store(error) => error,
                    });
                }
            }
        }
    }

    /// One transaction: the node's row first (locked, so a commit number
    /// is checked and stored by one process at a time), then the counters in
    /// the order every node uses (so two nodes' commits wait for each
    /// other rather than deadlock), then the checkpoints. Two round trips:
    /// requests issued together are sent together (tokio-postgres
    /// pipelines them, in the order they are first polled), so the writes
    /// and the COMMIT go in one; each round trip costs a wake-up of the
    /// server, which a busy machine may make wait.
    async fn apply(&self, writer: &Writer, rows: &CommitRows) -> Result<(), Failed> {
        let (client, statements) = (&writer.client, &writer.statements);
        let ((), node) = futures_util::try_join!(client.batch_execute("BEGIN"), async {
            client.query_opt(&statements.node, &[&self.node]).await
        })?;
        let (stored, instance): (i64, String) = match node {
            Some(row) => (row.try_get(0)?, row.try_get(1)?),
            None => (0, String::new()),
        };
        if instance != self.instance {
            client.batch_execute("ROLLBACK").await?;
            return Err(Failed::Store(StoreError::NodeInUse {
                node: self.node.clone(),
                database: self.shown.clone(),
                holder: match instance.is_empty() {
                    true => "nobody: the node's row was deleted".into(),
                    false => instance,
                },
            }));
        }
        if stored >= rows.seq {
            // Applied already: its outcome was lost on the way back.
            client.batch_execute("ROLLBACK").await?;
            return Ok(());
        }
        type Write<'a> = std::pin::Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;
        let mut writes: Vec<Write> = Vec::new();
        let counts = &rows.counts;
        if !counts.0.is_empty() {
            writes.push(Box::pin(async move {
                client
                    .execute(&statements.counts, &[&counts.0, &counts.1, &counts.2, &counts.3])
                    .await
            }));
        }
        let minutes = &rows.minutes;
        if !minutes.services.is_empty() {
            let [trace, debug, info, warn, error, fatal, unknown] = &minutes.levels;
            writes.push(Box::pin(async move {
                client
                    .execute(
                        &statements.minutes,
                        &[
                            &minutes.services,
                            &minutes.starts,
                            trace,
                            debug,
                            info,
                            warn,
                            error,
                            fatal,
                            unknown,
                        ],
                    )
                    .await
            }));
        }
        if rows.invalid > 0 {
            writes.push(Box::pin(async move {
                client.execute(&statements.invalid, &[&rows.invalid]).await
            }));
        }
        let set = &rows.checkpoints;
        if !set.sources.is_empty() {
            writes.push(Box::pin(async move {
                client
                    .execute(
                        &statements.checkpoints,
                        &[
                            &self.node,
                            &set.sources,
                            &set.offsets,
                            &set.head_lens,
                            &set.head_hashes,
                            &set.paths,
                            &set.first_paths,
                            &set.formats,
                            &set.parsed,
                            &set.invalid,
                            &set.untimed,
                        ],
                    )
                    .await
            }));
        }
        if !rows.removed.is_empty() {
            writes.push(Box::pin(async move {
                client.execute(&statements.removed, &[&self.node, &rows.removed]).await
            }));
        }
        writes.push(Box::pin(async move {
            client.execute(&statements.done, &[&self.node, &rows.seq]).await
        }));
        // After a failed write the transaction is aborted, and the server
        // answers this COMMIT by rolling it back: all or nothing still.
        writes.push(Box::pin(async { client.batch_execute("COMMIT").await.map(|()| 0) }));
        futures_util::future::try_join_all(writes).await?;
        Ok(())
    }

    /// `error` as a store error: the database's own refusal, or a lost
    /// connection.
    fn error(&self, error: tokio_postgres::Error) -> StoreError {
        match error.as_db_error() {
            // Connection exceptions (08...), and a server shutting down or
            // starting (57P01-57P03): the database is away, not refusing.
            Some(db) if db.code().code().starts_with("08") || db.code().code().starts_with("57P0") => {
                unreachable(&self.shown, db)
            }
            Some(db) => StoreError::Sql {
                path: self.shown.clone(),
                detail: db.to_string(),
            },
            // With its causes: "error connecting to server: Connection refused".
            None => unreachable(&self.shown, format!("{:#}", anyhow::Error::from(error))),
        }
    }
}

/// The connection commits go through, with the statements of a commit.
struct Writer {
    client: Client,
    statements: Statements,
}

/// A commit's statements, prepared once per connection (each would cost a
/// round trip of its own).
struct Statements {
    node: Statement,
    counts: Statement,
    minutes: Statement,
    invalid: Statement,
    checkpoints: Statement,
    removed: Statement,
    done: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let minutes = format!(
            "INSERT INTO minutes (service, minute, {MINUTE_LEVEL_COLUMNS})
             SELECT s, to_timestamp(m), {MINUTE_LEVEL_COLUMNS} FROM unnest($1::text[], $2::bigint[],
                 $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
                 AS r(s, m, {MINUTE_LEVEL_COLUMNS})
             ON CONFLICT (service, minute) DO UPDATE SET {}",
            add_minute_levels("minutes")
        );
        let (node, counts, minutes, invalid, checkpoints, removed, done) = futures_util::try_join!(
            client.prepare("SELECT commit_seq, instance FROM nodes WHERE node = $1 FOR UPDATE"),
            client.prepare(
                "INSERT INTO counts (service, component, level, n)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (service, component, level) DO UPDATE SET n = counts.n + EXCLUDED.n"
            ),
            client.prepare(&minutes),
            client.prepare(
                "INSERT INTO totals (name, n) VALUES ('invalid', $1)
                 ON CONFLICT (name) DO UPDATE SET n = totals.n + EXCLUDED.n"
            ),
            client.prepare(
                "INSERT INTO checkpoints (node, source, byte_offset, head_len, head_hash, path, first_path,
                     format, parsed, invalid, untimed)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bytea[],
                     $7::bytea[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])
                 ON CONFLICT (node, source) DO UPDATE SET byte_offset = EXCLUDED.byte_offset,
                     head_len = EXCLUDED.head_len, head_hash = EXCLUDED.head_hash, path = EXCLUDED.path,
                     first_path = EXCLUDED.first_path, format = EXCLUDED.format, parsed = EXCLUDED.parsed,
                     invalid = EXCLUDED.invalid, untimed = EXCLUDED.untimed"
            ),
            client.prepare("DELETE FROM checkpoints WHERE node = $1 AND source = ANY($2)"),
            client.prepare("UPDATE nodes SET commit_seq = $2, committed_at = now() WHERE node = $1"),
        )?;
        Ok(Statements {
            node,
            counts,
            minutes,
            invalid,
            checkpoints,
            removed,
            done,
        })
    }
}

/// Why a commit failed.
enum Failed {
    Database(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(error: tokio_postgres::Error) -> Failed {
        Failed::Database(error)
    }
}

/// A deadlock or serialization failure: the transaction can simply be run
/// again.
fn is_conflict(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// A commit as column arrays, one statement per table.
#[derive(Default)]
struct CommitRows {
    seq: i64,
    invalid: i64,
    counts: (Vec<String>, Vec<String>, Vec<&'static str>, Vec<i64>),
    minutes: MinuteColumns,
    checkpoints: CheckpointColumns,
    removed: Vec<String>,
}

#[derive(Default)]
struct MinuteColumns {
    services: Vec<String>,
    /// Epoch seconds.
    starts: Vec<i64>,
    /// Per level, in `Level::ALL`'s order.
    levels: [Vec<i64>; 7],
}

#[derive(Default)]
struct CheckpointColumns {
    sources: Vec<String>,
    offsets: Vec<i64>,
    head_lens: Vec<i64>,
    head_hashes: Vec<i64>,
    paths: Vec<Vec<u8>>,
    first_paths: Vec<Vec<u8>>,
    formats: Vec<Option<String>>,
    parsed: Vec<i64>,
    invalid: Vec<i64>,
    untimed: Vec<i64>,
}

impl CommitRows {
    fn of(commit: &Commit) -> CommitRows {
        let mut rows = CommitRows {
            seq: commit.seq as i64,
            invalid: commit.invalid as i64,
            ..CommitRows::default()
        };
        for ((service, component), counts) in &commit.components {
            for (level, n) in counted_levels(counts) {
                rows.counts.0.push(service.clone());
                rows.counts.1.push(component.clone());
                rows.counts.2.push(level);
                rows.counts.3.push(n);
            }
        }
        for ((service, start_ms), counts) in &commit.minutes {
            let minutes = &mut rows.minutes;
            minutes.services.push(service.clone());
            minutes.starts.push(start_ms.div_euclid(1000));
            for (column, n) in minutes.levels.iter_mut().zip(counts) {
                column.push(*n as i64);
            }
        }
        for (source, checkpoint) in &commit.checkpoints {
            let Some(checkpoint) = checkpoint else {
                rows.removed.push(source.clone());
                continue;
            };
            let columns = &mut rows.checkpoints;
            columns.sources.push(source.clone());
            columns.offsets.push(checkpoint.offset as i64);
            columns.head_lens.push(checkpoint.head.len.into());
            columns.head_hashes.push(checkpoint.head.hash as i64);
            columns.paths.push(checkpoint.path.clone());
            columns.first_paths.push(checkpoint.first_path.clone());
            columns.formats.push(checkpoint.format.clone());
            columns.parsed.push(checkpoint.counts.parsed as i64);
            columns.invalid.push(checkpoint.counts.invalid as i64);
            columns.untimed.push(checkpoint.counts.untimed as i64);
        }
        rows
    }
}

impl Store for PostgresStore {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let rows = CommitRows::of(commit);
        self.run(|db| async move { db.commit(rows).await })
    }

    fn record_plugins(&self, plugins: &[PluginState]) -> Result<(), StoreError> {
        let names: Vec<String> = plugins.iter().map(|plugin| plugin.name.clone()).collect();
        let versions: Vec<String> = plugins.iter().map(|plugin| plugin.version.clone()).collect();
        let digests: Vec<String> = plugins.iter().map(|plugin| plugin.sha256.clone()).collect();
        let sources: Vec<&str> = plugins.iter().map(|plugin| plugin.source).collect();
        let loaded: Vec<i64> = plugins.iter().map(|plugin| plugin.loaded_at_ms).collect();
        self.read(move |db, mut client| async move {
            let tx = client.transaction().await?;
            tx.execute("DELETE FROM plugins WHERE node = $1", &[&db.node]).await?;
            tx.execute(
                "INSERT INTO plugins (node, name, version, sha256, source, loaded_at)
                 SELECT $1, name, version, sha256, source, to_timestamp(ms / 1000.0)
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
                     AS t(name, version, sha256, source, ms)",
                &[&db.node, &names, &versions, &digests, &sources, &loaded],
            )
            .await?;
            tx.commit().await
        })
    }

    fn last_commit_seq(&self) -> Result<u64, StoreError> {
        self.read(|db, client| async move {
            let row = client
                .query_opt("SELECT commit_seq FROM nodes WHERE node = $1", &[&db.node])
                .await?;
            Ok(row.map(|row| row.try_get::<_, i64>(0)).transpose()?.unwrap_or(0) as u64)
        })
    }

    fn others_version(&self) -> Result<Option<u64>, StoreError> {
        self.read(|db, client| async move {
            let row = client
                .query_one(
                    "SELECT coalesce(sum(commit_seq), 0)::bigint FROM nodes WHERE node <> $1",
                    &[&db.node],
                )
                .await?;
            Ok(Some(row.try_get::<_, i64>(0)? as u64))
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        self.read(|_, client| async move { client.simple_query("SELECT 1").await.map(drop) })
    }

    fn invalid(&self) -> Result<u64, StoreError> {
        self.read(|_, client| async move {
            let row = client
                .query_opt("SELECT n FROM totals WHERE name = 'invalid'", &[])
                .await?;
            Ok(row.map(|row| row.try_get::<_, i64>(0)).transpose()?.unwrap_or(0) as u64)
        })
    }

    fn components(&self, service: Option<&str>) -> Result<Vec<ComponentCounts>, StoreError> {
        let service = service.map(str::to_owned);
        self.read(|_, client| async move {
            let statement = client
                .prepare_cached(
                    "SELECT service, component, level, n FROM counts
                     WHERE $1::text IS NULL OR service = $1 ORDER BY service, component",
                )
                .await?;
            let rows = client.query(&statement, &[&service]).await?;
            let rows = rows
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
            Ok(fold_components(rows))
        })
    }

    fn last_minutes(&self, service: &str, count: usize) -> Result<Vec<MinuteCounts>, StoreError> {
        let service = service.to_owned();
        let count = count.min(i64::MAX as usize) as i64;
        self.read(move |_, client| async move {
            let statement = client
                .prepare_cached(&format!(
                    "SELECT extract(epoch FROM minute)::bigint, {MINUTE_LEVEL_COLUMNS} FROM (
                         SELECT * FROM minutes WHERE service = $1 ORDER BY minute DESC LIMIT $2) AS last
                     ORDER BY minute"
                ))
                .await?;
            let rows = client.query(&statement, &[&service, &count]).await?;
            rows.iter().map(minute_row).collect()
        })
    }

    fn minutes_between(
        &self,
        service: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MinuteCounts>, StoreError> {
        let service = service.map(str::to_owned);
        self.read(move |_, client| async move {
            let statement = client
                .prepare_cached(&format!(
                    "SELECT extract(epoch FROM minute)::bigint, {} FROM minutes
                     WHERE minute >= to_timestamp($1::bigint / 1000.0) AND minute < to_timestamp($2::bigint / 1000.0)
                       AND ($3::text IS NULL OR service = $3)
                     GROUP BY minute ORDER BY minute",
                    summed_minute_levels()
                ))
                .await?;
            let rows = client.query(&statement, &[&from_ms, &to_ms, &service]).await?;
            rows.iter().map(minute_row).collect()
        })
    }

    fn services_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, LevelCounts)>, StoreError> {
        self.read(move |_, client| async move {
            let statement = client
                .prepare_cached(&format!(
                    "SELECT service, {} FROM minutes
                     WHERE minute >= to_timestamp($1::bigint / 1000.0) AND minute < to_timestamp($2::bigint / 1000.0)
                     GROUP BY service",
                    summed_minute_levels()
                ))
                .await?;
            let rows = client.query(&statement, &[&from_ms, &to_ms]).await?;
            rows.iter().map(|row| Ok((row.try_get(0)?, row_levels(row)?))).collect()
        })
    }

    fn drop_minutes_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        // Row locks order it with commits that add to the same rows.
        self.read(move |_, client| async move {
            client
                .execute(
                    "DELETE FROM minutes WHERE minute < to_timestamp($1::bigint / 1000.0)",
                    &[&cutoff_ms],
                )
                .await
        })
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Checkpoint>, StoreError> {
        let source = source.to_owned();
        self.read(move |db, client| async move {
            let row = client
                .query_opt(
                    &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE node = $1 AND source = $2"),
                    &[&db.node, &source],
                )
                .await?;
            row.map(|row| checkpoint_at(&row, 0)).transpose()
        })
    }

    fn file_checkpoints(&self) -> Result<Vec<(FileKey, Checkpoint)>, StoreError> {
        let rows = self.read(|db, client| async move {
            let rows = client
                .query(
                    &format!(
                        "SELECT source, {CHECKPOINT_COLUMNS} FROM checkpoints WHERE node = $1 AND source LIKE 'file:%'"
                    ),
                    &[&db.node],
                )
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get::<_, String>(0)?, checkpoint_at(row, 1)?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        })?;
        file_checkpoints(rows)
    }
}

/// The checkpoint in [`CHECKPOINT_COLUMNS`] from column `first` on.
fn checkpoint_at(row: &Row, first: usize) -> Result<Checkpoint, tokio_postgres::Error> {
    let number = |column: usize| row.try_get::<_, i64>(first + column);
    Ok(Checkpoint {
        offset: number(0)? as u64,
        head: Fingerprint {
            len: number(1)? as u32,
            hash: number(2)? as u64,
        },
        path: row.try_get(first + 3)?,
        first_path: row.try_get(first + 4)?,
        format: row.try_get(first + 5)?,
        counts: FileCounts {
            parsed: number(6)? as u64,
            invalid: number(7)? as u64,
            untimed: number(8)? as u64,
        },
    })
}

fn unreachable(database: &str, detail: impl ToString) -> StoreError {
    StoreError::Unreachable {
        database: database.to_owned(),
        detail: detail.to_string(),
    }
}

/// Who this process is, for the node's row and for the message a second
/// process with the same node id gets.
fn instance_name() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!(
        "pid {} on {}, started at {started} ms",
        std::process::id(),
        crate::config::host_name()
    )
}

/// `url` with its password (in the user part or a `password=` parameter)
/// replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let rest = scheme_end + 3;
        let authority_end = shown[rest..].find(['/', '?']).map_or(shown.len(), |end| rest + end);
        if let Some(at) = shown[rest..authority_end].rfind('@') {
            let user_info = rest..rest + at;
            if let Some(colon) = shown[user_info.clone()].find(':') {
                shown.replace_range(rest + colon + 1..user_info.end, "***");
            }
        }
    }
    // Key-value form and URL parameters: password=...
    let mut out = String::with_capacity(shown.len());
    let mut rest = shown.as_str();
    while let Some(at) = rest.find("password=") {
        let value = at + "password=".len();
        out.push_str(&rest[..value]);
        out.push_str("***");
        let end = rest[value..].find(['&', ' ']).map_or(rest.len(), |end| value + end);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A row of `minute` (epoch seconds), then the seven level columns.
fn minute_row(row: &tokio_postgres::Row) -> Result<MinuteCounts, tokio_postgres::Error> {
    Ok(MinuteCounts {
        start_ms: row.try_get::<_, i64>(0)? * 1000,
        counts: row_levels(row)?,
    })
}

/// The seven level columns that follow a row's first.
fn row_levels(row: &tokio_postgres::Row) -> Result<LevelCounts, tokio_postgres::Error> {
    let mut levels = [0i64; 7];
    for (index, n) in levels.iter_mut().enumerate() {
        *n = row.try_get(index + 1)?;
    }
    Ok(minute_levels(levels))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact_url("postgres://logproc:s3cret@db:5432/stats"),
            "postgres://logproc:***@db:5432/stats"
        );
        assert_eq!(redact_url("postgres://db/stats"), "postgres://db/stats");
        assert_eq!(
            redact_url("postgresql://u@db/stats?password=x&sslmode=disable"),
            "postgresql://u@db/stats?password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("host=db user=u password=x dbname=stats"),
            "host=db user=u password=*** dbname=stats"
        );
    }
}
