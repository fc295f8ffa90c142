//! Settings: the embedded defaults (`configs/config.yaml`), then an optional
//! file, then `LOGPROC_SECTION__KEY` environment variables, then flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
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
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Longest a graceful shutdown may take.
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Directory of the sled database.
    pub data_dir: PathBuf,
    /// Interval between commits.
    pub commit_interval_ms: u64,
    /// sled's page cache, in MiB.
    pub cache_mib: u64,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Directory of plugin files (`NAME.wasm`), watched.
    pub dir: PathBuf,
    /// Bearer token for `PUT`/`DELETE /plugins/{name}`; without one, they
    /// are disabled.
    #[serde(default, serialize_with = "redacted")]
    pub upload_token: Option<String>,
    /// Largest plugin `PUT /plugins/{name}` accepts.
    pub max_upload_bytes: usize,
    /// Linear memory cap per plugin instance, in MiB.
    pub memory_limit_mib: usize,
    /// Longest one plugin call may run.
    pub call_timeout_ms: u64,
    /// Keep compiled plugins on disk, so each is compiled once.
    pub compile_cache: bool,
    /// Where; unset, the user's cache directory.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
}

/// A secret, printed (by `--print-config`) only as whether it is set.
fn redacted<S: serde::Serializer>(secret: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_some() { "(set)" } else { "(not set)" })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Largest body `POST /ingest` accepts; larger is refused with 413.
    pub max_body_bytes: usize,
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
}

fn auto() -> String {
    crate::pipeline::route::AUTO.to_owned()
}

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
}

/// Values from command-line flags, applied last.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub watch_dir: Option<PathBuf>,
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
            builder = builder.add_source(File::from(path).required(true));
        }
        // Without prefix_separator("_"), the crate expects LOGPROC__KEY and
        // silently ignores LOGPROC_LOG_LEVEL.
        builder = builder.add_source(
            Environment::with_prefix("LOGPROC")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        );
        if let Some(listen) = overrides.listen {
            builder = builder.set_override("server.listen", listen.to_string())?;
        }
        if let Some(dir) = &overrides.data_dir {
            builder = builder.set_override("storage.data_dir", dir.to_string_lossy().into_owned())?;
        }
        if let Some(dir) = &overrides.watch_dir {
            builder = builder.set_override("watch.dir", dir.to_string_lossy().into_owned())?;
        }
        let mut settings: Settings = builder
            .build()?
            .try_deserialize()
            .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
        settings
            .sources
            .websocket
            .extend(overrides.ws_sources.iter().map(|url| WebSocketSource {
                url: url.clone(),
                parser: auto(),
                settings: BTreeMap::new(),
            }));
        settings.validate()?;
        Ok(settings)
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
            ("storage.commit_interval_ms", self.storage.commit_interval_ms),
            ("storage.cache_mib", self.storage.cache_mib),
            ("watch.poll_interval_ms", self.watch.poll_interval_ms),
            ("watch.final_line_idle_ms", self.watch.final_line_idle_ms),
            ("watch.forget_after_ms", self.watch.forget_after_ms),
        ];
        for (key, value) in positive {
            anyhow::ensure!(value > 0, "invalid configuration: {key} must be greater than 0");
        }
        for source in &self.sources.websocket {
            // The build has no TLS: wss:// would fail at every connect.
            anyhow::ensure!(
                source.url.starts_with("ws://"),
                "invalid configuration: WebSocket source `{}` must start with ws:// (wss:// is not supported)",
                source.url
            );
        }
        Ok(())
    }

    /// Worker count with 0 resolved to the available cores.
    pub fn workers(&self) -> usize {
        match self.pipeline.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
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
        }
    }
}
