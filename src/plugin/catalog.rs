//! Where plugins come from: built into the binary, or `NAME.wasm` files in
//! the plugin directory, which add plugin NAME or replace the built-in one.
//! The directory can change while the service runs: [`Catalog::rescan`]
//! swaps in new and changed files that pass every check, and puts built-ins
//! back when their replacement is removed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::builtin::builtin_plugins;
use super::{CompiledPlugin, PluginEngine, PluginError, PluginSource, sha256_hex};

/// The compiled plugins by name.
pub type Plugins = HashMap<String, Arc<CompiledPlugin>>;

/// A plugin file that did not pass; the version before it (if any) serves on.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes: the same bytes are not tried again.
    pub sha256: String,
    /// What is wrong with it.
    pub reason: String,
    /// When it was refused, epoch milliseconds.
    pub at_ms: i64,
}

/// The plugins in use, by name.
pub struct Catalog {
    engine: PluginEngine,
    dir: PathBuf,
    builtins: Plugins,
    current: RwLock<Plugins>,
    /// Refused files, by plugin name.
    refused: Mutex<BTreeMap<String, Refused>>,
    /// Held by whatever changes the plugins: one change at a time.
    changing: Mutex<()>,
}

/// Why an upload or a removal did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The name or the plugin is not acceptable.
    #[error("{0}")]
    Refused(String),
    /// No such plugin.
    #[error("no plugin named `{0}`")]
    Unknown(String),
    /// The plugin directory could not be written.
    #[error("cannot write the plugin directory: {0}")]
    Io(#[from] std::io::Error),
}

impl Catalog {
    /// Compiles the built-in plugins and those in `dir` (if it exists), in
    /// parallel. A file that is not a valid plugin is logged and left out; a
    /// built-in that fails is a broken build, and an error.
    pub fn load(engine: PluginEngine, dir: &Path) -> anyhow::Result<Catalog> {
        let builtins: Vec<_> = builtin_plugins()
            .into_iter()
            .map(|(name, bytes)| (name.to_owned(), bytes.to_vec(), PluginSource::Builtin))
            .collect();
        let mut builtin_plugins = Plugins::new();
        for (_, result) in compile_all(&engine, &builtins) {
            let plugin = result?;
            builtin_plugins.insert(plugin.name().to_owned(), Arc::new(plugin));
        }
        let catalog = Catalog {
            engine,
            dir: dir.to_path_buf(),
            current: RwLock::new(builtin_plugins.clone()),
            builtins: builtin_plugins,
            refused: Mutex::new(BTreeMap::new()),
            changing: Mutex::new(()),
        };
        // Nothing routes to a plugin yet: settings are checked when routes are made.
        catalog.rescan(&|_| Ok(()));
        Ok(catalog)
    }

    /// The plugin named `name` now.
    pub fn get(&self, name: &str) -> Option<Arc<CompiledPlugin>> {
        self.current.read().expect("catalog lock poisoned").get(name).cloned()
    }

    /// Every plugin in use, by name.
    pub fn plugins(&self) -> Plugins {
        self.current.read().expect("catalog lock poisoned").clone()
    }

    /// Every refused file, by plugin name.
    pub fn refused(&self) -> BTreeMap<String, Refused> {
        self.refused.lock().expect("catalog lock poisoned").clone()
    }

    /// The plugin directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings the plugins in line with the directory: a new or changed file
    /// that compiles, implements the contract and passes `accept` (the
    /// settings routes give it) replaces its name's plugin in one swap; one
    /// that does not is refused and the version before it serves on. A
    /// removed file's plugin goes, and a built-in it replaced comes back.
    pub fn rescan(&self, accept: &dyn Fn(&CompiledPlugin) -> Result<(), String>) {
        let _changing = self.changing.lock().expect("catalog lock poisoned");
        let files = plugin_files(&self.dir, self.engine.limits.component_bytes);
        let current = self.plugins();
        // Listed once: what is on disk decides removals too.
        let on_disk: Vec<String> = files.iter().map(|(name, _, _)| name.clone()).collect();
        let changed: Vec<_> = {
            let mut refused = self.refused.lock().expect("catalog lock poisoned");
            refused.retain(|name, _| on_disk.contains(name));
            files
                .into_iter()
                .filter(|(name, bytes, _)| {
                    let sha256 = sha256_hex(bytes);
                    let loaded = current.get(name).is_some_and(|plugin| plugin.sha256() == sha256);
                    let already_refused = refused.get(name).is_some_and(|entry| entry.sha256 == sha256);
                    !loaded && !already_refused
                })
                .collect()
        };
        // Compiled and checked (plugin code runs: describe, configure) with
        // no lock held that `/plugins` or a lookup needs.
        let checked: Vec<_> = compile_all(&self.engine, &changed)
            .into_iter()
            .map(|(_, result)| {
                result
                    .map_err(|error| error.to_string())
                    .and_then(|plugin| accept(&plugin).map(|()| plugin))
            })
            .collect();
        let mut refused = self.refused.lock().expect("catalog lock poisoned");
        let mut swaps = Vec::new();
        for ((name, bytes, source), checked) in changed.iter().zip(checked) {
            let PluginSource::File(path) = source else { continue };
            match checked {
                Ok(plugin) => {
                    refused.remove(name);
                    swaps.push(plugin);
                }
                Err(reason) => {
                    error!(path = ?path, %reason, "Plugin file refused; the version before it (if any) serves on.");
                    refused.insert(
                        name.clone(),
                        Refused {
                            path: path.clone(),
                            sha256: sha256_hex(bytes),
                            reason,
                            at_ms: crate::time::now_ms(),
                        },
                    );
                }
            }
        }
        drop(refused);
        let mut plugins = self.current.write().expect("catalog lock poisoned");
        for plugin in swaps {
            let before = plugins.get(plugin.name()).map(|old| old.version().to_owned());
            info!(
                plugin = plugin.name(),
                version = plugin.version(),
                replaces = before.as_deref().unwrap_or("nothing"),
                "Plugin loaded."
            );
            plugins.insert(plugin.name().to_owned(), Arc::new(plugin));
        }
        let removed: Vec<String> = plugins
            .iter()
            .filter(|(name, plugin)| plugin.source() != &PluginSource::Builtin && !on_disk.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in removed {
            match self.builtins.get(&name) {
                Some(builtin) => {
                    info!(plugin = %name, "Plugin file removed; the built-in plugin is back.");
                    plugins.insert(name, builtin.clone());
                }
                None => {
                    warn!(plugin = %name, "Plugin file removed; lines routed to it are counted invalid.");
                    plugins.remove(&name);
                }
            }
        }
    }
}

impl Catalog {
    /// Checks `bytes` as plugin `name` (the contract, then `accept`) and, if
    /// it passes, keeps it in the plugin directory and swaps it in.
    pub fn install(
        &self,
        name: &str,
        bytes: &[u8],
        accept: &dyn Fn(&CompiledPlugin) -> Result<(), String>,
    ) -> Result<Arc<CompiledPlugin>, ChangeError> {
        check_name(name)?;
        let _changing = self.changing.lock().expect("catalog lock poisoned");
        let path = self.dir.join(format!("{name}.wasm"));
        let plugin = self
            .engine
            .compile(name, bytes, PluginSource::Upload(path.clone()))
            .map_err(|error| ChangeError::Refused(error.to_string()))?;
        accept(&plugin).map_err(ChangeError::Refused)?;
        // The directory never holds half a plugin.
        std::fs::create_dir_all(&self.dir)?;
        crate::atomic_file::write(&path, &[bytes])?;
        let plugin = Arc::new(plugin);
        self.refused.lock().expect("catalog lock poisoned").remove(name);
        let before = self
            .current
            .write()
            .expect("catalog lock poisoned")
            .insert(name.to_owned(), plugin.clone());
        info!(
            plugin = name,
            version = plugin.version(),
            replaces = before.as_ref().map_or("nothing", |old| old.version()),
            "Plugin uploaded."
        );
        Ok(plugin)
    }

    /// Removes plugin `name`'s file: a built-in it replaced comes back.
    pub fn remove(
        &self,
        name: &str,
        accept: &dyn Fn(&CompiledPlugin) -> Result<(), String>,
    ) -> Result<(), ChangeError> {
        check_name(name)?;
        let path = self.dir.join(format!("{name}.wasm"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(match self.builtins.contains_key(name) {
                    true => ChangeError::Refused(format!("`{name}` is built in and cannot be removed (only replaced)")),
                    false => ChangeError::Unknown(name.to_owned()),
                });
            }
            Err(error) => return Err(error.into()),
        }
        self.rescan(accept);
        Ok(())
    }
}

/// A plugin name is a file name: letters, digits, `-` and `_`.
fn check_name(name: &str) -> Result<(), ChangeError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name != "auto"
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match valid {
        true => Ok(()),
        false => Err(ChangeError::Refused(format!(
            "`{}` is not a plugin name: use 1 to 64 letters, digits, `-` or `_` (and not `auto`)",
            super::shown(name, 80)
        ))),
    }
}

/// Compiles every (name, bytes, source), as many at once as there are
/// cores (each compiler child may use `plugins.compile_memory_mib`). A file
/// whose name is not a plugin name is refused uncompiled.
fn compile_all(
    engine: &PluginEngine,
    candidates: &[(String, Vec<u8>, PluginSource)],
) -> Vec<(String, Result<CompiledPlugin, PluginError>)> {
    let at_once = std::thread::available_parallelism().map_or(1, usize::from);
    let compile = |name: &str, bytes: &[u8], source: &PluginSource| {
        if let (PluginSource::File(_), Err(error)) = (source, check_name(name)) {
            return Err(PluginError::Invalid {
                name: super::shown(name, 80),
                reason: anyhow::anyhow!(error.to_string()),
            });
        }
        let started = Instant::now();
        let plugin = engine.compile(name, bytes, source.clone());
        debug!(plugin = %name, ms = started.elapsed().as_millis() as u64, "Compiled plugin.");
        plugin
    };
    let mut compiled = Vec::with_capacity(candidates.len());
    for some in candidates.chunks(at_once) {
        std::thread::scope(|scope| {
            let compiling: Vec<_> = some
                .iter()
                .map(|(name, bytes, source)| (name.clone(), scope.spawn(|| compile(name, bytes, source))))
                .collect();
            for (name, handle) in compiling {
                compiled.push((name, handle.join().expect("plugin compilation panicked")));
            }
        });
    }
    compiled
}

/// The `NAME.wasm` files in `dir` (none if it does not exist).
fn plugin_paths(dir: &Path) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            warn!(dir = %dir.display(), error = %error, "Cannot list the plugin directory.");
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wasm") && path.is_file())
        .collect();
    paths.sort();
    paths
}

/// (name, bytes, source) of every `NAME.wasm` in `dir`, by name.
fn plugin_files(dir: &Path, max_bytes: usize) -> Vec<(String, Vec<u8>, PluginSource)> {
    // Read one byte past the cap, so that a larger file is refused for its
    // size without being read whole.
    let read = |path: &Path| -> std::io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    plugin_paths(dir)
        .into_iter()
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            match read(&path) {
                Ok(bytes) => Some((name, bytes, PluginSource::File(path))),
                Err(error) => {
                    error!(path = ?path, error = %error, "Cannot read plugin file.");
                    None
                }
            }
        })
        .collect()
}

/// What a new plugin version must pass besides the contract.
pub type Accept = Arc<dyn Fn(&CompiledPlugin) -> Result<(), String> + Send + Sync>;

/// Keeps `catalog` in line with its directory until cancelled: rescans on
/// every change (after a short pause, so that a file being copied in is
/// whole) and on an interval, as events can be missed.
pub async fn follow_dir(
    catalog: Arc<Catalog>,
    accept: Accept,
    interval: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use notify::Watcher as _;
    std::fs::create_dir_all(&catalog.dir)
        .map_err(|error| anyhow::anyhow!("cannot create the plugin directory {}: {error}", catalog.dir.display()))?;
    let (event_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|event| !event.kind.is_access()) {
            let _ = event_tx.send(());
        }
    })?;
    watcher.watch(&catalog.dir, notify::RecursiveMode::NonRecursive)?;
    info!(dir = %catalog.dir.display(), "Watching the plugin directory.");
    let mut poll = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = events.recv() => {
                tokio::time::sleep(SETTLE).await;
                while events.try_recv().is_ok() {}
            }
            _ = poll.tick() => {}
        }
        let (catalog, accept) = (catalog.clone(), accept.clone());
        tokio::task::spawn_blocking(move || catalog.rescan(accept.as_ref())).await?;
    }
}

/// Pause after a change in the plugin directory before reading it.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);
