//! logproc's default text parser: a regular expression with named groups
//! `timestamp`, `level`, `service` and `component` (each optional; other
//! groups are allowed and ignored). Configured with the setting `pattern`;
//! without it, [`default_format::PATTERN`]. A line is parsed when the
//! pattern matches it.

mod default_format;

use std::sync::OnceLock;

use logproc_plugin_sdk::{Guest, Level, Outcomes, ParsedBatch, PluginInfo, is_blank, parse_level, parse_timestamp};
use regex::{CaptureLocations, Regex};

use default_format::Groups;

static MATCHER: OnceLock<Matcher> = OnceLock::new();

/// How lines are matched.
enum Matcher {
    /// [`default_format::PATTERN`], by hand.
    Default,
    /// Any other pattern, and the positions of the groups logproc reads
    /// (timestamp, level, service, component).
    Regex { regex: Regex, groups: [Option<usize>; 4] },
}

impl Matcher {
    fn new(pattern: &str) -> Result<Matcher, String> {
        if pattern == default_format::PATTERN {
            return Ok(Matcher::Default);
        }
        let regex = Regex::new(pattern).map_err(|error| format!("invalid pattern: {error}"))?;
        let group = |name| regex.capture_names().position(|group| group == Some(name));
        let groups = [group("timestamp"), group("level"), group("service"), group("component")];
        Ok(Matcher::Regex { regex, groups })
    }

    /// The groups of the match in `line`, if the pattern matches it.
    fn match_line(&self, locations: &mut Option<CaptureLocations>, line: &str) -> Option<Groups> {
        match self {
            Matcher::Default => default_format::match_line(line.as_bytes()),
            Matcher::Regex { regex, groups } => {
                let locations = locations.get_or_insert_with(|| regex.capture_locations());
                regex.captures_read(locations, line)?;
                Some(groups.map(|group| locations.get(group?)))
            }
        }
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
        let mut pattern = default_format::PATTERN;
        for (key, value) in &settings {
            match key.as_str() {
                "pattern" => pattern = value,
                other => return Err(format!("unknown setting `{other}` (the regex parser takes `pattern`)")),
            }
        }
        MATCHER
            .set(Matcher::new(pattern)?)
            .map_err(|_| "the regex parser is already configured".to_string())
    }

    fn parse_batch(lines: String) -> ParsedBatch {
        let matcher = MATCHER.get_or_init(|| Matcher::Default);
        let mut locations = None;
        let mut outcomes = Outcomes::default();
        for line in logproc_plugin_sdk::lines(&lines) {
            parse_line(matcher, &mut locations, line, &mut outcomes);
        }
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(RegexParser);

fn parse_line(matcher: &Matcher, locations: &mut Option<CaptureLocations>, line: &str, outcomes: &mut Outcomes) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    let Some(groups) = matcher.match_line(locations, line) else {
        return outcomes.invalid("line does not match the pattern");
    };
    let [timestamp, level, service, component] = groups.map(|group| {
        group
            .map(|(start, end)| &line[start..end])
            .filter(|text| !text.is_empty())
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
