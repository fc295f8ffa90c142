//! `GET /plugins`: the parsers the service has loaded.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::plugin::catalog::ChangeError;
use crate::plugin::{CompiledPlugin, PluginCounters};

fn counters(counters: &PluginCounters) -> CountersDoc {
    let read = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    CountersDoc {
        batches: read(&counters.batches),
        lines_parsed: read(&counters.lines_parsed),
        lines_invalid: read(&counters.lines_invalid),
        traps: read(&counters.traps),
        timeouts: read(&counters.timeouts),
        wrong_outcome_counts: read(&counters.wrong_outcome_counts),
    }
}

/// One loaded plugin.
#[derive(Debug, Serialize)]
pub struct PluginDoc {
    pub name: String,
    /// As the plugin describes itself.
    pub version: String,
    /// SHA-256 of the component's bytes.
    pub sha256: String,
    /// `built-in`, `file` (dropped in the plugin directory) or `upload`.
    pub source: &'static str,
    /// The file, for a plugin from the plugin directory.
    pub path: Option<String>,
    /// When it was loaded, RFC 3339 UTC.
    pub loaded_at: String,
    /// True while its recent batches all fail.
    pub degraded: bool,
    pub counters: CountersDoc,
}

/// What the plugin has done since it was loaded.
#[derive(Debug, Serialize)]
pub struct CountersDoc {
    pub batches: u64,
    pub lines_parsed: u64,
    /// Lines it called invalid, or failed on.
    pub lines_invalid: u64,
    /// Calls that trapped: a panic, a bad memory access, the memory cap.
    pub traps: u64,
    /// Calls stopped at `plugins.call_timeout_ms`.
    pub timeouts: u64,
    /// Calls that broke the contract: a wrong number of outcomes, or a
    /// name index past the names returned.
    pub wrong_outcome_counts: u64,
}

fn plugin_doc(plugin: &CompiledPlugin) -> PluginDoc {
    PluginDoc {
        name: plugin.name().to_owned(),
        version: plugin.version().to_owned(),
        sha256: plugin.sha256().to_owned(),
        source: plugin.source().kind(),
        path: plugin.source().path().map(|path| path.display().to_string()),
        loaded_at: crate::time::rfc3339_millis(plugin.loaded_at_ms()),
        degraded: plugin.counters().degraded(),
        counters: counters(plugin.counters()),
    }
}

/// `PUT /plugins/{name}`: the body is a component; checked, kept in the
/// plugin directory and swapped in, or refused with the reason.
pub async fn put_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PluginDoc>, ApiError> {
    // Before a byte of the body is read.
    authorize(&state, &headers)?;
    let limit = state.uploads.max_bytes;
    let body = state
        .bodies
        .read(&headers, body, limit, 0, || {
            format!("the plugin is larger than plugins.max_upload_bytes ({limit} bytes)")
        })
        .await?;
    let parsers = state.parsers.clone();
    let installed = tokio::task::spawn_blocking(move || {
        let _room = body.room;
        parsers
            .catalog()
            .install(&name, &body.bytes, &|plugin| parsers.accepts(plugin))
    })
    .await
    .map_err(anyhow::Error::from)?;
    installed.map(|plugin| Json(plugin_doc(&plugin))).map_err(change_error)
}

/// `DELETE /plugins/{name}`: removes an uploaded or dropped-in plugin (a
/// built-in it replaced comes back).
pub async fn delete_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    let parsers = state.parsers.clone();
    let removed = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || parsers.catalog().remove(&name, &|plugin| parsers.accepts(plugin)))
            .await
            .map_err(anyhow::Error::from)?
    };
    removed.map_err(change_error)?;
    Ok(Json(serde_json::json!({ "removed": name })))
}

fn change_error(error: ChangeError) -> ApiError {
    match error {
        ChangeError::Refused(reason) => ApiError::BadRequest(reason),
        ChangeError::Unknown(_) => ApiError::NotFound(error.to_string()),
        ChangeError::Io(_) => ApiError::Internal(error.into()),
    }
}

/// Changing plugins needs the configured token: none configured, 403; a
/// missing or wrong one, 401.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.uploads.token else {
        return Err(ApiError::Forbidden(
            "changing plugins over HTTP is disabled: set plugins.upload_token (or LOGPROC_PLUGINS__UPLOAD_TOKEN) to enable it".into(),
        ));
    };
    super::auth::check(token, "plugins.upload_token", headers)
}

/// A plugin file that was refused (the version before it serves on).
#[derive(Debug, Serialize)]
pub struct RefusedDoc {
    pub name: String,
    pub path: String,
    pub sha256: String,
    /// What is wrong with it.
    pub reason: String,
    /// When, RFC 3339 UTC.
    pub refused_at: String,
}

/// `GET /plugins`.
#[derive(Debug, Serialize)]
pub struct PluginsDoc {
    pub plugins: Vec<PluginDoc>,
    pub refused: Vec<RefusedDoc>,
}

pub async fn list_plugins(State(state): State<AppState>) -> Json<PluginsDoc> {
    let catalog = state.parsers.catalog();
    let mut plugins: Vec<PluginDoc> = catalog.plugins().values().map(|plugin| plugin_doc(plugin)).collect();
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    let refused = catalog
        .refused()
        .into_iter()
        .map(|(name, refused)| RefusedDoc {
            name,
            path: refused.path.display().to_string(),
            sha256: refused.sha256,
            reason: refused.reason,
            refused_at: crate::time::rfc3339_millis(refused.at_ms),
        })
        .collect();
    Json(PluginsDoc { plugins, refused })
}
