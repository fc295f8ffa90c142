//! Which parser reads which input: routes from the settings, resolved to
//! compiled plugins and checked once at start.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use globset::{Glob, GlobMatcher};

use crate::config::RouteSettings;
use crate::plugin::{CompiledPlugin, PluginError};

/// A plugin with the settings one route gives it. Workers keep one instance
/// per spec, keyed by `id`.
#[derive(Debug)]
pub struct ParserSpec {
    pub id: usize,
    pub plugin: Arc<CompiledPlugin>,
    pub settings: Vec<(String, String)>,
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

pub use crate::plugin::catalog::Plugins;

impl Parser {
    /// Resolves `name` (a plugin or `auto`) with `settings`, and checks that
    /// the plugin accepts the settings.
    pub fn resolve(plugins: &Plugins, name: &str, settings: &[(String, String)]) -> anyhow::Result<Parser> {
        if name == AUTO {
            anyhow::ensure!(settings.is_empty(), "parser `auto` takes no settings");
            return Ok(Parser::Auto {
                json: ParserSpec::checked(plugins, "json", &[])?,
                text: ParserSpec::checked(plugins, "regex", &[])?,
            });
        }
        Ok(Parser::Single(ParserSpec::checked(plugins, name, settings)?))
    }
}

impl ParserSpec {
    fn checked(plugins: &Plugins, name: &str, settings: &[(String, String)]) -> anyhow::Result<Arc<ParserSpec>> {
        let plugin = plugins.get(name).ok_or_else(|| {
            let mut known: Vec<_> = plugins.keys().map(String::as_str).collect();
            known.sort_unstable();
            anyhow::anyhow!("unknown parser `{name}` (known: {}, {AUTO})", known.join(", "))
        })?;
        // Instantiating once now turns bad settings into a start-up error
        // instead of a stream of invalid lines.
        plugin.instantiate(settings).map_err(|error| match error {
            PluginError::Settings { reason, .. } => anyhow::anyhow!("parser `{name}` refused its settings: {reason}"),
            other => other.into(),
        })?;
        Ok(Arc::new(ParserSpec {
            id: NEXT_SPEC_ID.fetch_add(1, Ordering::Relaxed),
            plugin: plugin.clone(),
            settings: settings.to_vec(),
        }))
    }
}

/// File-name globs mapped to parsers, first match wins.
pub struct Router {
    routes: Vec<(GlobMatcher, Parser)>,
}

impl Router {
    pub fn new(plugins: &Plugins, routes: &[RouteSettings]) -> anyhow::Result<Router> {
        let routes = routes
            .iter()
            .map(|route| {
                let glob = Glob::new(&route.glob)
                    .map_err(|error| anyhow::anyhow!("route glob `{}` is invalid: {error}", route.glob))?;
                let settings: Vec<_> = route.settings.clone().into_iter().collect();
                let parser = Parser::resolve(plugins, &route.parser, &settings)
                    .map_err(|error| anyhow::anyhow!("route `{}`: {error:#}", route.glob))?;
                Ok((glob.compile_matcher(), parser))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Router { routes })
    }

    /// A router that sends every file to `parser`.
    pub fn single(parser: Parser) -> Router {
        Router {
            routes: vec![(Glob::new("*").expect("valid glob").compile_matcher(), parser)],
        }
    }

    /// The parser for a file, by its name; a compressed file also by its
    /// name without `.gz`, so `app.log.gz` goes where `app.log` would.
    /// `None` when no route matches.
    pub fn parser_for(&self, file_name: &str) -> Option<&Parser> {
        let by_name = |name: &str| {
            self.routes
                .iter()
                .find(|(glob, _)| glob.is_match(name))
                .map(|(_, parser)| parser)
        };
        by_name(file_name).or_else(|| by_name(file_name.strip_suffix(".gz")?))
    }
}
