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
use crate::plugin::{CompiledPlugin, PluginError};

pub use crate::plugin::catalog::Plugins;

/// A plugin version with the settings one route gives it. Workers keep one
/// instance per spec, keyed by `id`.
#[derive(Debug)]
pub struct ParserSpec {
    pub id: usize,
    pub plugin: Arc<CompiledPlugin>,
    pub settings: Vec<(String, String)>,
    pub fixed: FixedNames,
}

/// Names a route or source gives every line it parses, over what the
/// lines say (`service:` and `component:` in its settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedNames {
    pub service: Option<String>,
    pub component: Option<String>,
}

impl FixedNames {
    pub fn new(service: &Option<String>, component: &Option<String>) -> FixedNames {
        FixedNames {
            service: service.clone(),
            component: component.clone(),
        }
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

    /// The choice of `name` (a plugin or `auto`) with `settings`, checked
    /// now: an unknown plugin or refused settings are an error.
    pub fn choose(&self, name: &str, settings: &[(String, String)], fixed: FixedNames) -> anyhow::Result<ParserHandle> {
        if name == AUTO {
            anyhow::ensure!(settings.is_empty(), "parser `auto` takes no settings");
        }
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
        let choices = self.choices.lock().expect("parsers lock poisoned");
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
    match plugin.instantiate(settings) {
        Ok(_) => Ok(()),
        Err(PluginError::Settings { reason, .. }) => Err(format!("refused its settings: {reason}")),
        Err(other) => Err(other.to_string()),
    }
}

impl Choice {
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

impl Parser {
    /// The plugin versions it runs, in the order of [`plugin_names`].
    fn plugins(&self) -> Vec<&Arc<CompiledPlugin>> {
        match self {
            Parser::Single(spec) => vec![&spec.plugin],
            Parser::Auto { json, text } => vec![&json.plugin, &text.plugin],
        }
    }
}

/// File-name globs mapped to parser choices, first match wins.
pub struct Router {
    routes: Vec<(GlobMatcher, ParserHandle)>,
}

impl Router {
    pub fn new(parsers: &Parsers, routes: &[RouteSettings]) -> anyhow::Result<Router> {
        let routes = routes
            .iter()
            .map(|route| {
                let glob = Glob::new(&route.glob)
                    .map_err(|error| anyhow::anyhow!("route glob `{}` is invalid: {error}", route.glob))?;
                let settings: Vec<_> = route.settings.clone().into_iter().collect();
                let parser = parsers
                    .choose(
                        &route.parser,
                        &settings,
                        FixedNames::new(&route.service, &route.component),
                    )
                    .map_err(|error| anyhow::anyhow!("route `{}`: {error:#}", route.glob))?;
                Ok((glob.compile_matcher(), parser))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Router { routes })
    }

    /// A router that sends every file to `parser`.
    pub fn single(parser: ParserHandle) -> Router {
        Router {
            routes: vec![(Glob::new("*").expect("valid glob").compile_matcher(), parser)],
        }
    }

    /// The globs, in order.
    pub fn globs(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|(glob, _)| glob.glob().glob())
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
