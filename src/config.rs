//! Settings: the embedded defaults (`configs/config.yaml`), then an optional
//! file, then `LOGPROC_SECTION__KEY` environment variables, then flags.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The defaults, embedded so that the binary runs with no file at all.
pub const DEFAULTS_YAML: &str = include_str!("../configs/config.yaml");

/// Everything configurable. Unknown keys are refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins when set.
    pub log_level: String,
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub node: NodeSettings,
    pub watch: WatchSettings,
    pub pipeline: PipelineSettings,
    pub plugins: PluginSettings,
    pub ingest: IngestSettings,
    pub sources: SourceSettings,
    /// Which parser reads which file; first match wins.
    pub routes: Vec<RouteSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address of the HTTP API: `HOST:PORT`, the host a name or an IP address.
    pub listen: String,
    /// Longest a graceful shutdown may take.
    pub shutdown_timeout_ms: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Longest a request's head (its line and headers) may take to arrive,
    /// and a kept-alive connection may stay idle; then it is closed.
    pub header_timeout_ms: u64,
    /// Longest a request's body may take to arrive (408 past it).
    pub body_timeout_ms: u64,
    /// Request bodies held in memory at once, all requests together; a
    /// request whose body does not fit waits for room, up to half of
    /// `body_timeout_ms`, then gets 503.
    pub max_body_bytes_in_flight: usize,
    /// Bearer token `POST /ingest` needs; without one, ingest is open.
    #[serde(default, skip_serializing)]
    pub ingest_token: Option<String>,
    /// Bearer token the read endpoints (`/stats`, `/sources`, `/plugins`,
    /// `/ws/logs`) need; without one, they are open. `/healthz` always is.
    #[serde(default, skip_serializing)]
    pub read_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Which database holds the counts.
    pub backend: Backend,
    /// Directory of the store.
    pub data_dir: PathBuf,
    /// The SQLite file; empty: `data_dir/logproc.sqlite`.
    pub path: PathBuf,
    /// The PostgreSQL database (`postgres://user:password@host:port/db`);
    /// shown with its password hidden.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Interval between commits.
    pub commit_interval_ms: u64,
    /// sled's page cache, in MiB.
    pub cache_mib: u64,
    /// Free space the data directory's file system must have for the store
    /// to be opened (at start, and again after a failed write), in MiB.
    pub min_free_mib: u64,
    /// How long per-minute counts are kept (`30d`, `12h`); `0` keeps them
    /// all. Totals are kept whatever it says.
    pub retention: String,
}

/// `storage.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sled,
    Sqlite,
    Postgres,
}

fn serialize_redacted_url<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::store::redact_url(url))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// This process's name among the nodes that share one PostgreSQL
    /// database; empty: the host name.
    pub id: String,
}

impl NodeSettings {
    /// `id`, or the host name.
    pub fn id(&self) -> String {
        match self.id.trim().is_empty() {
            true => host_name(),
            false => self.id.clone(),
        }
    }
}

/// This machine's host name ("localhost" if it has none).
pub fn host_name() -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let done = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let len = name.iter().position(|&byte| byte == 0).unwrap_or(name.len());
    match done && len > 0 {
        true => String::from_utf8_lossy(&name[..len]).into_owned(),
        false => "localhost".into(),
    }
}

impl StorageSettings {
    /// The SQLite file of the sqlite backend.
    pub fn sqlite_path(&self) -> PathBuf {
        match self.path.as_os_str().is_empty() {
            true => self.data_dir.join("logproc.sqlite"),
            false => self.path.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    /// Directory whose files are read and followed.
    pub dir: PathBuf,
    /// Interval of the poll that backs up file system events.
    pub poll_interval_ms: u64,
    /// A last line without newline is counted once its file has not changed
    /// for this long.
    pub final_line_idle_ms: u64,
    /// The checkpoint of a file gone from the directory is removed after
    /// this long (its counts stay).
    pub forget_after_ms: u64,
    /// Most bytes a compressed (`.gz`) file is decompressed to; the rest of
    /// a larger one is not read (a warning says so).
    pub max_decompressed_bytes: u64,
    /// Read files that symbolic links in `dir` lead to outside it (links
    /// to files in `dir` are always followed: a file is read once).
    pub follow_symlinks: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Parser workers; 0 = one per available core.
    pub workers: usize,
    /// Most lines in a batch.
    pub batch_lines: usize,
    /// About the most bytes in a batch.
    pub batch_bytes: usize,
    /// Capacity of the queue between readers and workers, in batches.
    pub queue_batches: usize,
    /// Longest line accepted; longer ones are counted invalid.
    pub max_line_bytes: usize,
    /// Services counted apart; lines of more count under `_other`.
    pub max_services: usize,
    /// Components of one service counted apart; lines of more count under
    /// its component `_other`.
    pub max_components_per_service: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Directory of plugin files (`NAME.wasm`), watched.
    pub dir: PathBuf,
    /// Bearer token for `PUT`/`DELETE /plugins/{name}`; without one, they
    /// are disabled.
    #[serde(default, skip_serializing)]
    pub upload_token: Option<String>,
    /// Largest plugin `PUT /plugins/{name}` accepts, and the largest file
    /// in `dir` compiled.
    pub max_upload_bytes: usize,
    /// Linear memory cap per plugin instance, in MiB.
    pub memory_limit_mib: usize,
    /// Longest one plugin call may run.
    pub call_timeout_ms: u64,
    /// Longest the calls for one batch may take together.
    pub batch_timeout_ms: u64,
    /// Longest a plugin's compilation and check may take.
    pub compile_timeout_ms: u64,
    /// Most memory compiling one plugin may use, in MiB (the compiler runs
    /// in a process of its own).
    pub compile_memory_mib: usize,
    /// Keep compiled plugins on disk, so each is compiled once.
    pub compile_cache: bool,
    /// Where; unset, the user's cache directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Largest body `POST /ingest` (and the shippers' endpoints) accepts,
    /// compressed or not; larger is refused with 413.
    pub max_body_bytes: usize,
    pub otlp: OtlpSettings,
    pub loki: LokiSettings,
}

/// `POST /v1/logs` (OTLP/HTTP).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSettings {
    /// Resource attributes naming a record's service; the first present wins.
    pub service_attributes: Vec<String>,
    /// What names a record's component, the first present winning: `scope`
    /// (the instrumentation scope's name), or an attribute's key (of the
    /// record, else its scope, else its resource).
    pub component_from: Vec<String>,
    /// The parser of records with no severity: their body is a line.
    pub parser: String,
}

/// `POST /loki/api/v1/push`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiSettings {
    /// Stream labels naming the service; the first present wins.
    pub service_labels: Vec<String>,
    /// Stream labels naming the component.
    pub component_labels: Vec<String>,
    /// Labels, then structured metadata, naming an entry's level; entries
    /// without one are lines for `parser`.
    pub level_labels: Vec<String>,
    pub parser: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// WebSocket streams to subscribe to; each text message is a log line.
    #[serde(default)]
    pub websocket: Vec<WebSocketSource>,
    /// Named parsers for `POST /ingest?source=NAME`.
    #[serde(default)]
    pub http: Vec<HttpSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSource {
    /// What `?source=` names.
    pub name: String,
    /// A plugin name, or `auto`.
    #[serde(default = "auto")]
    pub parser: String,
    /// Settings for the plugin.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The service every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The component every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// A format of the library (`syslog`, `java`, ...), or `auto` (the
    /// default: detected per source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// How timestamps are written (strftime, `%Y-%m-%d %H:%M:%S`); without
    /// it, every known spelling is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// The offset of timestamps that name none (`UTC`, `+02:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Level names of these logs, mapped to logproc's (`NOTICE: warn`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, String>,
    /// A regex with a `service` group, matched against the file name: the
    /// service every line of the file counts under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_from_path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketSource {
    /// `ws://host:port/path?query`.
    pub url: String,
    /// A plugin name, or `auto`.
    #[serde(default = "auto")]
    pub parser: String,
    /// Settings for the plugin.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The service every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The component every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// A format of the library (`syslog`, `java`, ...), or `auto` (the
    /// default: detected per source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// How timestamps are written (strftime, `%Y-%m-%d %H:%M:%S`); without
    /// it, every known spelling is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// The offset of timestamps that name none (`UTC`, `+02:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Level names of these logs, mapped to logproc's (`NOTICE: warn`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, String>,
    /// A regex with a `service` group, matched against the file name: the
    /// service every line of the file counts under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_from_path: Option<String>,
}

fn auto() -> String {
    crate::pipeline::route::AUTO.to_owned()
}

/// What routes and sources say about their parser, as one value.
macro_rules! parser_options {
    ($($settings:ty),*) => {$(
        impl $settings {
            pub fn parser_options(&self) -> crate::pipeline::route::ParserOptions {
                crate::pipeline::route::ParserOptions {
                    parser: self.parser.clone(),
                    format: self.format.clone(),
                    settings: self.settings.clone().into_iter().collect(),
                    timestamp_format: self.timestamp_format.clone(),
                    timezone: self.timezone.clone(),
                    levels: self.levels.clone().into_iter().collect(),
                    service: self.service.clone(),
                    component: self.component.clone(),
                    service_from_path: self.service_from_path.clone(),
                }
            }
        }
    )*};
}
parser_options!(RouteSettings, HttpSource, WebSocketSource);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// Glob on the file name, such as `*.log`.
    pub glob: String,
    /// A plugin name, or `auto`.
    pub parser: String,
    /// Settings passed to the plugin's `configure`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The service every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The component every line counts under, whatever the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// A format of the library (`syslog`, `java`, ...), or `auto` (the
    /// default: detected per source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// How timestamps are written (strftime, `%Y-%m-%d %H:%M:%S`); without
    /// it, every known spelling is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// The offset of timestamps that name none (`UTC`, `+02:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Level names of these logs, mapped to logproc's (`NOTICE: warn`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, String>,
    /// A regex with a `service` group, matched against the file name: the
    /// service every line of the file counts under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_from_path: Option<String>,
}

/// The prefix of the environment variables that override settings.
const ENV_PREFIX: &str = "LOGPROC";

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The `LOGPROC_` variables an error from the environment is about: those
/// whose key or last part the message names, else all that are set.
fn environment_culprits(message: &str) -> Vec<String> {
    let prefix = format!("{ENV_PREFIX}_");
    let set: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter_map(|name| {
            let key = name.strip_prefix(&prefix)?.to_lowercase().replace("__", ".");
            Some((name, key))
        })
        .collect();
    let named: Vec<String> = set
        .iter()
        .filter(|(_, key)| {
            let last = key.rsplit('.').next().unwrap_or(key);
            message.contains(&format!("`{key}`")) || message.contains(&format!("`{last}`"))
        })
        .map(|(name, _)| name.clone())
        .collect();
    if named.is_empty() {
        set.into_iter().map(|(name, _)| name).collect()
    } else {
        named
    }
}

/// The levels `log_level` may name.
const LOG_LEVELS: &str = "trace, debug, info, warn, error, off";

/// Refuses a log filter that parses but cannot be what was meant: a bare
/// word that is no level (`verbose`) is taken by tracing as a target name
/// and silences everything else.
fn check_log_filter(filter: &str) -> Result<(), String> {
    let is_level = |word: &str| {
        LOG_LEVELS
            .split(", ")
            .any(|level| word.trim().eq_ignore_ascii_case(level))
    };
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, level)| level);
        if !is_level(level) {
            return Err(format!(
                "`{level}` is not a level; use one of {LOG_LEVELS}, or TARGET=LEVEL directives such as `info,logproc::ingest=debug`"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|error| error.to_string())
}

/// serde's view of the settings as YAML (keys in serde_json's order).
fn json_to_yaml(value: serde_json::Value) -> yaml_rust2::Yaml {
    use serde_json::Value;
    use yaml_rust2::Yaml;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(value) => Yaml::Boolean(value),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Yaml::Integer(integer),
            None => Yaml::Real(number.to_string()),
        },
        Value::String(text) => Yaml::String(text),
        Value::Array(items) => Yaml::Array(items.into_iter().map(json_to_yaml).collect()),
        Value::Object(map) => Yaml::Hash(
            map.into_iter()
                .map(|(key, value)| (Yaml::String(key), json_to_yaml(value)))
                .collect(),
        ),
    }
}

/// Values from command-line flags, applied last.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub watch_dir: Option<PathBuf>,
    pub plugin_dir: Option<PathBuf>,
    /// WebSocket streams added to `sources.websocket`, read with `auto`.
    pub ws_sources: Vec<String>,
}

impl Settings {
    /// Loads the settings in order of precedence: defaults < `file` <
    /// environment < `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Settings> {
        use config::{Config, Environment, File, FileFormat};
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS_YAML, FileFormat::Yaml));
        if let Some(path) = file {
            anyhow::ensure!(path.is_file(), "config file {} does not exist", path.display());
            let yaml = path
                .extension()
                .is_some_and(|extension| extension == "yaml" || extension == "yml");
            anyhow::ensure!(
                yaml,
                "config file {}: the name must end in .yaml or .yml (logproc reads YAML config files)",
                path.display()
            );
            builder = builder.add_source(File::from(path).required(true));
        }
        let overridden = [
            ("server.listen", overrides.listen.clone()),
            ("storage.data_dir", overrides.data_dir.as_deref().map(path_text)),
            ("watch.dir", overrides.watch_dir.as_deref().map(path_text)),
            ("plugins.dir", overrides.plugin_dir.as_deref().map(path_text)),
        ];
        for (key, value) in overridden {
            if let Some(value) = value {
                builder = builder.set_override(key, value)?;
            }
        }
        // Read without the environment first, so that a mistake there is
        // reported as the environment's, naming the variable.
        let deserialize = |builder: config::ConfigBuilder<config::builder::DefaultState>| {
            builder.build()?.try_deserialize::<Settings>()
        };
        deserialize(builder.clone()).map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
        // Without prefix_separator("_"), the crate expects LOGPROC__KEY and
        // silently ignores LOGPROC_LOG_LEVEL.
        let environment = Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true);
        let mut settings = deserialize(builder.add_source(environment)).map_err(|error| {
            anyhow::anyhow!(
                "invalid configuration from the environment ({}): {error}",
                environment_culprits(&error.to_string()).join(", ")
            )
        })?;
        settings
            .sources
            .websocket
            .extend(overrides.ws_sources.iter().map(|url| WebSocketSource {
                url: url.clone(),
                parser: auto(),
                settings: BTreeMap::new(),
                service: None,
                component: None,
                format: None,
                timestamp_format: None,
                timezone: None,
                levels: BTreeMap::new(),
                service_from_path: None,
            }));
        settings.validate()?;
        Ok(settings)
    }

    /// The settings as a YAML document that `--config` reads back to the
    /// same settings. Secrets are left out, so a saved copy never holds one
    /// (or a placeholder that would be taken for one): a header comment
    /// names those that are set.
    pub fn to_yaml(&self) -> anyhow::Result<String> {
        let mut out = String::from("# logproc's effective settings (logproc serve --print-config).\n");
        self.retention()?;
        if self.storage.backend == Backend::Postgres {
            anyhow::ensure!(
                !self.storage.url.trim().is_empty(),
                "invalid configuration: storage.backend is postgres but storage.url is empty; give the database as postgres://user:password@host:port/database (LOGPROC_STORAGE__URL)"
            );
        }
        for (key, secret) in self.secrets() {
            if secret.is_some() {
                let variable = format!("{ENV_PREFIX}_{}", key.replace('.', "__").to_uppercase());
                out.push_str(&format!(
                    "# {key} is set but not shown: set it again here or as {variable}.\n"
                ));
            }
        }
        let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
        emitter.dump(&json_to_yaml(serde_json::to_value(self)?))?;
        out.push('\n');
        Ok(out)
    }

    /// The tokens, by key: never printed, never empty.
    fn secrets(&self) -> [(&'static str, &Option<String>); 3] {
        [
            ("server.ingest_token", &self.server.ingest_token),
            ("server.read_token", &self.server.read_token),
            ("plugins.upload_token", &self.plugins.upload_token),
        ]
    }

    /// The addresses `server.listen` names (a host name may resolve to
    /// several, such as `localhost` to ::1 and 127.0.0.1).
    pub fn listen_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let listen = &self.server.listen;
        let addrs: Vec<_> = listen
            .to_socket_addrs()
            .map_err(|error| {
                anyhow::anyhow!(
                    "invalid configuration: server.listen `{listen}` is not a HOST:PORT address that resolves: {error}"
                )
            })?
            .collect();
        anyhow::ensure!(
            !addrs.is_empty(),
            "invalid configuration: server.listen `{listen}` resolves to no address"
        );
        Ok(addrs)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("pipeline.batch_lines", self.pipeline.batch_lines as u64),
            ("ingest.max_body_bytes", self.ingest.max_body_bytes as u64),
            ("plugins.max_upload_bytes", self.plugins.max_upload_bytes as u64),
            ("pipeline.batch_bytes", self.pipeline.batch_bytes as u64),
            ("pipeline.queue_batches", self.pipeline.queue_batches as u64),
            ("pipeline.max_line_bytes", self.pipeline.max_line_bytes as u64),
            ("plugins.memory_limit_mib", self.plugins.memory_limit_mib as u64),
            ("plugins.call_timeout_ms", self.plugins.call_timeout_ms),
            ("plugins.batch_timeout_ms", self.plugins.batch_timeout_ms),
            ("plugins.compile_timeout_ms", self.plugins.compile_timeout_ms),
            ("plugins.compile_memory_mib", self.plugins.compile_memory_mib as u64),
            ("storage.commit_interval_ms", self.storage.commit_interval_ms),
            ("storage.cache_mib", self.storage.cache_mib),
            ("watch.poll_interval_ms", self.watch.poll_interval_ms),
            ("watch.final_line_idle_ms", self.watch.final_line_idle_ms),
            ("watch.forget_after_ms", self.watch.forget_after_ms),
            ("watch.max_decompressed_bytes", self.watch.max_decompressed_bytes),
            ("server.max_connections", self.server.max_connections as u64),
            ("pipeline.max_services", self.pipeline.max_services as u64),
            (
                "pipeline.max_components_per_service",
                self.pipeline.max_components_per_service as u64,
            ),
            ("server.header_timeout_ms", self.server.header_timeout_ms),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
            (
                "server.max_body_bytes_in_flight",
                self.server.max_body_bytes_in_flight as u64,
            ),
        ];
        // A body as large as allowed must fit in the room for bodies.
        for (key, limit) in [
            ("ingest.max_body_bytes", self.ingest.max_body_bytes),
            ("plugins.max_upload_bytes", self.plugins.max_upload_bytes),
        ] {
            anyhow::ensure!(
                limit <= self.server.max_body_bytes_in_flight,
                "invalid configuration: {key} ({limit}) is more than server.max_body_bytes_in_flight ({}): raise that too",
                self.server.max_body_bytes_in_flight
            );
        }
        for (key, value) in positive {
            anyhow::ensure!(value > 0, "invalid configuration: {key} must be greater than 0");
        }
        for source in &self.sources.websocket {
            // The build has no TLS: wss:// would fail at every connect.
            if source.url.starts_with("wss://") {
                anyhow::bail!(
                    "invalid configuration: WebSocket source `{}`: wss:// (TLS) is not supported; use a ws:// URL",
                    source.url
                );
            }
            anyhow::ensure!(
                source.url.starts_with("ws://"),
                "invalid configuration: WebSocket source `{}` is not a WebSocket URL: it must start with ws://",
                source.url
            );
        }
        self.retention()?;
        if self.storage.backend == Backend::Postgres {
            anyhow::ensure!(
                !self.storage.url.trim().is_empty(),
                "invalid configuration: storage.backend is postgres but storage.url is empty; give the database as postgres://user:password@host:port/database (LOGPROC_STORAGE__URL)"
            );
        }
        for (key, secret) in self.secrets() {
            anyhow::ensure!(
                secret.as_ref().is_none_or(|secret| !secret.trim().is_empty()),
                "invalid configuration: {key} is empty; leave it unset or give a long random secret"
            );
        }
        check_log_filter(&self.log_level)
            .map_err(|reason| anyhow::anyhow!("invalid configuration: log_level `{}`: {reason}", self.log_level))?;
        self.listen_addrs()?;
        Ok(())
    }

    /// Worker count with 0 resolved to the available cores.
    pub fn workers(&self) -> usize {
        match self.pipeline.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// `storage.retention`: `None` keeps every minute.
    pub fn retention(&self) -> anyhow::Result<Option<Duration>> {
        let text = self.storage.retention.trim();
        if text == "0" {
            return Ok(None);
        }
        let ms = crate::time::parse_duration_ms(text).filter(|ms| *ms >= 3_600_000).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: storage.retention `{text}` must be a duration of an hour or more (`30d`, `12h`), or 0 to keep every minute"
            )
        })?;
        Ok(Some(Duration::from_millis(ms as u64)))
    }

    pub fn commit_interval(&self) -> Duration {
        Duration::from_millis(self.storage.commit_interval_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.watch.poll_interval_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.server.shutdown_timeout_ms)
    }

    /// The compiled-plugin cache: `plugins.cache_dir`, else
    /// `$XDG_CACHE_HOME/logproc`, else `~/.cache/logproc`; none when
    /// disabled or when there is no such directory to use.
    pub fn plugin_cache(&self) -> Option<crate::plugin::CompileCache> {
        if !self.plugins.compile_cache {
            return None;
        }
        let from_env = |name| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        let dir = self.plugins.cache_dir.clone().or_else(|| {
            from_env("XDG_CACHE_HOME")
                .or_else(|| from_env("HOME").map(|home| home.join(".cache")))
                .map(|cache| cache.join("logproc"))
        })?;
        Some(crate::plugin::CompileCache::new(dir))
    }

    pub fn plugin_limits(&self) -> crate::plugin::Limits {
        crate::plugin::Limits {
            memory_bytes: self.plugins.memory_limit_mib << 20,
            call_timeout: Duration::from_millis(self.plugins.call_timeout_ms),
            batch_timeout: Duration::from_millis(self.plugins.batch_timeout_ms),
            component_bytes: self.plugins.max_upload_bytes,
            compile_timeout: Duration::from_millis(self.plugins.compile_timeout_ms),
            compile_memory_bytes: self.plugins.compile_memory_mib << 20,
        }
    }
}
