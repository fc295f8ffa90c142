//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (YAML) laid over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP API [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for counters and checkpoints [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory whose files are read and followed [default: ./logs].
    #[arg(long, value_name = "DIR")]
    pub watch_dir: Option<PathBuf>,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// Configuration file (YAML) laid over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Parser for every file: a plugin name (json, regex) or auto. Without it,
    /// the configured routes choose by file name, and auto reads the rest.
    #[arg(long, value_name = "PARSER")]
    pub parser: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
