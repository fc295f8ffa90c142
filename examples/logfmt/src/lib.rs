//! A logproc parser plugin for logfmt, the `key=value` format of Heroku,
//! Go's log/slog and many others:
//!
//! ```text
//! time=2025-01-01T12:00:00.123Z level=error service=payments component=api msg="card declined" trace_id=4bf92f35
//! ```
//!
//! Values are bare words or double-quoted strings (with `\"` and `\\`
//! escapes). Recognised keys, first found wins: `time`/`ts`/`timestamp`,
//! `level`/`lvl`/`severity`, `service`/`svc`/`app`,
//! `component`/`logger`/`module`. Other keys (such as `msg`) are checked
//! as logfmt and otherwise ignored: logproc counts by the keys above. Setting `service` names the service of lines that
//! have none.

use std::sync::OnceLock;

use logproc_plugin_sdk::{
    BatchContext, Guest, Level, Outcomes, ParsedBatch, PluginInfo, is_blank, parse_level, parse_timestamp,
};

/// The service of lines without one (setting `service`).
static DEFAULT_SERVICE: OnceLock<String> = OnceLock::new();

struct Logfmt;

impl Guest for Logfmt {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "logfmt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        for (key, value) in settings {
            match key.as_str() {
                "service" => DEFAULT_SERVICE
                    .set(value)
                    .map_err(|_| "the logfmt parser is already configured".to_string())?,
                other => return Err(format!("unknown setting `{other}` (the logfmt parser takes `service`)")),
            }
        }
        Ok(())
    }

    /// One format: nothing to choose per source.
    fn detect(_lines: String) -> Option<String> {
        None
    }

    fn parse_batch(lines: String, _context: BatchContext) -> ParsedBatch {
        let mut outcomes = Outcomes::default();
        for line in logproc_plugin_sdk::lines(&lines) {
            parse_line(line, &mut outcomes);
        }
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(Logfmt);

fn parse_line(line: &str, outcomes: &mut Outcomes) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    let pairs = match pairs(line) {
        Ok(pairs) => pairs,
        Err(reason) => return outcomes.invalid(reason),
    };
    // Bare words are allowed as flags, but a line of nothing else is not logfmt.
    if pairs.iter().all(|(_, value)| value.is_none()) {
        return outcomes.invalid("no key=value pair");
    }
    let field = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| pairs.iter().find(|(name, _)| name == key))
            .and_then(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    let timestamp_ms = match field(&["time", "ts", "timestamp"]).as_deref().map(parse_timestamp) {
        Some(Err(reason)) => return outcomes.invalid(reason),
        Some(Ok(timestamp)) => Some(timestamp),
        None => None,
    };
    let service = field(&["service", "svc", "app"]).or_else(|| DEFAULT_SERVICE.get().cloned());
    outcomes.parsed(
        timestamp_ms,
        field(&["level", "lvl", "severity"]).map_or(Level::Unknown, |name| parse_level(&name)),
        service.as_deref(),
        field(&["component", "logger", "module"]).as_deref(),
    );
}

/// The `key=value` pairs of a line, in order; a bare `key` has no value.
fn pairs(line: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut pairs = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key.is_empty() {
            return Err(format!("a value without a key at `{}`", preview(rest)));
        }
        rest = &rest[key_end..];
        let value = match rest.strip_prefix('=') {
            None => None,
            Some(after) => {
                let (value, after) = value(after)?;
                rest = after;
                Some(value)
            }
        };
        pairs.push((key.to_owned(), value));
        rest = rest.trim_start();
    }
    Ok(pairs)
}

/// One value at the start of `text` and what follows it.
fn value(text: &str) -> Result<(String, &str), String> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        return Ok((text[..end].to_owned(), &text[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &quoted[at + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(format!("unterminated quoted value at `{}`", preview(text)))
}

/// The start of `text`, for error messages.
fn preview(text: &str) -> &str {
    let end = text.char_indices().nth(24).map_or(text.len(), |(at, _)| at);
    &text[..end]
}
