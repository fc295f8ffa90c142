//! Parser plugins: one wasmtime [`Engine`], plugins compiled once and shared
//! ([`CompiledPlugin`]), and per-worker instances ([`PluginInstance`]) that
//! run in a sandbox with no capabilities, a memory cap and a deadline per call.
#![deny(missing_docs)]

mod builtin;
mod cache;
pub mod catalog;
pub mod check;
pub mod compiler;
mod footprint;
mod sandbox;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

pub use cache::CompileCache;
use sandbox::HostState;

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "log-parser",
    });
}

/// The contract before 0.3.0: its plugins still load, without `detect` and
/// the batch context.
#[allow(missing_docs)]
mod bindings_v2 {
    wasmtime::component::bindgen!({
        path: "wit/older/parser-0.2.0.wit",
        world: "log-parser",
    });
}

pub use bindings::logproc::plugin::types::{BatchContext, Entry, Level as WitLevel, Outcome, ParsedBatch};
use bindings_v2::logproc::plugin::types as v2;

impl From<v2::ParsedBatch> for ParsedBatch {
    fn from(batch: v2::ParsedBatch) -> ParsedBatch {
        let level = |level: v2::Level| match level {
            v2::Level::Trace => WitLevel::Trace,
            v2::Level::Debug => WitLevel::Debug,
            v2::Level::Info => WitLevel::Info,
            v2::Level::Warn => WitLevel::Warn,
            v2::Level::Error => WitLevel::Error,
            v2::Level::Fatal => WitLevel::Fatal,
            v2::Level::Unknown => WitLevel::Unknown,
        };
        let outcomes = batch
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                v2::Outcome::Parsed(entry) => Outcome::Parsed(Entry {
                    timestamp_ms: entry.timestamp_ms,
                    level: level(entry.level),
                    service: entry.service,
                    component: entry.component,
                }),
                v2::Outcome::Skipped => Outcome::Skipped,
                v2::Outcome::Invalid(reason) => Outcome::Invalid(reason),
            })
            .collect();
        ParsedBatch {
            names: batch.names,
            outcomes,
        }
    }
}

/// A compiled plugin's contract version, ready to instantiate.
enum Pre {
    Current(bindings::LogParserPre<HostState>),
    V2(bindings_v2::LogParserPre<HostState>),
}

/// An instance's exports, by contract version.
enum Exports {
    Current(bindings::LogParser),
    V2(bindings_v2::LogParser),
}

impl ParsedBatch {
    /// Checks what the contract promises: one outcome per line (`lines`),
    /// and names that exist.
    pub fn check(&self, lines: usize) -> Result<(), String> {
        if self.outcomes.len() != lines {
            return Err(format!(
                "returned {} outcomes for {lines} lines (the contract is one per line)",
                self.outcomes.len()
            ));
        }
        let names = self.names.len();
        let in_range = |index: Option<u32>| index.is_none_or(|index| (index as usize) < names);
        match self.outcomes.iter().find(|outcome| match outcome {
            Outcome::Parsed(entry) => !in_range(entry.service) || !in_range(entry.component),
            _ => false,
        }) {
            Some(_) => Err(format!(
                "returned an entry naming a service or component past the {names} names it gave"
            )),
            None => Ok(()),
        }
    }

    /// The name at `index` (checked by [`ParsedBatch::check`]).
    pub fn name(&self, index: Option<u32>) -> Option<&str> {
        index.map(|index| self.names[index as usize].as_str())
    }
}

impl From<WitLevel> for crate::model::Level {
    fn from(level: WitLevel) -> Self {
        use crate::model::Level;
        match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
            WitLevel::Fatal => Level::Fatal,
            WitLevel::Unknown => Level::Unknown,
        }
    }
}

/// A plugin failure.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a component that implements the contract.
    #[error("plugin {name} is not a valid parser component: {}", error_text(reason))]
    Invalid {
        /// The plugin's name.
        name: String,
        /// What the check found.
        reason: anyhow::Error,
    },
    /// The plugin refused its settings.
    #[error("plugin {name} refused its settings: {reason}")]
    Settings {
        /// The plugin's name.
        name: String,
        /// The plugin's message.
        reason: String,
    },
    /// A call ran past its deadline.
    #[error("plugin {name} ran past its time limit of {limit:?}")]
    Timeout {
        /// The plugin's name.
        name: String,
        /// The limit.
        limit: Duration,
    },
    /// A call trapped (a panic, a bad access, the memory cap).
    #[error("plugin {name} failed: {}", error_text(reason))]
    Call {
        /// The plugin's name.
        name: String,
        /// The trap or error.
        reason: anyhow::Error,
    },
}

/// Most of a plugin's own text (an error, a reason) shown in logs and the API.
pub const MAX_SHOWN_BYTES: usize = 512;

/// Most bytes of the version `describe` may give.
const MAX_VERSION_BYTES: usize = 64;

/// Most resource handles (WASI streams, say) an instance may hold at once.
const MAX_HANDLES: usize = 1024;

/// Most bytes of a format name `detect` may give.
const MAX_FORMAT_BYTES: usize = 64;

/// `text` from a plugin, made safe to show: control characters escaped (a
/// newline cannot forge a log line), at most `max_bytes` (cut with `…`).
pub fn shown(text: &str, max_bytes: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let before = out.len();
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        if out.len() > max_bytes {
            out.truncate(before);
            out.push('…');
            break;
        }
    }
    out
}

/// An error of a plugin call on one line: its chain without wasm
/// backtraces (many lines, of no use to the service's users), shown safely.
fn error_text(error: &anyhow::Error) -> String {
    let parts: Vec<String> = error
        .chain()
        .map(|cause| match cause.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => "it ran past its time limit (plugins.call_timeout_ms)".to_owned(),
            _ => cause.to_string(),
        })
        .filter(|text| !text.starts_with("error while executing at wasm backtrace"))
        .collect();
    shown(&parts.join(": "), MAX_SHOWN_BYTES)
}

/// Limits on plugins: on each instance and call, and on what is compiled.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most linear memory one instance may have.
    pub memory_bytes: usize,
    /// Longest one call may run.
    pub call_timeout: Duration,
    /// Longest the calls for one batch may take together.
    pub batch_timeout: Duration,
    /// Largest component compiled (compilation takes time and memory in
    /// proportion).
    pub component_bytes: usize,
    /// Longest a component's compilation and check may take.
    pub compile_timeout: Duration,
    /// Most memory the compiler may use for one component (when it runs
    /// in a process of its own, see [`PluginEngine::compile_in_processes`]).
    pub compile_memory_bytes: usize,
}

/// The engine shared by every plugin, with the host side of the contract.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    limits: Limits,
    cache: Option<CompileCache>,
    /// The binary that compiles components other than the built-in ones in
    /// a child process (see compiler.rs); none: compiled in this process.
    compiler: Option<Arc<std::path::PathBuf>>,
}

/// The engine's settings: the same in the service and in its compiler
/// children, whose artifacts it loads.
fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    // For profiling with `perf` (WASMTIME_PERFMAP=1; not LOGPROC_*, which
    // is the configuration): plugin code gets names in
    // /tmp/perf-PID.map (with plugins.compile_cache off, and plugins
    // built unstripped, the names are the functions').
    if std::env::var_os("WASMTIME_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// How often the epoch advances; a call's deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks that make up `timeout` (at least one).
fn deadline_ticks(timeout: Duration) -> u64 {
    timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64
}

impl PluginEngine {
    /// Creates the engine and starts its epoch ticker. Compiled plugins are
    /// kept in `cache`, if given.
    pub fn new(limits: Limits, cache: Option<CompileCache>) -> anyhow::Result<PluginEngine> {
        let engine = Engine::new(&engine_config())?;
        let mut linker = Linker::new(&engine);
        // Rust guests import WASI even when they use none of it; link it with
        // an empty context (see sandbox.rs).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        sandbox::forbid_waiting(&mut linker)?;
        let weak = engine.weak();
        std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
            // Stops when the last Engine handle is gone.
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
        Ok(PluginEngine {
            engine,
            linker: Arc::new(linker),
            limits,
            cache,
            compiler: None,
        })
    }

    /// Compiles plugins other than the built-in ones in child processes of
    /// `exe` (this binary: see compiler.rs), limited to
    /// `plugins.compile_memory_mib` and killed at `plugins.compile_timeout_ms`.
    pub fn compile_in_processes(mut self, exe: std::path::PathBuf) -> PluginEngine {
        self.compiler = Some(Arc::new(exe));
        self
    }

    /// The compiled artifact of `bytes`, from a child process or this one.
    fn precompile(&self, bytes: &[u8], source: &PluginSource) -> wasmtime::Result<Vec<u8>> {
        use compiler::ChildError;
        let exe = match (&self.compiler, source) {
            (Some(exe), PluginSource::File(_) | PluginSource::Upload(_)) => exe,
            _ => {
                return self
                    .engine
                    .precompile_component(bytes)
                    .map_err(|reason| reason.context("not a valid WebAssembly component"));
            }
        };
        let (memory, timeout) = (self.limits.compile_memory_bytes, self.limits.compile_timeout);
        compiler::compile_in_child(exe, bytes, memory, timeout).map_err(|error| match error {
            ChildError::Invalid(message) => {
                wasmtime::Error::msg(shown(&message, MAX_SHOWN_BYTES)).context("not a valid WebAssembly component")
            }
            ChildError::OutOfMemory => wasmtime::Error::msg(format!(
                "compiling it needed more than plugins.compile_memory_mib ({} MiB)",
                memory >> 20
            )),
            ChildError::Timeout => wasmtime::Error::msg(format!(
                "compiling it took longer than plugins.compile_timeout_ms ({} ms)",
                timeout.as_millis()
            )),
            ChildError::Failed(message) => wasmtime::Error::msg(shown(&message, MAX_SHOWN_BYTES)),
        })
    }

    /// The component of an artifact [`PluginEngine::precompile`] made.
    fn load_artifact(&self, artifact: &[u8]) -> wasmtime::Result<Component> {
        // SAFETY: `deserialize` trusts its input to be an artifact wasmtime
        // made: this one was made just now by this binary, in this process
        // or a child of it; wasmtime itself refuses artifacts of another
        // version or configuration.
        unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|reason| reason.context("its compiled code cannot be loaded"))
    }

    /// Compiles `bytes` and checks them against the contract (see
    /// [`PluginEngine::compile_now`]) on a thread of its own, given up
    /// after `plugins.compile_timeout_ms` for any but the built-in plugins.
    /// Cranelift cannot be stopped: the thread is left to finish and its
    /// result dropped.
    pub fn compile(&self, name: &str, bytes: &[u8], source: PluginSource) -> Result<CompiledPlugin, PluginError> {
        let timeout = match source {
            PluginSource::Builtin => Duration::MAX,
            _ => self.limits.compile_timeout,
        };
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let (engine, owned_name, owned_bytes) = (self.clone(), name.to_owned(), bytes.to_vec());
        let invalid = |reason: String| PluginError::Invalid {
            name: name.to_owned(),
            reason: anyhow::anyhow!(reason),
        };
        std::thread::Builder::new()
            .name("plugin-compile".into())
            .spawn(move || {
                let _ = done.send(engine.compile_now(&owned_name, &owned_bytes, source));
            })
            .map_err(|error| invalid(format!("cannot start a thread to compile it: {error}")))?;
        match result.recv_timeout(timeout) {
            Ok(compiled) => compiled,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(invalid(format!(
                "compiling it took longer than plugins.compile_timeout_ms ({} ms)",
                timeout.as_millis()
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(invalid("the compiler failed on it".into())),
        }
    }

    /// Compiles `bytes` and checks them against the contract: the component
    /// must link, export `parser`, and describe itself.
    fn compile_now(&self, name: &str, bytes: &[u8], source: PluginSource) -> Result<CompiledPlugin, PluginError> {
        let invalid = |reason: wasmtime::Error| PluginError::Invalid {
            name: name.to_owned(),
            reason: reason.into(),
        };
        // The built-in ones ship in the binary: only others are capped.
        if source != PluginSource::Builtin && bytes.len() > self.limits.component_bytes {
            return Err(invalid(wasmtime::Error::msg(format!(
                "the component is larger than plugins.max_upload_bytes ({} bytes)",
                self.limits.component_bytes
            ))));
        }
        // wasmtime's message for these dumps header bytes; say what they mean.
        match bytes.get(..8) {
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
                return Err(invalid(wasmtime::Error::msg(
                    "a core WebAssembly module, not a component: build the plugin for the wasm32-wasip2 target, \
                     which makes components (wasm32-wasip1 and wasm32-unknown-unknown make core modules)",
                )));
            }
            Some([0, b'a', b's', b'm', ..]) => {}
            _ => {
                return Err(invalid(wasmtime::Error::msg(
                    "not a WebAssembly file (it does not start with \\0asm)",
                )));
            }
        }
        footprint::check(bytes).map_err(|reason| invalid(wasmtime::Error::msg(reason)))?;
        let sha256 = sha256_hex(bytes);
        let compile = || self.precompile(bytes, &source);
        let component = match &self.cache {
            Some(cache) => cache.component(&self.engine, name, &sha256, compile),
            None => compile().and_then(|artifact| self.load_artifact(&artifact)),
        }
        .map_err(invalid)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|reason| {
            invalid(reason.context("it imports something logproc does not provide (a plugin may import WASI only)"))
        })?;
        let pre = match bindings::LogParserPre::new(pre.clone()) {
            Ok(pre) => Pre::Current(pre),
            Err(reason) => match bindings_v2::LogParserPre::new(pre) {
                Ok(pre) => Pre::V2(pre),
                Err(_) => {
                    return Err(invalid(reason.context(
                        "it does not implement the world `log-parser` of wit/parser.wit (export logproc:plugin/parser@0.3.0, or the older 0.2.0)",
                    )));
                }
            },
        };
        let mut plugin = CompiledPlugin {
            name: name.to_owned(),
            version: String::new(),
            source,
            sha256,
            loaded_at_ms: crate::time::now_ms(),
            counters: PluginCounters::default(),
            engine: self.clone(),
            pre,
        };
        let mut instance = plugin.instantiate_unconfigured()?;
        let (store, exports) = (&mut instance.store, &instance.exports);
        let version = match exports {
            Exports::Current(exports) => exports
                .logproc_plugin_parser()
                .call_describe(store)
                .map(|info| info.version),
            Exports::V2(exports) => exports
                .logproc_plugin_parser()
                .call_describe(store)
                .map(|info| info.version),
        };
        plugin.version = version.map_err(|reason| invalid(reason.context("describe failed")))?;
        if plugin.version.len() > MAX_VERSION_BYTES || plugin.version.chars().any(char::is_control) {
            return Err(invalid(wasmtime::Error::msg(format!(
                "describe gave a version of {} bytes ({}): at most {MAX_VERSION_BYTES}, with no control characters",
                plugin.version.len(),
                shown(&plugin.version, 40)
            ))));
        }
        Ok(plugin)
    }
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Built into the binary.
    Builtin,
    /// A file in the plugin directory.
    File(std::path::PathBuf),
    /// Uploaded with `PUT /plugins/{name}` (and kept as this file).
    Upload(std::path::PathBuf),
}

impl PluginSource {
    /// `built-in`, `file` or `upload`, as `/plugins` and the store say.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginSource::Builtin => "built-in",
            PluginSource::File(_) => "file",
            PluginSource::Upload(_) => "upload",
        }
    }

    /// The file, for a plugin from the plugin directory.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            PluginSource::Builtin => None,
            PluginSource::File(path) | PluginSource::Upload(path) => Some(path),
        }
    }
}

/// Runs `f`, which runs plugin code, on a thread of its own: never on an
/// async runtime's thread (WASI's host functions start a runtime of their
/// own, which panics there), and a panic in host code becomes an error
/// rather than a crash or a poisoned lock. Blocks until `f` is done, which
/// a plugin call's deadline bounds.
pub fn isolated<R: Send>(f: impl FnOnce() -> anyhow::Result<R> + Send) -> anyhow::Result<R> {
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(result) => result,
        Err(panic) => Err(anyhow::anyhow!(
            "the host failed while running the plugin: {}",
            panic_text(&*panic)
        )),
    })
}

/// Runs `f`, which runs plugin code, with a panic in host code on the way
/// (wasmtime or WASI) made an error: the caller throws the instance away
/// as after a trap, and the thread (a worker, a lock's holder) goes on.
fn unpanicked<R>(f: impl FnOnce() -> wasmtime::Result<R>) -> wasmtime::Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(wasmtime::Error::msg(format!(
            "the host failed while running the plugin: {}",
            panic_text(&*panic)
        )))
    })
}

/// The message of a panic's payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The SHA-256 of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a plugin has done since it was loaded, across workers.
#[derive(Debug, Default)]
pub struct PluginCounters {
    /// Batches given to the plugin.
    pub batches: AtomicU64,
    /// Lines it parsed.
    pub lines_parsed: AtomicU64,
    /// Lines counted invalid: by the plugin, or because it failed on them.
    pub lines_invalid: AtomicU64,
    /// Calls that trapped (a panic, a bad access, the memory cap).
    pub traps: AtomicU64,
    /// Calls stopped at the time limit.
    pub timeouts: AtomicU64,
    /// Calls that broke the contract's promises: a wrong number of
    /// outcomes, or a name index past the names returned.
    pub wrong_outcome_counts: AtomicU64,
    /// Batches in a row that needed their lines parsed one by one.
    failed_in_a_row: AtomicU64,
}

/// Failed batches in a row that make a plugin degraded.
const DEGRADED_AFTER: u64 = 3;

impl PluginCounters {
    /// Counts a failed call by its kind.
    pub fn failed_call(&self, error: &PluginError) {
        let counter = match error {
            PluginError::Timeout { .. } => &self.timeouts,
            _ => &self.traps,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a batch; `clean` when its first call kept the contract. A
    /// plugin whose batches keep failing is degraded until one does not.
    pub fn batch_done(&self, plugin: &str, clean: bool) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        if clean {
            if self.failed_in_a_row.swap(0, Ordering::Relaxed) >= DEGRADED_AFTER {
                tracing::info!(plugin, "Plugin parses batches again; no longer degraded.");
            }
        } else if self.failed_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 == DEGRADED_AFTER {
            tracing::error!(
                plugin,
                batches = DEGRADED_AFTER,
                "Plugin is degraded: its last batches all failed."
            );
        }
    }

    /// Counts the lines of a batch.
    pub fn lines_done(&self, parsed: u64, invalid: u64) {
        self.lines_parsed.fetch_add(parsed, Ordering::Relaxed);
        self.lines_invalid.fetch_add(invalid, Ordering::Relaxed);
    }

    /// Marks the plugin degraded now (a batch took all its time).
    pub fn degrade(&self, plugin: &str) {
        if self.failed_in_a_row.swap(DEGRADED_AFTER, Ordering::Relaxed) < DEGRADED_AFTER {
            tracing::error!(
                plugin,
                "Plugin is degraded: a batch took longer than plugins.batch_timeout_ms."
            );
        }
    }

    /// True while the plugin's recent batches all fail.
    pub fn degraded(&self) -> bool {
        self.failed_in_a_row.load(Ordering::Relaxed) >= DEGRADED_AFTER
    }
}

/// A plugin compiled once, shared by every worker.
pub struct CompiledPlugin {
    name: String,
    version: String,
    source: PluginSource,
    sha256: String,
    loaded_at_ms: i64,
    counters: PluginCounters,
    engine: PluginEngine,
    pre: Pre,
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl CompiledPlugin {
    /// The name this plugin is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version the plugin reports.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the plugin came from.
    pub fn source(&self) -> &PluginSource {
        &self.source
    }

    /// SHA-256 of the component's bytes, in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// When it was compiled, epoch milliseconds.
    pub fn loaded_at_ms(&self) -> i64 {
        self.loaded_at_ms
    }

    /// What it has done so far.
    pub fn counters(&self) -> &PluginCounters {
        &self.counters
    }

    /// The limits its instances run under.
    pub fn limits(&self) -> Limits {
        self.engine.limits
    }

    /// A new instance configured with `settings`.
    pub fn instantiate(&self, settings: &[(String, String)]) -> Result<PluginInstance, PluginError> {
        let mut instance = self.instantiate_unconfigured()?;
        let result = instance.call(|exports, store| match exports {
            Exports::Current(exports) => exports.logproc_plugin_parser().call_configure(store, settings),
            Exports::V2(exports) => exports.logproc_plugin_parser().call_configure(store, settings),
        })?;
        result.map_err(|reason| PluginError::Settings {
            name: self.name.clone(),
            reason: shown(&reason, MAX_SHOWN_BYTES),
        })?;
        Ok(instance)
    }

    fn instantiate_unconfigured(&self) -> Result<PluginInstance, PluginError> {
        let mut store = Store::new(&self.engine.engine, HostState::new(self.engine.limits.memory_bytes));
        store.limiter(|state| &mut state.limits);
        // What a call returns is copied into host memory: no more of it
        // than the instance's own memory cap (wasmtime's default: 128 MiB).
        store.set_hostcall_fuel(self.engine.limits.memory_bytes);
        // A parser holds a few WASI handles (streams); wasmtime allows
        // 100,000, each a host allocation.
        store.set_max_component_handles(MAX_HANDLES);
        // Instantiation runs guest code (start functions) too.
        store.set_epoch_deadline(deadline_ticks(self.engine.limits.call_timeout));
        let exports = unpanicked(|| match &self.pre {
            Pre::Current(pre) => pre.instantiate(&mut store).map(Exports::Current),
            Pre::V2(pre) => pre.instantiate(&mut store).map(Exports::V2),
        })
        .map_err(|reason| PluginError::Call {
            name: self.name.clone(),
            reason: reason.into(),
        })?;
        Ok(PluginInstance {
            name: self.name.clone(),
            timeout: self.engine.limits.call_timeout,
            store,
            exports,
        })
    }
}

/// One worker's instance of a plugin. Discard it after a failed call: its
/// state is unknown.
pub struct PluginInstance {
    name: String,
    timeout: Duration,
    store: Store<HostState>,
    exports: Exports,
}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance").field("name", &self.name).finish()
    }
}

impl PluginInstance {
    /// Parses one batch (lines joined by `\n`); see [`ParsedBatch::check`].
    pub fn parse_batch(&mut self, lines: &str, context: &BatchContext) -> Result<ParsedBatch, PluginError> {
        self.call(|exports, store| match exports {
            Exports::Current(exports) => exports.logproc_plugin_parser().call_parse_batch(store, lines, context),
            Exports::V2(exports) => exports
                .logproc_plugin_parser()
                .call_parse_batch(store, lines)
                .map(ParsedBatch::from),
        })
    }

    /// The format the plugin judges a source's first `lines` to be in;
    /// `None` when it has nothing to choose (a plugin of contract 0.2.0
    /// never has).
    /// A format is a name: at most 64 bytes, no control characters (it is
    /// kept with every checkpoint of the source and shown by the API).
    pub fn detect(&mut self, lines: &str) -> Result<Option<String>, PluginError> {
        let format = self.call(|exports, store| match exports {
            Exports::Current(exports) => exports.logproc_plugin_parser().call_detect(store, lines),
            Exports::V2(_) => Ok(None),
        })?;
        match format {
            Some(format) if format.len() > MAX_FORMAT_BYTES || format.chars().any(char::is_control) => {
                Err(PluginError::Call {
                    name: self.name.clone(),
                    reason: anyhow::anyhow!(
                        "detect named a format of {} bytes ({}): at most {MAX_FORMAT_BYTES}, with no control characters",
                        format.len(),
                        shown(&format, 40)
                    ),
                })
            }
            format => Ok(format),
        }
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&Exports, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.store.set_epoch_deadline(deadline_ticks(self.timeout));
        let (exports, store) = (&self.exports, &mut self.store);
        unpanicked(|| f(exports, store)).map_err(|reason| match reason.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginError::Timeout {
                name: self.name.clone(),
                limit: self.timeout,
            },
            _ => PluginError::Call {
                name: self.name.clone(),
                reason: reason.into(),
            },
        })
    }
}
