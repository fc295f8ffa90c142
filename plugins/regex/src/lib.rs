//! logproc's default text parser: a regular expression with named groups
//! `timestamp`, `level`, `service` and `component` (each optional; other
//! groups are allowed and ignored). Configured with the setting `pattern`.
//! A line is parsed when the pattern matches it.

use std::sync::OnceLock;

use logproc_plugin_sdk::{Guest, Level, Outcomes, ParsedBatch, PluginInfo, is_blank, parse_level, parse_timestamp};
use regex::{CaptureLocations, Regex};

/// Fits `2025-01-01T12:00:00.123Z ERROR [payments/api] card declined trace=4bf92f3577b34da6`.
/// Fields are separated by spaces or tabs. Whatever follows the `]` is the
/// message, which logproc does not count by: the pattern stops there. Both
/// keep the pattern one-pass (one way to match), which the regex crate runs
/// about twice as fast as its general engine (ASCII separators rather than
/// Unicode `\s`, measured: 0.36 s against 0.67 s per million lines).
const DEFAULT_PATTERN: &str =
    r"^(?P<timestamp>[^ \t]+)[ \t]+(?P<level>[A-Za-z]+)[ \t]+\[(?P<service>[^\]/ \t]+)(?:/(?P<component>[^\] \t]+))?\]";

static PATTERN: OnceLock<Pattern> = OnceLock::new();

/// The regex and the positions of the groups logproc reads.
struct Pattern {
    regex: Regex,
    /// Group index of timestamp, level, service, component.
    groups: [Option<usize>; 4],
}

impl Pattern {
    fn new(pattern: &str) -> Result<Pattern, String> {
        let regex = Regex::new(pattern).map_err(|error| format!("invalid pattern: {error}"))?;
        let group = |name| regex.capture_names().position(|group| group == Some(name));
        let groups = [group("timestamp"), group("level"), group("service"), group("component")];
        Ok(Pattern { regex, groups })
    }
}

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
        PATTERN
            .set(Pattern::new(pattern)?)
            .map_err(|_| "the regex parser is already configured".to_string())
    }

    fn parse_batch(lines: String) -> ParsedBatch {
        let pattern = PATTERN.get_or_init(|| Pattern::new(DEFAULT_PATTERN).expect("default pattern compiles"));
        let mut locations = pattern.regex.capture_locations();
        let mut outcomes = Outcomes::default();
        for line in logproc_plugin_sdk::lines(&lines) {
            parse_line(pattern, &mut locations, line, &mut outcomes);
        }
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(RegexParser);

fn parse_line(pattern: &Pattern, locations: &mut CaptureLocations, line: &str, outcomes: &mut Outcomes) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    if pattern.regex.captures_read(locations, line).is_none() {
        return outcomes.invalid("line does not match the pattern");
    }
    let [timestamp, level, service, component] = pattern.groups.map(|group| {
        let (start, end) = locations.get(group?)?;
        Some(&line[start..end]).filter(|text| !text.is_empty())
    });
    let timestamp_ms = match timestamp.map(parse_timestamp).transpose() {
        Ok(timestamp) => timestamp,
        Err(reason) => return outcomes.invalid(reason),
    };
    outcomes.parsed(
        timestamp_ms,
        level.map_or(Level::Unknown, parse_level),
        service,
        component,
    );
}
