//! logproc's default text parser: a regular expression with named groups
//! `timestamp`, `level`, `service`, `component`, `message` and `trace_id`
//! (each optional). Configured with the setting `pattern`.

use std::sync::OnceLock;

use logproc_plugin_sdk::{Entry, Guest, Level, Outcome, PluginInfo, is_blank, parse_level, parse_timestamp};
use regex::Regex;

/// Fits `2025-01-01T12:00:00.123Z ERROR [payments/api] card declined trace=4bf92f3577b34da6`.
const DEFAULT_PATTERN: &str = r"^(?P<timestamp>\S+)\s+(?P<level>[A-Za-z]+)\s+\[(?P<service>[^\]/\s]+)(?:/(?P<component>[^\]\s]+))?\]\s?(?P<message>.*?)(?:\s+trace=(?P<trace_id>[0-9A-Fa-f]+))?\s*$";

static PATTERN: OnceLock<Regex> = OnceLock::new();

struct RegexParser;

impl Guest for RegexParser {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "regex".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        let mut pattern = DEFAULT_PATTERN;
        for (key, value) in &settings {
            match key.as_str() {
                "pattern" => pattern = value,
                other => return Err(format!("unknown setting `{other}` (the regex parser takes `pattern`)")),
            }
        }
        let regex = Regex::new(pattern).map_err(|error| format!("invalid pattern: {error}"))?;
        PATTERN
            .set(regex)
            .map_err(|_| "the regex parser is already configured".to_string())
    }

    fn parse_batch(lines: String) -> Vec<Outcome> {
        let regex = PATTERN.get_or_init(|| Regex::new(DEFAULT_PATTERN).expect("default pattern compiles"));
        logproc_plugin_sdk::lines(&lines)
            .map(|line| parse_line(regex, line))
            .collect()
    }
}

logproc_plugin_sdk::export!(RegexParser);

fn parse_line(regex: &Regex, line: &str) -> Outcome {
    if is_blank(line) {
        return Outcome::Skipped;
    }
    let Some(captures) = regex.captures(line) else {
        return Outcome::Invalid("line does not match the pattern".into());
    };
    let group = |name| captures.name(name).map(|m| m.as_str()).filter(|text| !text.is_empty());
    let timestamp_ms = match group("timestamp").map(parse_timestamp).transpose() {
        Ok(timestamp) => timestamp,
        Err(reason) => return Outcome::Invalid(reason),
    };
    Outcome::Parsed(Entry {
        timestamp_ms,
        level: group("level").map_or(Level::Unknown, parse_level),
        service: group("service").map(str::to_owned),
        component: group("component").map(str::to_owned),
        message: group("message").map(str::to_owned),
        trace_id: group("trace_id").map(str::to_owned),
    })
}
