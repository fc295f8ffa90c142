//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::generator::file::{GenOptions, LineFormat};
use crate::generator::{LevelChoice, Profile};

#[derive(Debug, Parser)]
#[command(
    name = "logproc",
    version,
    about = "Log processing with WebAssembly parser plugins and exactly-once counts."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: read and follow the watch directory, serve statistics over HTTP.
    Serve(ServeArgs),
    /// Count the given files once, print the statistics and exit (no server, nothing stored).
    Process(ProcessArgs),
    /// Write synthetic logs to a file, with their true counts as JSON.
    Gen(GenArgs),
    /// Work with parser plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with stores (where the counts live).
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the counts and file checkpoints of one store into another, in one
    /// commit: a node moves to another backend (sled to PostgreSQL, say)
    /// without reading any file again. Stop the service on both first.
    Copy(StoreCopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreCopyArgs {
    /// The store to copy: sled:DIR, sqlite:FILE or postgres://user:password@host:port/database.
    #[arg(long, value_name = "STORE")]
    pub from: String,
    /// The store to copy into, named the same way; it must hold no commits of this node.
    #[arg(long, value_name = "STORE")]
    pub to: String,
    /// The node whose checkpoints are read and written in PostgreSQL (default: node.id of
    /// --config, else the host name).
    #[arg(long)]
    pub node: Option<String>,
    /// A config file (for node.id, and sled's storage settings).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a plugin file against the contract (wit/parser.wit) and show how
    /// it parses sample lines. Exits 1 if the contract is broken.
    Check(PluginCheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct PluginCheckArgs {
    /// The plugin: a WebAssembly component (.wasm), or the name of a built-in one (json, regex).
    #[arg(value_name = "FILE.wasm|NAME")]
    pub file: PathBuf,
    /// Lines to parse with it, one per line.
    #[arg(long, value_name = "FILE")]
    pub sample: Option<PathBuf>,
    /// A setting passed to the plugin's configure, as a route's `settings` would (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    Ok((key.to_owned(), value.to_owned()))
}

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Number of lines to write.
    #[arg(long)]
    pub lines: u64,
    /// Line format: json (the json plugin's) or text (the regex plugin's default).
    #[arg(long, value_enum, default_value_t = LineFormat::Json)]
    pub format: LineFormat,
    /// Seed; the same seed writes the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Level distribution, such as INFO:70,WARN:20,ERROR:10.
    #[arg(long, value_name = "WEIGHTS", default_value = "INFO:70,WARN:20,ERROR:10")]
    pub level_weights: String,
    /// Comma-separated services [default: auth, orders, payments, inventory, notifications, gateway].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub services: Vec<String>,
    /// Share of lines (0 to 1) written malformed on purpose: invalid JSON, or (text) free text, which auto counts under the file's name.
    #[arg(long, value_name = "RATIO", default_value_t = 0.0)]
    pub invalid_ratio: f64,
    /// Timestamp of the first line, epoch milliseconds [default: 2025-01-01T00:00:00Z].
    #[arg(long, value_name = "MS", default_value_t = 1_735_689_600_000)]
    pub start_ms: i64,
    /// File to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where the true counts go: a file, or - for stdout [default: FILE.truth.json].
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

impl GenArgs {
    /// The validated options.
    pub fn options(&self) -> anyhow::Result<GenOptions> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.invalid_ratio),
            "--invalid-ratio must be between 0 and 1, got {}",
            self.invalid_ratio
        );
        let levels =
            LevelChoice::parse_weights(&self.level_weights).map_err(|e| anyhow::anyhow!("--level-weights: {e}"))?;
        let services = if self.services.is_empty() {
            Profile::known()
        } else {
            for name in &self.services {
                anyhow::ensure!(!name.trim().is_empty(), "--services: a service name is empty");
            }
            self.services.iter().map(|name| Profile::for_service(name)).collect()
        };
        Ok(GenOptions {
            lines: self.lines,
            format: self.format,
            seed: self.seed,
            levels,
            services,
            invalid_ratio: self.invalid_ratio,
            start_ms: self.start_ms,
            out: self.out.clone(),
        })
    }

    /// Where the truth goes; `None` for stdout.
    pub fn truth_path(&self) -> Option<PathBuf> {
        match &self.truth {
            Some(path) if path.as_os_str() == "-" => None,
            Some(path) => Some(path.clone()),
            None => {
                let mut path = self.out.clone().into_os_string();
                path.push(".truth.json");
                Some(path.into())
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (YAML) laid over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP API, HOST:PORT (a host name or an IP address) [default: 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Directory for counters and checkpoints [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory whose files are read and followed [default: ./logs].
    #[arg(long, value_name = "DIR")]
    pub watch_dir: Option<PathBuf>,
    /// Directory of parser plugins (NAME.wasm), watched [default: ./plugins-runtime].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Subscribe to a WebSocket log stream (repeatable); each text message is a line, parsed with auto.
    #[arg(long = "ws-source", value_name = "URL")]
    pub ws_sources: Vec<String>,
    /// Print the effective configuration as YAML (what --config reads; secrets left out) and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// Configuration file (YAML) laid over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of parser plugins (NAME.wasm) [default: ./plugins-runtime].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Parser for every file: a plugin name (json, regex) or auto. Without it,
    /// the configured routes choose by file name, and auto reads the rest.
    #[arg(long, value_name = "PARSER")]
    pub parser: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// With --format json: each service also has its `components` and every minute (`per_minute`).
    #[arg(long)]
    pub detailed: bool,
    /// Also print, to stderr, the format chosen for each file, its counts, and its first invalid lines with the reasons.
    #[arg(long)]
    pub explain: bool,
    /// No progress bar (shown on stderr when it is a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// Files to count.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The same document as GET /stats.
    Json,
    /// Aligned columns, for people.
    Table,
}
