//! Wiring: the long-running service (`serve`) and the one-shot run
//! (`process`), both over the same pipeline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::api::{self, AppState, IngestLimits, Tokens, UploadSettings};
use crate::config::{Backend, Settings};
use crate::ingest::file::{FileReader, LastLine, ReadLimits};
use crate::ingest::watch::{IgnoredFiles, WatchContext, watch_dir};
use crate::ingest::websocket::follow_websocket;
use crate::pipeline::route::{AUTO, FixedNames, ParserOptions, absolute};
use crate::pipeline::{ParserHandle, Parsers, Pipeline, Router};
use crate::plugin::PluginEngine;
use crate::plugin::catalog::{Accept, Catalog, follow_dir};
use crate::store::{FileKey, MemoryStore, PluginState, PostgresStore, SledStore, SqliteStore, Store};

/// Compiles (or loads from the compile cache) the built-in plugins and those
/// in `plugins.dir`, in parallel and off the async threads (Cranelift takes
/// up to a second per plugin).
pub async fn load_plugins(settings: &Settings) -> anyhow::Result<Arc<Parsers>> {
    let (limits, cache, dir) = (
        settings.plugin_limits(),
        settings.plugin_cache(),
        settings.plugins.dir.clone(),
    );
    let exe = crate::plugin::compiler::this_binary()?;
    let catalog = tokio::task::spawn_blocking(move || {
        Catalog::load(PluginEngine::new(limits, cache)?.compile_in_processes(exe), &dir)
    })
    .await??;
    release_free_memory();
    Ok(Arc::new(Parsers::new(Arc::new(catalog))))
}

/// Hands memory malloc holds but nobody uses back to the system. Compiling
/// plugins leaves about 30 MB of it (measured: 88 MB resident after start,
/// 56 MB after this).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap structures; it has no
    // preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn read_limits(settings: &Settings) -> ReadLimits {
    ReadLimits {
        batch_lines: settings.pipeline.batch_lines,
        batch_bytes: settings.pipeline.batch_bytes,
        max_line_bytes: settings.pipeline.max_line_bytes,
        max_decompressed_bytes: settings.watch.max_decompressed_bytes,
    }
}

/// Runs the service on `listener` until `shutdown` is cancelled, then stops
/// in order: sources (files, WebSocket streams), the HTTP server (open
/// requests finish, generator streams get their close frames), the workers,
/// the last commit.
pub async fn serve(settings: Settings, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let watch_dir_path = crate::ingest::watch::prepare_dir(&settings.watch.dir)?;
    info!(
        data_dir = %absolute(&settings.storage.data_dir).display(),
        watch_dir = %watch_dir_path.display(),
        plugin_dir = %absolute(&settings.plugins.dir).display(),
        "Starting."
    );
    let (storage, node) = (settings.storage.clone(), settings.node.id());
    if storage.backend == Backend::Postgres {
        info!(database = %crate::store::redact_url(&storage.url), node = %node, "Connecting to PostgreSQL.");
    }
    let store = tokio::task::spawn_blocking(move || open_store(&storage, &node)).await??;
    let parsers = load_plugins(&settings).await?;
    let router = Arc::new(Router::new(&parsers, &settings.routes)?);
    let pipeline = Pipeline::start(store.clone(), &settings)?;
    let accept: Accept = {
        let parsers = parsers.clone();
        Arc::new(move |plugin| parsers.accepts(plugin))
    };
    let mut plugin_dir = tokio::spawn(follow_dir(
        parsers.catalog().clone(),
        accept,
        settings.poll_interval(),
        shutdown.clone(),
    ));

    tokio::spawn(record_plugins(
        parsers.catalog().clone(),
        store.clone(),
        settings.poll_interval(),
        shutdown.clone(),
    ));

    if let Some(retention) = settings.retention()? {
        tokio::spawn(drop_old_minutes(store.clone(), retention, shutdown.clone()));
    }

    let ignored = IgnoredFiles::default();
    let mut watcher = tokio::spawn(watch_dir(WatchContext {
        dir: watch_dir_path,
        ignored: ignored.clone(),
        router,
        store: store.clone(),
        batches: pipeline.batches.clone(),
        limits: read_limits(&settings),
        poll_interval: settings.poll_interval(),
        final_line_idle: Duration::from_millis(settings.watch.final_line_idle_ms),
        forget_after: Duration::from_millis(settings.watch.forget_after_ms),
        follow_symlinks: settings.watch.follow_symlinks,
        // Enough to keep the workers fed; each read holds a buffer.
        concurrent_reads: settings.workers() * 2,
        bytes_read: pipeline.metrics.file_bytes_read.clone(),
        cancel: shutdown.clone(),
    }));
    let streams_in = TaskTracker::new();
    for source in &settings.sources.websocket {
        let parser = parsers
            .choose_options(&source.parser_options())
            .with_context(|| format!("WebSocket source {}", source.url))?;
        streams_in.spawn(follow_websocket(
            source.url.clone(),
            parser,
            pipeline.batches.clone(),
            read_limits(&settings),
            shutdown.clone(),
        ));
    }
    streams_in.close();

    let streams_out = TaskTracker::new();
    let state = AppState {
        store,
        batches: pipeline.batches.clone(),
        parsers: parsers.clone(),
        ingest_choices: Arc::default(),
        http_sources: Arc::new(http_sources(&parsers, &settings)?),
        shippers: Arc::new(shippers(&parsers, &settings)?),
        ingest_limits: IngestLimits {
            max_body_bytes: settings.ingest.max_body_bytes,
            batch_lines: settings.pipeline.batch_lines,
            batch_bytes: settings.pipeline.batch_bytes,
            max_line_bytes: settings.pipeline.max_line_bytes,
        },
        health: pipeline.health.clone(),
        pipeline_metrics: pipeline.metrics.clone(),
        http_metrics: Arc::default(),
        stats_cache: Arc::default(),
        bodies: api::BodyBudget::new(
            settings.server.max_body_bytes_in_flight,
            Duration::from_millis(settings.server.body_timeout_ms),
        ),
        uploads: UploadSettings {
            token: settings.plugins.upload_token.clone(),
            max_bytes: settings.plugins.max_upload_bytes,
        },
        tokens: Tokens {
            read: settings.server.read_token.clone(),
            ingest: settings.server.ingest_token.clone(),
        },
        ignored,
        shutdown: shutdown.clone(),
        streams: streams_out.clone(),
    };
    let addr = listener.local_addr()?;
    let limits = connection_limits(&settings);
    let server = api::server::serve(listener, api::router(state), limits, shutdown.clone());
    let mut server = tokio::spawn(async move {
        server.await;
        anyhow::Ok(())
    });
    info!(%addr, workers = settings.workers(), "Listening.");
    if !addr.ip().is_loopback() {
        let open: Vec<_> = [
            (
                settings.server.read_token.is_none(),
                "reads (/stats, /sources, /plugins, /ws/logs)",
            ),
            (settings.server.ingest_token.is_none(), "POST /ingest"),
        ]
        .into_iter()
        .filter_map(|(open, what)| open.then_some(what))
        .collect();
        if !open.is_empty() {
            warn!(
                %addr,
                open = open.join(" and "),
                "Listening beyond loopback without a token for these: anyone who can reach the address can use them (set server.read_token and server.ingest_token)."
            );
        }
    }

    // `biased`: a task that ends because of the shutdown is not an early exit.
    let early_exit = tokio::select! {
        biased;
        _ = shutdown.cancelled() => None,
        result = &mut watcher => Some(("watcher", result.map_err(anyhow::Error::from).and_then(|r| r))),
        result = &mut plugin_dir => Some(("plugin directory watcher", result.map_err(anyhow::Error::from).and_then(|r| r))),
        result = &mut server => Some(("server", result.map_err(anyhow::Error::from).and_then(|r| r))),
    };
    // A task that ended cleanly once the shutdown was on ended because of
    // it: within one poll the select may check the token just before, and
    // the task's handle just after, another thread cancels it.
    let asked_to_stop = shutdown.is_cancelled();
    info!("Shutting down.");
    shutdown.cancel();
    let finished = early_exit.as_ref().map(|(task, _)| *task);
    let drain = async {
        if finished != Some("watcher") {
            watcher.await??;
        }
        if finished != Some("plugin directory watcher") {
            plugin_dir.await??;
        }
        streams_in.wait().await;
        // The server holds a sender of the batch queue until it is done, so
        // it must finish before the pipeline can.
        if finished != Some("server") {
            server.await??;
        }
        streams_out.close();
        streams_out.wait().await;
        pipeline.finish().await?;
        anyhow::Ok(())
    };
    let timeout = settings.shutdown_timeout();
    tokio::time::timeout(timeout, drain).await.map_err(|_| {
        anyhow::anyhow!(
            "shutdown took longer than {} ms; exiting anyway (every commit so far is on disk)",
            timeout.as_millis()
        )
    })??;
    if let Some((task, result)) = early_exit {
        result.with_context(|| format!("the {task} stopped"))?;
        anyhow::ensure!(asked_to_stop, "the {task} stopped unexpectedly");
    }
    info!("Stopped.");
    Ok(())
}

/// Keeps the store's record of the plugins this node runs (the SQL
/// backends' `plugins` table) in line with the catalog, checked every
/// `interval`, until cancelled.
/// How often minutes past `storage.retention` are looked for.
const RETENTION_PASS: Duration = Duration::from_secs(3600);

/// Drops per-minute counts older than `retention`: at start, then once
/// every [`RETENTION_PASS`].
async fn drop_old_minutes(store: Arc<dyn Store>, retention: Duration, cancel: CancellationToken) {
    let mut passes = tokio::time::interval(RETENTION_PASS);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = passes.tick() => {}
        }
        let cutoff_ms = crate::time::now_ms() - retention.as_millis() as i64;
        let writer = store.clone();
        match tokio::task::spawn_blocking(move || writer.drop_minutes_before(cutoff_ms)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(dropped)) => info!(
                dropped,
                before = crate::time::rfc3339_seconds(cutoff_ms),
                "Dropped per-minute counts past storage.retention (totals are kept)."
            ),
            // Tried again at the next pass.
            Ok(Err(error)) => warn!(%error, "Dropping old per-minute counts failed."),
            Err(_) => return,
        }
    }
}

async fn record_plugins(catalog: Arc<Catalog>, store: Arc<dyn Store>, interval: Duration, cancel: CancellationToken) {
    let mut recorded = None;
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let mut now: Vec<PluginState> = catalog
            .plugins()
            .values()
            .map(|plugin| PluginState {
                name: plugin.name().to_owned(),
                version: plugin.version().to_owned(),
                sha256: plugin.sha256().to_owned(),
                source: plugin.source().kind(),
                loaded_at_ms: plugin.loaded_at_ms(),
            })
            .collect();
        now.sort_by(|a, b| a.name.cmp(&b.name));
        if recorded.as_ref() == Some(&now) {
            continue;
        }
        let (writer, plugins) = (store.clone(), now.clone());
        match tokio::task::spawn_blocking(move || writer.record_plugins(&plugins)).await {
            Ok(Ok(())) => recorded = Some(now),
            // Tried again on the next tick; commits say the store is away.
            Ok(Err(error)) => debug!(%error, "Recording the plugins failed."),
            Err(_) => return,
        }
    }
}

/// The settings of the store `location` names: `sled:DIR`, `sqlite:FILE`
/// or a PostgreSQL URL; `storage` gives the rest.
pub fn location_settings(
    location: &str,
    storage: &crate::config::StorageSettings,
) -> anyhow::Result<crate::config::StorageSettings> {
    let mut storage = storage.clone();
    if let Some(dir) = location.strip_prefix("sled:") {
        (storage.backend, storage.data_dir) = (Backend::Sled, dir.into());
    } else if let Some(file) = location.strip_prefix("sqlite:") {
        (storage.backend, storage.path) = (Backend::Sqlite, file.into());
    } else if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        (storage.backend, storage.url) = (Backend::Postgres, location.to_owned());
    } else {
        anyhow::bail!(
            "`{}` names no store: give sled:DIR, sqlite:FILE or postgres://user:password@host:port/database",
            crate::store::redact_url(location)
        );
    }
    Ok(storage)
}

/// Opens the store `storage` names as node `node`; a file store that is
/// not there is made only if `create`.
pub fn open_existing_store(
    storage: &crate::config::StorageSettings,
    node: &str,
    create: bool,
) -> anyhow::Result<Arc<dyn Store>> {
    let path = match storage.backend {
        Backend::Sled => Some(storage.data_dir.clone()),
        Backend::Sqlite => Some(storage.sqlite_path()),
        Backend::Postgres => None,
    };
    // Opening would make an empty store where there is none.
    if let Some(path) = path.filter(|path| !create && !path.exists()) {
        anyhow::bail!("there is no store at {}", path.display());
    }
    Ok(open_store(storage, node)?)
}

/// Opens the store `storage` names.
fn open_store(
    storage: &crate::config::StorageSettings,
    node: &str,
) -> Result<Arc<dyn Store>, crate::store::StoreError> {
    Ok(match storage.backend {
        Backend::Sled => Arc::new(SledStore::open(
            &storage.data_dir,
            storage.cache_mib << 20,
            storage.min_free_mib << 20,
        )?),
        // One node: its checkpoints are the file's only ones.
        Backend::Sqlite => Arc::new(SqliteStore::open(&storage.sqlite_path(), "local")?),
        Backend::Postgres => Arc::new(PostgresStore::open(&storage.url, node)?),
    })
}

/// The server's connection limits, within the open-files limit (raised to
/// its hard limit first): room is left for the files read and the store.
fn connection_limits(settings: &Settings) -> api::server::ConnectionLimits {
    const OTHER_FILES: u64 = 256;
    let mut max_connections = settings.server.max_connections;
    match api::server::raise_open_files_limit() {
        Ok(open_files) => {
            let room = open_files.saturating_sub(OTHER_FILES).max(1) as usize;
            if room < max_connections {
                warn!(
                    max_connections,
                    open_files,
                    allowed = room,
                    "server.max_connections is more than the open-files limit leaves room for; using fewer (raise the limit with ulimit -n or LimitNOFILE)."
                );
                max_connections = room;
            }
        }
        Err(error) => warn!(%error, "Cannot read or raise the open-files limit."),
    }
    api::server::ConnectionLimits {
        max_connections,
        header_timeout: Duration::from_millis(settings.server.header_timeout_ms),
    }
}

/// The parsers of the named HTTP sources (`POST /ingest?source=NAME`).
fn http_sources(parsers: &Parsers, settings: &Settings) -> anyhow::Result<HashMap<String, ParserHandle>> {
    let mut sources = HashMap::new();
    for source in &settings.sources.http {
        let parser = parsers
            .choose_options(&source.parser_options())
            .with_context(|| format!("HTTP source `{}`", source.name))?;
        anyhow::ensure!(
            sources.insert(source.name.clone(), parser).is_none(),
            "HTTP source `{}` is configured twice",
            source.name
        );
    }
    Ok(sources)
}

/// The parsers of what shippers send as lines (OTLP records without a
/// severity, Loki entries without a level).
fn shippers(parsers: &Parsers, settings: &Settings) -> anyhow::Result<api::Shippers> {
    let ingest = &settings.ingest;
    let choose = |name: &str, key: &str| {
        parsers
            .choose_options(&ParserOptions::parser(name))
            .with_context(|| format!("ingest.{key}.parser"))
    };
    Ok(api::Shippers {
        otlp_parser: choose(&ingest.otlp.parser, "otlp")?,
        loki_parser: choose(&ingest.loki.parser, "loki")?,
        otlp: ingest.otlp.clone(),
        loki: ingest.loki.clone(),
    })
}

/// What `process` counted: the store of the counts (for
/// [`stats::read_stats`] or [`stats::read_detailed`]) and each file's
/// reading.
pub struct Processed {
    pub store: Arc<MemoryStore>,
    pub files: Vec<ProcessedFile>,
}

/// One file `process` read.
pub struct ProcessedFile {
    pub path: PathBuf,
    /// Its source id: its checkpoint (with its counts) is stored under it.
    pub source: String,
    pub parser: ParserHandle,
    /// Its format (as chosen) and names.
    pub context: crate::pipeline::SourceContext,
}

/// Runs the pipeline once over `files` (each read to its end, a last line
/// without newline included). `parser` forces one parser for every file;
/// without it the routes choose, and `auto` reads files that no route
/// matches.
pub async fn process(
    settings: &Settings,
    files: Vec<PathBuf>,
    parser: Option<&str>,
    progress: bool,
) -> anyhow::Result<Processed> {
    let mut total_bytes = 0;
    for file in &files {
        let metadata = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
        anyhow::ensure!(metadata.is_file(), "cannot read {}: not a regular file", file.display());
        total_bytes += metadata.len();
    }
    let parsers = load_plugins(settings).await?;
    let (router, fallback) = match parser {
        Some(name) => {
            let parser = parsers.choose(name, &[], FixedNames::default())?;
            (Router::single(parser.clone()), parser)
        }
        None => (
            Router::new(&parsers, &settings.routes)?,
            parsers.choose(AUTO, &[], FixedNames::default())?,
        ),
    };
    let store = Arc::new(MemoryStore::default());
    let pipeline = Pipeline::start(store.clone(), settings)?;
    let batches = pipeline.batches.clone();
    let limits = read_limits(settings);
    let bytes_read = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let shown =
        progress.then(|| crate::progress::Progress::start(total_bytes, bytes_read.clone(), pipeline.metrics.clone()));
    let reading = tokio::task::spawn_blocking(move || {
        let never = CancellationToken::new();
        let mut read = Vec::new();
        for (index, path) in files.into_iter().enumerate() {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parser = router.parser_for(&name).unwrap_or(&fallback).clone();
            // The index keeps a file named twice apart in batch ordering.
            let source = format!("{index}:{}", path.display());
            let metadata = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut reader = FileReader::new(
                path.clone(),
                FileKey::of(&metadata),
                source.as_str().into(),
                parser.clone(),
                Default::default(),
            );
            reader.bytes_read = Some(bytes_read.clone());
            reader
                .read_available(&batches, limits, LastLine::Complete, &never)
                .with_context(|| format!("cannot read {}", path.display()))?;
            read.push(ProcessedFile {
                path,
                source,
                parser,
                context: reader.context,
            });
        }
        anyhow::Ok(read)
    });
    let read_result = reading.await?;
    if read_result.is_err() {
        warn!("Reading stopped early.");
    }
    pipeline.finish().await?;
    if let Some(shown) = shown {
        shown.finish();
    }
    Ok(Processed {
        store,
        files: read_result?,
    })
}
