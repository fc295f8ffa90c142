//! logproc: a log processing service. Lines come in from a watched
//! directory; sandboxed WebAssembly plugins parse them; one aggregator
//! commits counters and file checkpoints atomically, so every line is counted
//! exactly once; an HTTP API serves the statistics.
//!
//! # Layout
//!
//! - [`cli`]: command-line arguments.
//! - [`config`]: settings from embedded defaults, a file, the environment, flags.
//! - [`app`]: wiring of `serve` and `process`.
//! - [`ingest`]: sources of lines (the watched directory and its file readers).
//! - [`pipeline`]: batches, routes, worker threads, the aggregator.
//! - [`plugin`]: the wasmtime engine, compiled plugins, sandboxed instances.
//! - [`model`]: levels and the per-batch `Delta` of counts.
//! - [`store`]: the storage trait, its key layout, sled and in-memory backends.
//! - [`stats`]: the statistics documents, read from a store.
//! - [`progress`]: the progress bar of `logproc process`.
//! - [`api`]: the HTTP routes.
//! - [`generator`]: realistic synthetic logs, over WebSocket and into files.
//! - [`time`]: epoch milliseconds and RFC 3339.
//! - [`atomic_file`]: files replaced whole (markers, plugins, caches).

pub mod api;
pub mod app;
pub mod atomic_file;
pub mod cli;
pub mod config;
pub mod explain;
pub mod generator;
pub mod ingest;
pub mod model;
pub mod pipeline;
pub mod plugin;
pub mod progress;
pub mod stats;
pub mod store;
pub mod time;
pub mod timezone;
