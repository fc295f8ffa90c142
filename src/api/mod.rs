//! The HTTP API: statistics, ingest (its own and the shippers'), plugins,
//! the mock generator, health.

mod auth;
mod body;
mod dashboard;
mod encoding;
mod error;
mod generator;
mod ingest;
mod metrics;
mod plugins;
pub mod server;
mod shippers;
mod stats;
mod timeseries;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::Tokens;
pub use body::BodyBudget;
pub use error::ApiError;
pub use metrics::HttpMetrics;
pub use shippers::Shippers;

use crate::pipeline::{Batch, ParserHandle, Parsers};
use crate::store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Where ingested lines go.
    pub batches: async_channel::Sender<Batch>,
    /// Parser choices, over the plugins loaded now.
    pub parsers: Arc<Parsers>,
    /// The choices `POST /ingest?parser=` has made so far, by name.
    /// Parsers `POST /ingest` chose, by parser and format.
    pub ingest_choices: Arc<Mutex<HashMap<(String, String), ParserHandle>>>,
    /// The configured HTTP sources (`POST /ingest?source=`), by name.
    pub http_sources: Arc<HashMap<String, ParserHandle>>,
    /// What OTLP and Loki push read records with.
    pub shippers: Arc<Shippers>,
    pub ingest_limits: IngestLimits,
    pub uploads: UploadSettings,
    /// Room for request bodies, shared by every request.
    pub bodies: BodyBudget,
    /// `/stats` as of the last commit, shared by its readers.
    pub stats_cache: Arc<stats::StatsCache>,
    /// Whether commits go through (`/healthz`; ingest waits while not).
    pub health: Arc<crate::pipeline::aggregator::CommitHealth>,
    /// What the pipeline committed, and how commits went (`/metrics`).
    pub pipeline_metrics: Arc<crate::pipeline::metrics::PipelineMetrics>,
    /// Requests answered (`/metrics`).
    pub http_metrics: Arc<HttpMetrics>,
    /// Bearer tokens of the read and ingest endpoints.
    pub tokens: Tokens,
    /// Files of the watch directory that no route matches, with the reason.
    pub ignored: crate::ingest::watch::IgnoredFiles,
    /// Cancelled on shutdown: generator streams send their close frames.
    pub shutdown: CancellationToken,
    /// Generator streams, waited for on shutdown.
    pub streams: TaskTracker,
}

/// `PUT`/`DELETE /plugins/{name}`.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Without one, changing plugins over HTTP is disabled.
    pub token: Option<String>,
    pub max_bytes: usize,
}

/// Limits of `POST /ingest` and the shippers' endpoints.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    pub max_body_bytes: usize,
    pub batch_lines: usize,
    pub batch_bytes: usize,
    /// Longer lines are counted invalid without being parsed.
    pub max_line_bytes: usize,
}

pub fn router(state: AppState) -> Router {
    let reads = Router::new()
        .route("/stats", get(stats::get_stats))
        // Before the service's page: these names are not services'.
        .route("/stats/timeseries", get(timeseries::get_timeseries))
        .route("/stats/top", get(timeseries::get_top))
        .route("/stats/{service}", get(stats::get_service))
        .route("/sources", get(stats::get_sources))
        .route("/metrics", get(metrics::get_metrics))
        .route("/plugins", get(plugins::list_plugins))
        .route("/ws/logs", get(generator::ws_logs))
        .route_layer(from_fn_with_state(state.clone(), auth::require_read));
    let ingest = Router::new()
        .route("/ingest", post(ingest::ingest))
        .route("/v1/logs", post(shippers::otlp_logs))
        .route("/loki/api/v1/push", post(shippers::loki_push))
        .route_layer(from_fn_with_state(state.clone(), auth::require_ingest));
    Router::new()
        .route("/", get(dashboard::get_dashboard))
        .route("/healthz", get(stats::healthz))
        .route("/ready", get(shippers::ready))
        // Its own token (plugins.upload_token), checked by the handlers.
        .route(
            "/plugins/{name}",
            put(plugins::put_plugin).delete(plugins::delete_plugin),
        )
        .merge(reads)
        .merge(ingest)
        .fallback(stats::not_found)
        .method_not_allowed_fallback(stats::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), metrics::count_requests))
        .with_state(state)
}
