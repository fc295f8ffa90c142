//! logproc's default JSON parser: one JSON object per line, in the mock
//! generator's format (`timestamp` epoch ms or RFC 3339, `level`, `service`,
//! `component`, ...). Fields may come in any order; other fields are checked
//! as JSON and otherwise ignored.

mod scan;

use logproc_plugin_sdk::{
    Guest, Level, Outcomes, ParsedBatch, PluginInfo, epoch_to_ms, is_blank, parse_level, parse_timestamp,
};
use scan::Timestamp;

struct JsonParser;

impl Guest for JsonParser {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "json".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        match settings.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!("the json parser takes no settings, got `{key}`")),
        }
    }

    fn parse_batch(lines: String) -> ParsedBatch {
        let mut outcomes = Outcomes::default();
        for line in logproc_plugin_sdk::lines(&lines) {
            parse_line(line, &mut outcomes);
        }
        outcomes.finish()
    }
}

logproc_plugin_sdk::export!(JsonParser);

fn parse_line(line: &str, outcomes: &mut Outcomes) {
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
    let timestamp_ms = match fields.timestamp.as_ref().map(epoch_ms).transpose() {
        Ok(timestamp_ms) => timestamp_ms,
        Err(reason) => return outcomes.invalid(reason),
    };
    outcomes.parsed(
        timestamp_ms,
        fields.level.as_deref().map_or(Level::Unknown, parse_level),
        fields.service.as_deref(),
        fields.component.as_deref(),
    );
}

/// `timestamp`: an epoch number in any unit (told apart by its digits, see
/// [`epoch_to_ms`]), as a number or a string, or a date string
/// ([`parse_timestamp`]).
fn epoch_ms(timestamp: &Timestamp) -> Result<i64, String> {
    match timestamp {
        Timestamp::Text(text) => parse_timestamp(text),
        Timestamp::Number(number) if !number.contains(['e', 'E', '-']) => epoch_to_ms(number),
        // 1.7e12: as the plain number it stands for.
        Timestamp::Number(number) => match number.parse::<f64>() {
            Ok(value) if (0.0..1e20).contains(&value) => epoch_to_ms(&format!("{:.0}", value.trunc())),
            _ => Err(format!("timestamp {number} is out of range (years 1970 to 9999)")),
        },
    }
}
