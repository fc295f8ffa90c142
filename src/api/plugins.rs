//! `GET /plugins`: the parsers the service has loaded.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use crate::plugin::PluginSource;

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
}

pub async fn list_plugins(State(state): State<AppState>) -> Json<Vec<PluginDoc>> {
    let mut plugins: Vec<PluginDoc> = state
        .plugins
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
            }
        })
        .collect();
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    Json(plugins)
}
