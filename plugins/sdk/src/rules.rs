//! The settings every parser shares (`timestamp_format`, `timezone`, a
//! route's own level names), and the reading of one line in a format of
//! the library with them.

use crate::format::{Format, TEXT, leading_time};
use crate::level::{parse_level, scan_level_by};
use crate::time::{TimeRules, check_timestamp_format, parse_offset, parse_timestamp_formatted, parse_timestamp_with};
use crate::{Level, Outcomes, is_blank};

/// How a parser reads times and levels, from its settings.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The offset of times that name none (`timezone`).
    pub time: TimeRules,
    /// `timestamp_format`: strftime; without it, every known spelling.
    pub timestamp_format: Option<String>,
    /// A route's own level names (`level.NAME` settings), lowercase.
    levels: Vec<(String, Level)>,
}

/// The prefix of a setting that names a level: `level.NOTICE=warn`.
pub const LEVEL_SETTING: &str = "level.";

impl Rules {
    /// Takes the shared settings out of `settings`: `timestamp_format`,
    /// `timezone` and every `level.NAME`; returns the rest, for the plugin.
    pub fn from_settings(settings: Vec<(String, String)>) -> Result<(Rules, Vec<(String, String)>), String> {
        let mut rules = Rules::default();
        let mut rest = Vec::new();
        let (mut zone_name, mut transitions) = (None, None);
        for (key, value) in settings {
            if key == "timestamp_format" {
                check_timestamp_format(&value)?;
                rules.timestamp_format = Some(value);
            } else if key == "timezone" {
                zone_name = Some(value);
            } else if key == TRANSITIONS_SETTING {
                transitions = Some(parse_transitions(&value)?);
            } else if let Some(name) = key.strip_prefix(LEVEL_SETTING) {
                let level = level_named(&value).ok_or_else(|| {
                    format!(
                        "levels: `{name}: {value}` names no level (use trace, debug, info, warn, error, fatal or unknown)"
                    )
                })?;
                rules.levels.push((name.to_ascii_lowercase(), level));
            } else {
                rest.push((key, value));
            }
        }
        match (zone_name, transitions) {
            // A zone name, resolved by the host.
            (Some(_), Some(zone)) => rules.time.zone = Some(Vec::leak(zone)),
            (Some(zone), None) => rules.time.offset_minutes = parse_offset(&zone)?,
            (None, Some(_)) => return Err(format!("{TRANSITIONS_SETTING} without timezone")),
            (None, None) => {}
        }
        Ok((rules, rest))
    }

    /// Reads a timestamp: by `timestamp_format` if set, else in any known
    /// spelling; `time` carries the batch's reference for year-less dates.
    #[inline]
    pub fn timestamp(&self, text: &str, time: &TimeRules) -> Result<i64, String> {
        match &self.timestamp_format {
            Some(format) => parse_timestamp_formatted(format, text, time),
            None => parse_timestamp_with(text, time),
        }
    }

    /// The level of a line: the route's own name for `text` if it has one
    /// (for a three-digit HTTP status also its class, `4xx`), else `found`.
    #[inline]
    pub fn level(&self, found: Level, text: Option<&str>) -> Level {
        match text {
            Some(text) if !self.levels.is_empty() => self.own_level(found, text),
            _ => found,
        }
    }

    #[inline(never)]
    fn own_level(&self, found: Level, text: &str) -> Level {
        let own = |name: &str| {
            self.levels
                .iter()
                .find(|(own, _)| own.eq_ignore_ascii_case(name))
                .map(|(_, level)| *level)
        };
        let class = || {
            let is_status = text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit());
            is_status.then(|| own(&format!("{}xx", &text[..1]))).flatten()
        };
        own(text).or_else(class).unwrap_or(found)
    }

    /// The level of free text: the earliest level word, the route's own
    /// names included.
    pub fn scan_level(&self, line: &str) -> Level {
        scan_level_by(line, |word| {
            self.levels
                .iter()
                .find(|(own, _)| own.as_bytes().eq_ignore_ascii_case(word))
                .map(|(_, level)| *level)
        })
    }
}

/// The setting in which the host gives a zone's offset changes:
/// `SECONDS:MINUTES` pairs, comma-separated, oldest first.
pub const TRANSITIONS_SETTING: &str = "timezone.transitions";

fn parse_transitions(text: &str) -> Result<Vec<(i64, i32)>, String> {
    let pair = |pair: &str| {
        let (at, offset) = pair.split_once(':')?;
        Some((at.parse().ok()?, offset.parse().ok()?))
    };
    let zone: Option<Vec<(i64, i32)>> = text.split(',').map(pair).collect();
    zone.filter(|zone| !zone.is_empty() && zone.is_sorted_by_key(|(at, _)| *at))
        .ok_or_else(|| format!("{TRANSITIONS_SETTING} is not a list of SECONDS:MINUTES, oldest first"))
}

/// A level by logproc's own names (what a `levels` map maps to).
fn level_named(name: &str) -> Option<Level> {
    match name.to_ascii_lowercase().as_str() {
        "unknown" => Some(Level::Unknown),
        _ => Some(parse_level(name)).filter(|level| *level != Level::Unknown),
    }
}

/// How a source's lines are read with a format of the library.
#[derive(Debug, Clone, Copy)]
pub enum FormatChoice {
    /// Chosen by the route: a line not in it is invalid, and so is one
    /// whose timestamp cannot be read.
    Strict(&'static Format),
    /// Detected from the source's first lines: a line not in it is read as
    /// free text, an unreadable timestamp is left out (the host counts the
    /// line at the time of reading).
    Detected(&'static Format),
}

/// Reads every line of a batch (joined by `\n`) into `outcomes`.
pub fn read_lines(choice: FormatChoice, rules: &Rules, time: &TimeRules, lines: &str, outcomes: &mut Outcomes) {
    // logproc's own format, the default text path, read without a call
    // through the format table per line (measured: 8% of the whole run).
    let format = match choice {
        FormatChoice::Strict(format) | FormatChoice::Detected(format) => format,
    };
    if format.name == "logproc" {
        for line in crate::lines(lines) {
            read_with(crate::format::logproc, choice, rules, time, line, outcomes);
        }
    } else {
        for line in crate::lines(lines) {
            read_with(format.read, choice, rules, time, line, outcomes);
        }
    }
}

/// Reads one line into `outcomes`.
pub fn read_line(choice: FormatChoice, rules: &Rules, time: &TimeRules, line: &str, outcomes: &mut Outcomes) {
    let format = match choice {
        FormatChoice::Strict(format) | FormatChoice::Detected(format) => format,
    };
    read_with(format.read, choice, rules, time, line, outcomes);
}

#[inline(always)]
fn read_with(
    read: impl Fn(&str) -> Option<crate::format::Fields<'_>>,
    choice: FormatChoice,
    rules: &Rules,
    time: &TimeRules,
    line: &str,
    outcomes: &mut Outcomes,
) {
    if is_blank(line) {
        return outcomes.skipped();
    }
    let (format, strict) = match choice {
        FormatChoice::Strict(format) => (format, !std::ptr::eq(format, &TEXT)),
        FormatChoice::Detected(format) => (format, false),
    };
    let Some(fields) = read(line) else {
        return not_in_format(format, strict, rules, time, line, outcomes);
    };
    let timestamp = match fields.time.map(|text| rules.timestamp(text, time)).transpose() {
        Ok(timestamp) => timestamp,
        Err(reason) if strict => return outcomes.invalid(reason),
        Err(_) => None,
    };
    outcomes.parsed(
        timestamp,
        rules.level(fields.level, fields.level_text),
        fields.service,
        fields.component,
    );
}

/// A line not in `format`: invalid if the format was chosen, else free
/// text. Out of line, as it is rare in a file of the format.
#[cold]
#[inline(never)]
fn not_in_format(format: &Format, strict: bool, rules: &Rules, time: &TimeRules, line: &str, outcomes: &mut Outcomes) {
    if strict {
        return outcomes.invalid(format!("line is not in the `{}` format", format.name));
    }
    let timestamp = leading_time(line, |text| rules.timestamp(text, time).ok());
    outcomes.parsed(timestamp, rules.scan_level(line), None, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;
    use crate::format::named;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn shared_settings_are_taken_and_checked() {
        let (rules, rest) = Rules::from_settings(settings(&[
            ("timestamp_format", "%d.%m.%Y %H:%M"),
            ("timezone", "+02:00"),
            ("level.NOTICE", "warn"),
            ("level.4xx", "info"),
            ("pattern", "x"),
        ]))
        .unwrap();
        assert_eq!(rest, settings(&[("pattern", "x")]));
        assert_eq!(rules.time.offset_minutes, 120);
        assert_eq!(rules.timestamp("01.01.2025 14:00", &rules.time), Ok(1_735_732_800_000));
        assert_eq!(rules.level(Level::Info, Some("notice")), Level::Warn);
        assert_eq!(rules.level(Level::Warn, Some("404")), Level::Info);
        assert_eq!(rules.level(Level::Error, Some("503")), Level::Error);
        assert_eq!(rules.scan_level("x NOTICE: y error"), Level::Warn);
        for bad in [
            ("timestamp_format", "%Q"),
            ("timezone", "Mars/Olympus"),
            ("level.x", "loud"),
        ] {
            assert!(Rules::from_settings(settings(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_zone_with_daylight_saving_time_reads_each_date_with_its_offset() {
        // Europe/Paris in 2025: +01:00, +02:00 from 2025-03-30T01:00Z, +01:00
        // again from 2025-10-26T01:00Z.
        let (rules, _) = Rules::from_settings(settings(&[
            ("timezone", "Europe/Paris"),
            (
                TRANSITIONS_SETTING,
                "-9223372036854775808:60,1743296400:120,1761440400:60",
            ),
        ]))
        .unwrap();
        let read = |text: &str| rules.timestamp(text, &rules.time);
        assert_eq!(read("2025-01-15 13:00:00"), Ok(1_736_942_400_000), "winter, +01:00");
        assert_eq!(read("2025-07-01 14:00:00"), Ok(1_751_371_200_000), "summer, +02:00");
        assert_eq!(
            read("2025-07-01T14:00:00Z"),
            Ok(1_751_378_400_000),
            "a written offset wins"
        );
        // 02:30 on 2025-10-26 occurs twice: the first (+02:00) is taken.
        assert_eq!(read("2025-10-26 02:30:00"), Ok(1_761_438_600_000));
        assert!(Rules::from_settings(settings(&[("timezone", "Europe/Paris")])).is_err());
    }

    #[test]
    fn strict_formats_refuse_what_detected_ones_read_as_text() {
        let syslog = named("syslog").unwrap();
        let rules = Rules::default();
        let time = TimeRules {
            reference_ms: Some(1_735_732_800_000),
            ..TimeRules::default()
        };
        let lines = ["Jun 14 15:16:01 host sshd[1]: ok", "ERROR free text", "   "];
        let mut strict = Outcomes::default();
        let mut detected = Outcomes::default();
        for line in lines {
            read_line(FormatChoice::Strict(syslog), &rules, &time, line, &mut strict);
            read_line(FormatChoice::Detected(syslog), &rules, &time, line, &mut detected);
        }
        let (strict, detected) = (strict.finish(), detected.finish());
        assert!(matches!(strict.outcomes[1], Outcome::Invalid(_)));
        assert!(
            matches!(&detected.outcomes[1], Outcome::Parsed(entry) if entry.level == Level::Error && entry.timestamp_ms.is_none())
        );
        assert!(matches!(&strict.outcomes[0], Outcome::Parsed(entry) if entry.timestamp_ms == Some(1_718_378_161_000)));
        assert!(matches!(strict.outcomes[2], Outcome::Skipped));
    }
}
