//! Integration tests: the real binary, a real socket, sled on disk, the
//! plugins built from source. Expected values are computed by the tests from
//! the data they write, never by the code under test.

mod access;
mod clients;
mod config;
mod crash;
mod dashboard;
mod disk;
mod file_lifecycle;
mod files;
mod formats;
mod generator;
mod helpers;
mod hot_swap;
mod ingest;
mod metrics;
mod pg;
mod plugins;
mod postgres;
mod process;
mod sandbox;
mod service;
mod shipper_clients;
mod shippers;
mod sql_queries;
mod stats_api;
mod store_copy;
mod timeseries;
mod truth;
mod wat_plugin;
