//! What every logproc parser plugin shares: the generated bindings for the
//! contract in `wit/`, and the rules all parsers follow (level names,
//! timestamps, blank lines), so that a custom plugin counts lines exactly as
//! the default ones do.
//!
//! A plugin implements [`Guest`] and calls [`export!`]:
//!
//! ```ignore
//! struct MyParser;
//! impl logproc_plugin_sdk::Guest for MyParser { /* ... */ }
//! logproc_plugin_sdk::export!(MyParser);
//! ```

mod time;

pub use time::parse_timestamp;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "log-parser",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "logproc_plugin_sdk::bindings",
    });
}

pub use bindings::export;
pub use bindings::exports::logproc::plugin::parser::Guest;
pub use bindings::logproc::plugin::types::{Entry, Level, Outcome, PluginInfo};

/// Maps a level name to a [`Level`], ignoring ASCII case: `WARNING` is warn,
/// `ERR` is error, `CRITICAL` and `CRIT` are fatal; anything else is unknown.
pub fn parse_level(name: &str) -> Level {
    const NAMES: [(&str, Level); 10] = [
        ("INFO", Level::Info),
        ("ERROR", Level::Error),
        ("WARN", Level::Warn),
        ("DEBUG", Level::Debug),
        ("TRACE", Level::Trace),
        ("WARNING", Level::Warn),
        ("ERR", Level::Error),
        ("FATAL", Level::Fatal),
        ("CRITICAL", Level::Fatal),
        ("CRIT", Level::Fatal),
    ];
    NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map_or(Level::Unknown, |(_, level)| *level)
}

/// A line holding only whitespace (or nothing) is skipped, not counted.
pub fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Splits a batch as the host sends it: lines joined by `\n`.
pub fn lines(batch: &str) -> std::str::Split<'_, char> {
    batch.split('\n')
}
