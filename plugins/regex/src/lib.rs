//! logproc's default text parser. Without settings it reads every format
//! of the SDK's library, the one `detect` chose for each source (lines in
//! none are read as free text); `format` pins one (lines not in it are
//! invalid); `pattern` is a regular expression with named groups
//! `timestamp`, `level`, `service` and `component` (each optional; other
//! groups are allowed and ignored), and a line is parsed when it matches.
//! `timestamp_format`, `timezone` and `level.NAME` apply to all three.

use std::sync::OnceLock;

use logproc_plugin_sdk::format::{self, Format};
use logproc_plugin_sdk::{
    BatchContext, FormatChoice, Guest, Level, Outcomes, ParsedBatch, PluginInfo, Rules, TimeRules, is_blank, read_lines,
};
use regex::{CaptureLocations, Regex};

static CONFIG: OnceLock<Config> = OnceLock::new();

/// What `configure` set.
#[derive(Default)]
struct Config {
    lines: Lines,
    rules: Rules,
}

/// How lines are read.
#[derive(Default)]
enum Lines {
    /// In the format each source was detected in.
    #[default]
    Detected,
    /// In one format, strictly.
    Format(&'static Format),
    /// By a pattern, and the positions of the groups logproc reads
    /// (timestamp, level, service, component).
    Pattern { regex: Regex, groups: [Option<usize>; 4] },
}

impl Lines {
    fn pattern(pattern: &str) -> Result<Lines, String> {
        let regex = Regex::new(pattern).map_err(|error| format!("invalid pattern: {error}"))?;
        let group = |name| regex.capture_names().position(|group| group == Some(name));
        let groups = [group("timestamp"), group("level"), group("service"), group("component")];
        Ok(Lines::Pattern { regex, groups })
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
        let (rules, settings) = Rules::from_settings(settings)?;
        let mut lines = Lines::Detected;
        for (key, value) in &settings {
            lines = match (key.as_str(), &lines) {
                ("pattern" | "format", Lines::Format(_) | Lines::Pattern { .. }) => {
                    return Err("give the regex parser `pattern` or `format`, not both".into());
                }
                ("pattern", _) => Lines::pattern(value)?,
                ("format", _) if value == "auto" => Lines::Detected,
                ("format", _) => Lines::Format(
                    format::named(value)
                        .ok_or_else(|| format!("unknown format `{value}` (known: auto, {})", format::names()))?,
                ),
                (other, _) => {
                    return Err(format!(
                        "unknown setting `{other}` (the regex parser takes `pattern` or `format`, and `timestamp_format`, `timezone`, `level.NAME`)"
                    ));
                }
            };
        }
        CONFIG
            .set(Config { lines, rules })
            .map_err(|_| "the regex parser is already configured".to_string())
    }

    /// The format most of `lines` are in; none while no format reads any
    /// (the host offers more lines, up to a full sample).
    fn detect(lines: String) -> Option<String> {
        match CONFIG.get_or_init(Config::default).lines {
            Lines::Detected => Some(format::detect(logproc_plugin_sdk::lines(&lines)))
                .filter(|format| !std::ptr::eq(*format, &format::TEXT))
                .map(|format| format.name.to_owned()),
            _ => None,
        }
    }

    fn parse_batch(lines: String, context: BatchContext) -> ParsedBatch {
        let config = CONFIG.get_or_init(Config::default);
        let time = TimeRules {
            reference_ms: context.reference_ms,
            ..config.rules.time
        };
        let mut outcomes = Outcomes::default();
        let choice = match &config.lines {
            Lines::Pattern { regex, groups } => {
                let mut locations = regex.capture_locations();
                for line in logproc_plugin_sdk::lines(&lines) {
                    match_line(regex, groups, &mut locations, &config.rules, &time, line, &mut outcomes);
                }
                return outcomes.finish();
            }
            Lines::Format(format) => FormatChoice::Strict(format),
            Lines::Detected => FormatChoice::Detected(match context.format.as_deref().and_then(format::named) {
                Some(format) => format,
                // A source no format was chosen for: this batch decides.
                None => format::detect(logproc_plugin_sdk::lines(&lines)),
            }),
        };
        read_lines(choice, &config.rules, &time, &lines, &mut outcomes);
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(RegexParser);

fn match_line(
    regex: &Regex,
    groups: &[Option<usize>; 4],
    locations: &mut CaptureLocations,
    rules: &Rules,
    time: &TimeRules,
    line: &str,
    outcomes: &mut Outcomes,
) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    if regex.captures_read(locations, line).is_none() {
        return outcomes.invalid("line does not match the pattern");
    }
    let [timestamp, level, service, component] = groups.map(|group| {
        locations
            .get(group?)
            .map(|(start, end)| &line[start..end])
            .filter(|text| !text.is_empty())
    });
    let timestamp_ms = match timestamp.map(|text| rules.timestamp(text, time)).transpose() {
        Ok(timestamp) => timestamp,
        Err(reason) => return outcomes.invalid(reason),
    };
    let found = level.map_or(Level::Unknown, logproc_plugin_sdk::parse_level);
    outcomes.parsed(timestamp_ms, rules.level(found, level), service, component);
}

#[cfg(test)]
mod tests {
    use logproc_plugin_sdk::format::logproc;

    /// The regex the `logproc` format reads by hand (the regex plugin's
    /// default pattern before formats): the scan must agree with it.
    const PATTERN: &str = r"^(?P<timestamp>[^ \t]+)[ \t]+(?P<level>[A-Za-z]+)[ \t]+\[(?P<service>[^\]/ \t]+)(?:/(?P<component>[^\] \t]+))?\]";

    type Groups<'a> = [Option<&'a str>; 4];

    fn by_regex<'a>(regex: &regex::Regex, line: &'a str) -> Option<Groups<'a>> {
        let captures = regex.captures(line)?;
        Some(["timestamp", "level", "service", "component"].map(|name| Some(captures.name(name)?.as_str())))
    }

    fn by_format(line: &str) -> Option<Groups<'_>> {
        let fields = logproc(line)?;
        Some([fields.time, fields.level_text, fields.service, fields.component])
    }

    #[test]
    fn the_logproc_format_agrees_with_its_regex_on_every_line() {
        let regex = regex::Regex::new(PATTERN).unwrap();
        let pieces = [
            "2025-01-01T12:00:00.123Z",
            "x",
            " ",
            "\t",
            "  ",
            "INFO",
            "warn",
            "E1",
            "[",
            "]",
            "/",
            "svc",
            "a/b",
            "é",
            "[x]",
            "trace=1",
            "[a/b]",
            "ERROR [s/c] m",
            "\u{a0}",
            "",
        ];
        let mut lines = vec![
            "2025-01-01T12:00:00.123Z ERROR [payments/api] card declined trace=4bf92f3577b34da6".to_owned(),
            "ts\tWARN\t[orders] no component".to_owned(),
            "ts INFO [a/b/c] component with a slash".to_owned(),
            "ts INFO [a/] empty component".to_owned(),
            "ts INFO [/b] empty service".to_owned(),
            "ts INFO [] empty".to_owned(),
            "ts INFO [a b] space".to_owned(),
            "ts INF0 [a] digit in level".to_owned(),
            " ts INFO [a] leading space".to_owned(),
        ];
        // Every sequence of up to six pieces from a fixed pseudo-random walk.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            let mut line = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for i in 0..(state % 7) {
                line.push_str(pieces[((state >> (8 * i + 3)) % pieces.len() as u64) as usize]);
            }
            lines.push(line);
        }
        let mut matched = 0;
        for line in &lines {
            let expected = by_regex(&regex, line);
            matched += usize::from(expected.is_some());
            assert_eq!(by_format(line), expected, "{line:?}");
        }
        assert!(matched > 1_000, "too few matching lines to mean much: {matched}");
    }
}
