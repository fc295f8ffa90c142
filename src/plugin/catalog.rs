//! Where plugins come from: built into the binary, or `NAME.wasm` files in
//! the plugin directory, which add plugin NAME or override the built-in one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::builtin::builtin_plugins;
use super::{CompiledPlugin, PluginEngine, PluginError, PluginSource};

/// The compiled plugins by name.
pub type Plugins = HashMap<String, Arc<CompiledPlugin>>;

/// Compiles the built-in plugins and those in `dir` (if it exists), in
/// parallel. A file that is not a valid plugin is logged and left out; a
/// built-in that fails is a broken build, and an error.
pub fn load(engine: &PluginEngine, dir: &Path) -> anyhow::Result<Plugins> {
    let mut candidates: Vec<(String, Vec<u8>, PluginSource)> = builtin_plugins()
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec(), PluginSource::Builtin))
        .collect();
    candidates.extend(plugin_files(dir));
    let compiled: Vec<(PluginSource, Result<CompiledPlugin, PluginError>)> = std::thread::scope(|scope| {
        let compiling: Vec<_> = candidates
            .iter()
            .map(|(name, bytes, source)| {
                let compile = move || {
                    let started = Instant::now();
                    let plugin = engine.compile(name, bytes, source.clone());
                    debug!(plugin = %name, ms = started.elapsed().as_millis() as u64, "Compiled plugin.");
                    plugin
                };
                (source.clone(), scope.spawn(compile))
            })
            .collect();
        compiling
            .into_iter()
            .map(|(source, handle)| (source, handle.join().expect("plugin compilation panicked")))
            .collect()
    });
    let mut plugins = Plugins::new();
    for (source, result) in compiled {
        match (result, source) {
            (Ok(plugin), source) => {
                if let PluginSource::File(path) = &source {
                    let replaces = plugins
                        .contains_key(plugin.name())
                        .then_some(" (replaces the built-in one)");
                    info!(plugin = plugin.name(), version = plugin.version(), path = %path.display(), "Loaded plugin{}.", replaces.unwrap_or(""));
                }
                plugins.insert(plugin.name().to_owned(), Arc::new(plugin));
            }
            (Err(error), PluginSource::File(path)) => {
                error!(path = %path.display(), error = %error, "Plugin file refused; it is not loaded.");
            }
            (Err(error), PluginSource::Builtin) => return Err(error.into()),
        }
    }
    Ok(plugins)
}

/// (name, bytes, source) of every `NAME.wasm` in `dir`, by name.
fn plugin_files(dir: &Path) -> Vec<(String, Vec<u8>, PluginSource)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            warn!(dir = %dir.display(), error = %error, "Cannot list the plugin directory.");
            return Vec::new();
        }
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wasm"))
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            match std::fs::read(&path) {
                Ok(bytes) => Some((name, bytes, PluginSource::File(path))),
                Err(error) => {
                    error!(path = %path.display(), error = %error, "Cannot read plugin file.");
                    None
                }
            }
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}
