//! Which parser reads which input. A route names a plugin (or `auto`) and
//! its settings; which version of the plugin parses a batch is decided when
//! the batch is made, so a plugin swapped while the service runs takes over
//! from the next batch, and batches in flight finish on the version they
//! started with.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use globset::{Glob, GlobMatcher};
use tracing::warn;

use crate::config::RouteSettings;
use crate::plugin::catalog::Catalog;
use crate::plugin::{CompiledPlugin, PluginError, PluginInstance};
use crate::timezone;

pub use crate::plugin::catalog::Plugins;

/// A plugin version with the settings one route gives it. Workers keep one
/// instance per spec, keyed by `id`.
#[derive(Debug)]
pub struct ParserSpec {
    pub id: usize,
    pub plugin: Arc<CompiledPlugin>,
    pub settings: Vec<(String, String)>,
    pub fixed: FixedNames,
    /// An instance kept for `detect`, called once per source.
    detector: Mutex<Option<PluginInstance>>,
}

impl ParserSpec {
    /// The format the plugin judges `sample` (a source's first lines) to be
    /// in. A plugin that fails here is asked again by the next source; its
    /// lines are read without a format meanwhile.
    pub fn detect(&self, sample: &str) -> Option<Arc<str>> {
        let mut detector = self.detector.lock().expect("detector lock poisoned");
        let mut instance = match detector.take() {
            Some(instance) => instance,
            None => match self.plugin.instantiate(&self.settings) {
                Ok(instance) => instance,
                Err(error) => {
                    warn!(plugin = self.plugin.name(), %error, "Cannot instantiate the plugin to detect a format.");
                    return None;
                }
            },
        };
        match instance.detect(sample) {
            Ok(format) => {
                *detector = Some(instance);
                format.map(Arc::from)
            }
            Err(error) => {
                self.plugin.counters().failed_call(&error);
                warn!(plugin = self.plugin.name(), %error, "The plugin failed to detect a format.");
                None
            }
        }
    }
}

/// Names a route or source gives every line it parses, over what the
/// lines say (`service:` and `component:` in its settings).
#[derive(Debug, Clone, Default)]
pub struct FixedNames {
    pub service: Option<String>,
    pub component: Option<String>,
    /// `service_from_path`: a file's service, from its name.
    pub service_from_path: Option<regex::Regex>,
}

impl FixedNames {
    pub fn new(service: &Option<String>, component: &Option<String>) -> FixedNames {
        FixedNames {
            service: service.clone(),
            component: component.clone(),
            service_from_path: None,
        }
    }

    /// The service `service_from_path` finds in `file_name`, if it matches.
    pub fn service_of_file(&self, file_name: &str) -> Option<Arc<str>> {
        let captures = self.service_from_path.as_ref()?.captures(file_name)?;
        Some(captures.name("service")?.as_str())
            .filter(|service| !service.is_empty())
            .map(Arc::from)
    }
}

/// A file's name without its directory and extensions (`.gz`, rotation
/// numbers, `.log`, dates): the service of its lines that name none.
/// `app.log.1.gz` and `app-2025-01-01.log` are `app`, `syslog` is `syslog`.
pub fn file_stem(file_name: &str) -> &str {
    let mut stem = file_name;
    while let Some((before, extension)) = stem.rsplit_once('.') {
        let known = matches!(
            extension.to_ascii_lowercase().as_str(),
            "gz" | "log" | "txt" | "json" | "jsonl" | "ndjson" | "out" | "err" | "old"
        ) || extension.bytes().all(|b| b.is_ascii_digit());
        if !known || before.is_empty() {
            break;
        }
        stem = before;
    }
    // A date after the name (`app-2025-01-01`, `syslog-20250101`).
    let date_at = stem
        .char_indices()
        .filter(|&(_, c)| c == '-' || c == '_')
        .map(|(at, _)| at)
        .find(|&at| {
            stem[at + 1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'_')
                && at + 1 < stem.len()
        });
    match date_at {
        Some(at) if at > 0 && stem[at + 1..].bytes().filter(u8::is_ascii_digit).count() >= 6 => &stem[..at],
        _ => stem,
    }
}

/// What a route or source says about its parser (see `config.yaml`).
#[derive(Debug, Clone, Default)]
pub struct ParserOptions {
    pub parser: String,
    pub format: Option<String>,
    pub settings: Vec<(String, String)>,
    pub timestamp_format: Option<String>,
    pub timezone: Option<String>,
    pub levels: Vec<(String, String)>,
    pub service: Option<String>,
    pub component: Option<String>,
    pub service_from_path: Option<String>,
}

impl ParserOptions {
    /// Options that name a parser and nothing else.
    pub fn parser(name: &str) -> ParserOptions {
        ParserOptions {
            parser: name.to_owned(),
            ..ParserOptions::default()
        }
    }

    /// The settings every parser shares, as plugins take them; a zone
    /// name (`Europe/Paris`) goes with its offset changes, from the
    /// system's zone database.
    fn shared_settings(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut shared = Vec::new();
        if let Some(format) = &self.timestamp_format {
            shared.push(("timestamp_format".to_owned(), format.clone()));
        }
        if let Some(zone) = &self.timezone {
            shared.push(("timezone".to_owned(), zone.clone()));
            if !timezone::is_offset(zone) {
                let transitions = timezone::transitions(zone).map_err(anyhow::Error::msg)?;
                shared.push((timezone::TRANSITIONS_SETTING.to_owned(), transitions));
            }
        }
        for (name, level) in &self.levels {
            shared.push((format!("level.{name}"), level.clone()));
        }
        Ok(shared)
    }

    fn fixed(&self) -> anyhow::Result<FixedNames> {
        let mut fixed = FixedNames::new(&self.service, &self.component);
        if let Some(pattern) = &self.service_from_path {
            let regex = regex::Regex::new(pattern)
                .map_err(|error| anyhow::anyhow!("service_from_path `{pattern}` is not a valid regex: {error}"))?;
            anyhow::ensure!(
                regex.capture_names().any(|name| name == Some("service")),
                "service_from_path `{pattern}` has no group named `service`: write it as (?P<service>...)"
            );
            fixed.service_from_path = Some(regex);
        }
        Ok(fixed)
    }
}

/// How a batch's lines are parsed.
#[derive(Debug, Clone)]
pub enum Parser {
    /// Every line by one plugin.
    Single(Arc<ParserSpec>),
    /// Lines starting with `{` by `json`, the others by `text`.
    Auto {
        json: Arc<ParserSpec>,
        text: Arc<ParserSpec>,
    },
}

/// A parser choice by name: a plugin, or `auto`.
pub const AUTO: &str = "auto";

static NEXT_SPEC_ID: AtomicUsize = AtomicUsize::new(0);

/// Every parser choice in use, over the catalog of plugins.
pub struct Parsers {
    catalog: Arc<Catalog>,
    choices: Mutex<Vec<Weak<Choice>>>,
}

/// A plugin name (or `auto`) with settings, resolved to the plugins'
/// current versions when asked.
pub struct Choice {
    name: String,
    settings: Vec<(String, String)>,
    fixed: FixedNames,
    catalog: Arc<Catalog>,
    /// The parser for the plugin versions it was last resolved to.
    resolved: Mutex<Option<Parser>>,
    /// The last reason it could not be resolved, reported once.
    last_error: Mutex<Option<String>>,
}

/// A shared parser choice.
pub type ParserHandle = Arc<Choice>;

impl Parsers {
    pub fn new(catalog: Arc<Catalog>) -> Parsers {
        Parsers {
            catalog,
            choices: Mutex::new(Vec::new()),
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The choice a route or source describes, checked now. A `format`
    /// goes to the plugin that takes it: with `parser: auto`, `json` if it
    /// accepts the name (a JSON dialect), else `regex`.
    pub fn choose_options(&self, options: &ParserOptions) -> anyhow::Result<ParserHandle> {
        let fixed = options.fixed()?;
        let mut settings = options.settings.clone();
        settings.extend(options.shared_settings()?);
        let format = options.format.as_deref().filter(|format| *format != AUTO);
        let Some(format) = format else {
            if options.parser == AUTO {
                anyhow::ensure!(
                    options.settings.is_empty(),
                    "parser `auto` takes no settings (name a plugin, or set format, timestamp_format, timezone or levels)"
                );
            }
            return self.choose(&options.parser, &settings, fixed);
        };
        settings.push(("format".to_owned(), format.to_owned()));
        if options.parser != AUTO {
            return self.choose(&options.parser, &settings, fixed);
        }
        anyhow::ensure!(
            options.settings.is_empty(),
            "parser `auto` takes no settings (name a plugin, or set format, timestamp_format, timezone or levels)"
        );
        match self.choose("json", &settings, fixed.clone()) {
            Ok(choice) => Ok(choice),
            Err(_) => self.choose("regex", &settings, fixed),
        }
    }

    /// The choice of `name` (a plugin or `auto`) with `settings`, checked
    /// now: an unknown plugin or refused settings are an error. `auto`
    /// gives both its plugins the same settings (those all parsers share).
    pub fn choose(&self, name: &str, settings: &[(String, String)], fixed: FixedNames) -> anyhow::Result<ParserHandle> {
        for plugin in plugin_names(name) {
            let found = self.catalog.get(plugin).ok_or_else(|| {
                let mut known: Vec<_> = self.catalog.plugins().into_keys().collect();
                known.sort_unstable();
                anyhow::anyhow!(
                    "unknown parser `{plugin}` (known: {}, {AUTO}); a plugin of your own is a file {plugin}.wasm in plugins.dir ({})",
                    known.join(", "),
                    absolute(self.catalog.dir()).display()
                )
            })?;
            check_settings(&found, settings).map_err(|reason| anyhow::anyhow!("parser `{plugin}` {reason}"))?;
        }
        if plugin_names(name).contains(&"regex") {
            warn_if_no_known_groups(name, settings);
        }
        let choice = Arc::new(Choice {
            name: name.to_owned(),
            settings: settings.to_vec(),
            fixed,
            catalog: self.catalog.clone(),
            resolved: Mutex::new(None),
            last_error: Mutex::new(None),
        });
        let mut choices = self.choices.lock().expect("parsers lock poisoned");
        choices.retain(|choice| choice.strong_count() > 0);
        choices.push(Arc::downgrade(&choice));
        Ok(choice)
    }

    /// Whether `plugin` may replace its name's current version: every
    /// choice that uses it must accept its settings.
    pub fn accepts(&self, plugin: &CompiledPlugin) -> Result<(), String> {
        // Checked with the lock released: `configure` runs for each.
        let choices: Vec<_> = self.choices.lock().expect("parsers lock poisoned").clone();
        for choice in choices.iter().filter_map(Weak::upgrade) {
            if plugin_names(&choice.name).contains(&plugin.name()) {
                check_settings(plugin, &choice.settings)?;
            }
        }
        Ok(())
    }
}

/// The plugins a choice uses.
fn plugin_names(name: &str) -> Vec<&str> {
    match name {
        AUTO => vec!["json", "regex"],
        name => vec![name],
    }
}

/// The named groups the regex plugin counts by.
const PATTERN_GROUPS: [&str; 4] = ["timestamp", "level", "service", "component"];

/// A `pattern` naming none of [`PATTERN_GROUPS`] counts every line it
/// matches as level UNKNOWN of service `unknown`: legal, but rarely meant.
fn warn_if_no_known_groups(parser: &str, settings: &[(String, String)]) {
    for (_, pattern) in settings.iter().filter(|(key, _)| key == "pattern") {
        let names_a_group = PATTERN_GROUPS
            .iter()
            .any(|group| pattern.contains(&format!("(?P<{group}>")) || pattern.contains(&format!("(?<{group}>")));
        if !names_a_group {
            warn!(
                parser,
                pattern = pattern.as_str(),
                "The pattern has none of the named groups timestamp, level, service, component: every line it matches counts as level UNKNOWN of service `unknown`."
            );
        }
    }
}

/// `path` made absolute against the working directory, for messages.
pub fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Instantiates `plugin` with `settings`: bad settings are found when a
/// route is made or a plugin swapped, not as a stream of invalid lines.
fn check_settings(plugin: &CompiledPlugin, settings: &[(String, String)]) -> Result<(), String> {
    let configured = crate::plugin::isolated(|| match plugin.instantiate(settings) {
        Ok(_) => Ok(Ok(())),
        Err(PluginError::Settings { reason, .. }) => Ok(Err(format!("refused its settings: {reason}"))),
        Err(other) => Ok(Err(other.to_string())),
    });
    configured.unwrap_or_else(|error| Err(error.to_string()))
}

impl Choice {
    /// The plugin it names, or `auto`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names every line of this choice counts under.
    pub fn fixed(&self) -> &FixedNames {
        &self.fixed
    }

    /// The parser over the current versions of the plugins, or why there is
    /// none (a plugin was removed).
    pub fn current(&self) -> Result<Parser, String> {
        let plugins: Result<Vec<_>, String> = plugin_names(&self.name)
            .into_iter()
            .map(|name| {
                self.catalog
                    .get(name)
                    .ok_or_else(|| format!("plugin `{name}` is not loaded (its file was removed)"))
            })
            .collect();
        let plugins = match plugins {
            Ok(plugins) => plugins,
            Err(reason) => {
                let mut last = self.last_error.lock().expect("choice lock poisoned");
                if last.as_ref() != Some(&reason) {
                    warn!(parser = %self.name, %reason, "Lines for this parser are counted invalid.");
                    *last = Some(reason.clone());
                }
                return Err(reason);
            }
        };
        *self.last_error.lock().expect("choice lock poisoned") = None;
        let mut resolved = self.resolved.lock().expect("choice lock poisoned");
        if let Some(parser) = resolved.as_ref()
            && parser.plugins().iter().zip(&plugins).all(|(a, b)| Arc::ptr_eq(a, b))
        {
            return Ok(parser.clone());
        }
        let spec = |plugin: &Arc<CompiledPlugin>| {
            Arc::new(ParserSpec {
                id: NEXT_SPEC_ID.fetch_add(1, Ordering::Relaxed),
                plugin: plugin.clone(),
                settings: self.settings.clone(),
                fixed: self.fixed.clone(),
                detector: Mutex::new(None),
            })
        };
        let parser = match plugins.as_slice() {
            [json, text] => Parser::Auto {
                json: spec(json),
                text: spec(text),
            },
            [plugin] => Parser::Single(spec(plugin)),
            _ => unreachable!("a choice uses one or two plugins"),
        };
        *resolved = Some(parser.clone());
        Ok(parser)
    }
}

/// Lines a source's format is judged by: the first [`SNIFF_LINES`]
/// non-blank lines its parser's format applies to (for `auto`, those that
/// are not JSON), offered batch by batch until the plugin names a format.
#[derive(Debug, Default)]
pub struct Sniffer {
    sample: String,
    lines: usize,
    done: bool,
}

/// The most lines a format is judged by (the SDK's `format::SNIFF_LINES`).
pub const SNIFF_LINES: usize = 100;

impl Sniffer {
    /// A sniffer whose source's format is already known.
    pub fn decided() -> Sniffer {
        Sniffer {
            done: true,
            ..Sniffer::default()
        }
    }

    /// True once the format is chosen (it may be none).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Adds a batch's lines (joined by `\n`) to the sample and asks the
    /// plugin. `Some` once the choice is made: the format it named, or none
    /// when it named none by the time the sample was full. Runs plugin
    /// code: call it off the async runtime.
    pub fn offer(&mut self, parser: &Parser, lines: &str) -> Option<Option<Arc<str>>> {
        if self.done {
            return None;
        }
        let before = self.lines;
        for line in lines.split('\n') {
            if self.lines == SNIFF_LINES {
                break;
            }
            let json = matches!(parser, Parser::Auto { .. }) && line.trim_start().starts_with('{');
            if !json && !line.trim().is_empty() {
                if self.lines > 0 {
                    self.sample.push('\n');
                }
                self.sample.push_str(line);
                self.lines += 1;
            }
        }
        if self.lines == before {
            return None;
        }
        let spec = match parser {
            Parser::Single(spec) | Parser::Auto { text: spec, .. } => spec,
        };
        let format = spec.detect(&self.sample);
        if format.is_none() && self.lines < SNIFF_LINES {
            return None;
        }
        self.done = true;
        self.sample = String::new();
        Some(format)
    }
}

impl Parser {
    /// The plugin versions it runs, in the order of [`plugin_names`].
    fn plugins(&self) -> Vec<&Arc<CompiledPlugin>> {
        match self {
            Parser::Single(spec) => vec![&spec.plugin],
            Parser::Auto { json, text } => vec![&json.plugin, &text.plugin],
        }
    }
}

/// A route's glob on file names; `!` before it matches the names it does
/// not (`!*.*`: names without an extension).
pub struct FileGlob {
    text: String,
    matcher: GlobMatcher,
    negated: bool,
}

impl FileGlob {
    pub fn new(text: &str) -> anyhow::Result<FileGlob> {
        let (negated, glob) = match text.strip_prefix('!') {
            Some(glob) => (true, glob),
            None => (false, text),
        };
        let matcher = Glob::new(glob)
            .map_err(|error| anyhow::anyhow!("route glob `{text}` is invalid: {error}"))?
            .compile_matcher();
        Ok(FileGlob {
            text: text.to_owned(),
            matcher,
            negated,
        })
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.matcher.is_match(name) != self.negated
    }
}

/// File-name globs mapped to parser choices, first match wins.
pub struct Router {
    routes: Vec<(FileGlob, ParserHandle)>,
}

impl Router {
    pub fn new(parsers: &Parsers, routes: &[RouteSettings]) -> anyhow::Result<Router> {
        let routes = routes
            .iter()
            .map(|route| {
                let parser = parsers
                    .choose_options(&route.parser_options())
                    .map_err(|error| anyhow::anyhow!("route `{}`: {error:#}", route.glob))?;
                Ok((FileGlob::new(&route.glob)?, parser))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Router { routes })
    }

    /// A router that sends every file to `parser`.
    pub fn single(parser: ParserHandle) -> Router {
        Router {
            routes: vec![(FileGlob::new("*").expect("valid glob"), parser)],
        }
    }

    /// The globs, in order.
    pub fn globs(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|(glob, _)| glob.text.as_str())
    }

    /// The parser for a file, by its name; a compressed file also by its
    /// name without `.gz`, so `app.log.gz` goes where `app.log` would.
    /// `None` when no route matches.
    pub fn parser_for(&self, file_name: &str) -> Option<&ParserHandle> {
        let by_name = |name: &str| {
            self.routes
                .iter()
                .find(|(glob, _)| glob.is_match(name))
                .map(|(_, parser)| parser)
        };
        by_name(file_name).or_else(|| by_name(file_name.strip_suffix(".gz")?))
    }
}

#[cfg(test)]
mod tests {
    use super::{FileGlob, file_stem};

    #[test]
    fn a_files_stem_drops_extensions_rotation_and_dates() {
        let cases = [
            ("app.log", "app"),
            ("app.log.1", "app"),
            ("app.log.2.gz", "app"),
            ("syslog", "syslog"),
            ("syslog.1", "syslog"),
            ("messages-20250101", "messages"),
            ("app-2025-01-01.log", "app"),
            ("my.service.log", "my.service"),
            ("abc123-json.log", "abc123-json"),
            ("error_log", "error_log"),
            ("v2-1.log", "v2-1"),
            (".hidden.log", ".hidden"),
        ];
        for (name, stem) in cases {
            assert_eq!(file_stem(name), stem, "{name}");
        }
    }

    #[test]
    fn a_glob_with_a_bang_matches_the_names_the_rest_does_not() {
        let no_extension = FileGlob::new("!*.*").unwrap();
        assert!(no_extension.is_match("syslog"));
        assert!(!no_extension.is_match("app.log"));
        assert!(FileGlob::new("*.log").unwrap().is_match("app.log"));
        assert!(FileGlob::new("![").is_err());
    }
}
