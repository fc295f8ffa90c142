//! `GET /plugins`: the parsers the service has loaded.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use crate::plugin::{PluginCounters, PluginSource};

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
    /// `built-in` or `file`.
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
    /// Calls that returned a wrong number of outcomes.
    pub wrong_outcome_counts: u64,
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
    let mut plugins: Vec<PluginDoc> = catalog
        .plugins()
        .values()
        .map(|plugin| {
            let (source, path) = match plugin.source() {
                PluginSource::Builtin => ("built-in", None),
                PluginSource::File(path) => ("file", Some(path.display().to_string())),
            };
            PluginDoc {
                name: plugin.name().to_owned(),
                version: plugin.version().to_owned(),
                sha256: plugin.sha256().to_owned(),
                source,
                path,
                loaded_at: crate::time::rfc3339_millis(plugin.loaded_at_ms()),
                degraded: plugin.counters().degraded(),
                counters: counters(plugin.counters()),
            }
        })
        .collect();
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
