//! logproc's default JSON parser: one JSON object per line. Fields may come
//! in any order, under the keys of every common dialect (the SDK's
//! [`keys`](logproc_plugin_sdk::keys) table: logproc's own, ECS, OpenTelemetry,
//! Bunyan/pino, GELF, Serilog CLEF, journald, Docker's json-file); other
//! fields are checked as JSON and otherwise ignored. A line without a level
//! key takes its level from its message's words. Takes the shared settings
//! `timestamp_format`, `timezone` and `level.NAME`.

mod scan;

use std::sync::OnceLock;

use logproc_plugin_sdk::keys::level_of_value;
use logproc_plugin_sdk::{
    BatchContext, Guest, Level, Outcomes, ParsedBatch, PluginInfo, Rules, TimeRules, epoch_to_ms, is_blank,
};
use scan::Timestamp;

static RULES: OnceLock<Rules> = OnceLock::new();

/// Names `format` may give this parser: every dialect it reads.
const DIALECTS: [&str; 11] = [
    "json",
    "ecs",
    "otel",
    "bunyan",
    "pino",
    "gelf",
    "clef",
    "journald",
    "docker",
    "json-file",
    "logstash",
];

struct JsonParser;

impl Guest for JsonParser {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "json".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        let (rules, rest) = Rules::from_settings(settings)?;
        for (key, value) in rest {
            match key.as_str() {
                "format" if DIALECTS.contains(&value.to_ascii_lowercase().as_str()) => {}
                "format" => {
                    return Err(format!(
                        "the json parser reads every dialect it knows at once ({}), not `{value}`",
                        DIALECTS.join(", ")
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown setting `{other}` (the json parser takes `timestamp_format`, `timezone`, `level.NAME`)"
                    ));
                }
            }
        }
        RULES
            .set(rules)
            .map_err(|_| "the json parser is already configured".to_string())
    }

    fn detect(_lines: String) -> Option<String> {
        None
    }

    fn parse_batch(lines: String, context: BatchContext) -> ParsedBatch {
        let rules = RULES.get_or_init(Rules::default);
        let time = TimeRules {
            reference_ms: context.reference_ms,
            ..rules.time
        };
        let mut outcomes = Outcomes::default();
        for line in logproc_plugin_sdk::lines(&lines) {
            parse_line(rules, &time, line, &mut outcomes);
        }
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(JsonParser);

fn parse_line(rules: &Rules, time: &TimeRules, line: &str, outcomes: &mut Outcomes) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    if !line.trim_start().starts_with('{') {
        return outcomes.invalid("not a JSON object");
    }
    let fields = match scan::fields(line) {
        Ok(fields) => fields,
        Err(error) => return outcomes.invalid(format!("invalid JSON: {error}")),
    };
    let timestamp_ms = match fields
        .timestamp
        .as_ref()
        .map(|value| epoch_ms(rules, time, value))
        .transpose()
    {
        Ok(timestamp_ms) => timestamp_ms,
        Err(reason) => return outcomes.invalid(reason),
    };
    let level = match &fields.level {
        Some((scale, value)) => rules.level(level_of_value(*scale, value), Some(value)),
        None if fields.clef => rules.level(Level::Info, None),
        // Docker's `log`, journald's `MESSAGE`: the level is in the words.
        None => match fields.message {
            Some(message) => level_of_message(rules, message),
            None => Level::Unknown,
        },
    };
    outcomes.parsed(
        timestamp_ms,
        level,
        fields.service.as_deref(),
        fields.component.as_deref(),
    );
}

/// The level of a line without a level key, from its message's words.
#[inline(never)]
fn level_of_message(rules: &Rules, encoded: &str) -> Level {
    rules.scan_level(&scan::decode(encoded))
}

/// A time value: an epoch number in any unit (told apart by its digits, see
/// [`epoch_to_ms`]), as a number or a string, or a date string.
fn epoch_ms(rules: &Rules, time: &TimeRules, timestamp: &Timestamp) -> Result<i64, String> {
    match timestamp {
        Timestamp::Text(text) => rules.timestamp(text, time),
        Timestamp::Number(number) if !number.contains(['e', 'E', '-']) => epoch_to_ms(number),
        // 1.7e12: as the plain number it stands for.
        Timestamp::Number(number) => match number.parse::<f64>() {
            Ok(value) if (0.0..1e20).contains(&value) => epoch_to_ms(&format!("{:.0}", value.trunc())),
            _ => Err(format!("timestamp {number} is out of range (years 1970 to 9999)")),
        },
    }
}
