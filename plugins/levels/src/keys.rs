//! Field names of structured logs (JSON dialects, logfmt), and what each
//! means to logproc. One table, so that every structured parser reads the
//! same keys the same way.

/// What a key holds, and how strongly it says so: of two keys for the same
/// field in one line, the lower rank wins (`level` over `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub field: Field,
    pub rank: u8,
}

/// The fields logproc counts by, and how a level is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Time,
    Level(LevelScale),
    Service,
    Component,
    /// The message: where a level is looked for when no key names it
    /// (Docker's `log`, journald's `MESSAGE`).
    Message,
}

/// How a level value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelScale {
    /// A name (`info`, `Warning`, `E`); a number by its size: up to 7 a
    /// syslog severity (GELF), from 10 Bunyan/pino's scale.
    Name,
    /// A syslog severity, 0 to 7 (journald's `PRIORITY`).
    Syslog,
    /// An OpenTelemetry severity number, 1 to 24.
    Otel,
}

/// Serilog CLEF's time key, `@t`: a CLEF event without `@l` is at level
/// Information, by the format's definition.
pub const CLEF_TIME: Key = Key {
    field: Field::Time,
    rank: 4,
};

/// The meaning of a key, if logproc reads it:
///
/// | field | keys, strongest first |
/// | --- | --- |
/// | time | `timestamp`, `time`, `ts`, `@timestamp`, `@t`, `date`, `datetime`, `timeUnixNano`, `Timestamp`, `timeMillis`, `__REALTIME_TIMESTAMP`, `observedTimeUnixNano` |
/// | level | `level`, `lvl`, `severity`, `levelname`, `loglevel`, `log.level`, `@l`, `severityText`, `SeverityText`, `severity_text`, `level_name`; numbers: `severityNumber`, `SeverityNumber` (OpenTelemetry), `PRIORITY` (syslog) |
/// | service | `service`, `service.name`, `service_name`, `app`, `application`, `name` (Bunyan), `SYSLOG_IDENTIFIER` (journald), `logger` |
/// | component | `component`, `module`, `log.logger`, `logger_name`, `category`, `SourceContext` (Serilog), `_SYSTEMD_UNIT` |
/// | message | `message`, `msg`, `log` (Docker), `MESSAGE` (journald), `short_message` (GELF), `@m`, `@mt`, `body` |
#[inline]
pub fn key(name: &str) -> Option<Key> {
    let bytes = name.as_bytes();
    let (first, last) = (*bytes.first()?, *bytes.last()?);
    // Most other keys of a line are none of the table's: ruled out by
    // length, first and last byte before the match (a `memcmp` call per
    // candidate in Wasm).
    let len = bytes.len();
    let ruled_out = len >= FIRST_BYTES.len()
        || FIRST_BYTES[len] >> (first & 63) & 1 == 0
        || LAST_BYTES[len] >> (last & 63) & 1 == 0;
    if ruled_out { None } else { lookup(name) }
}

const fn k(field: Field, rank: u8) -> Key {
    Key { field, rank }
}

use Field::{Component, Message, Service, Time};
use LevelScale::{Name, Otel, Syslog};

/// The table of keys, as a match ([`lookup`]) and a list ([`TABLE`], for
/// [`FILTER`]) from one source.
macro_rules! key_table {
    ($($name:literal => $key:expr,)*) => {
        #[inline(never)]
        fn lookup(name: &str) -> Option<Key> {
            match name {
                $($name => Some($key),)*
                _ => None,
            }
        }

        const TABLE: &[(&str, Key)] = &[$(($name, $key)),*];
    };
}

key_table! {
    "timestamp" => k(Time, 0),
    "time" => k(Time, 1),
    "ts" => k(Time, 2),
    "@timestamp" => k(Time, 3),
    "@t" => CLEF_TIME,
    "date" => k(Time, 5),
    "datetime" => k(Time, 6),
    "timeUnixNano" => k(Time, 7),
    "Timestamp" => k(Time, 7),
    "timeMillis" => k(Time, 8),
    "__REALTIME_TIMESTAMP" => k(Time, 9),
    "observedTimeUnixNano" => k(Time, 10),
    "ObservedTimestamp" => k(Time, 10),
    "level" => k(Field::Level(Name), 0),
    "lvl" => k(Field::Level(Name), 1),
    "severity" => k(Field::Level(Name), 2),
    "levelname" => k(Field::Level(Name), 3),
    "level_name" => k(Field::Level(Name), 3),
    "loglevel" => k(Field::Level(Name), 4),
    "log.level" => k(Field::Level(Name), 5),
    "@l" => k(Field::Level(Name), 6),
    "severityText" => k(Field::Level(Name), 7),
    "SeverityText" => k(Field::Level(Name), 7),
    "severity_text" => k(Field::Level(Name), 7),
    "severityNumber" => k(Field::Level(Otel), 8),
    "SeverityNumber" => k(Field::Level(Otel), 8),
    "PRIORITY" => k(Field::Level(Syslog), 9),
    "service" => k(Service, 0),
    "service.name" => k(Service, 1),
    "service_name" => k(Service, 2),
    "app" => k(Service, 3),
    "application" => k(Service, 4),
    "name" => k(Service, 5),
    "SYSLOG_IDENTIFIER" => k(Service, 6),
    "logger" => k(Service, 7),
    "component" => k(Component, 0),
    "module" => k(Component, 1),
    "log.logger" => k(Component, 2),
    "logger_name" => k(Component, 3),
    "category" => k(Component, 4),
    "SourceContext" => k(Component, 5),
    "_SYSTEMD_UNIT" => k(Component, 6),
    "message" => k(Message, 0),
    "msg" => k(Message, 1),
    "log" => k(Message, 2),
    "MESSAGE" => k(Message, 3),
    "short_message" => k(Message, 4),
    "@m" => k(Message, 5),
    "@mt" => k(Message, 6),
    "body" => k(Message, 7),
}

/// Bit `byte % 64` of entry `length`: some key of that length starts
/// (ends) with that byte. Built from [`TABLE`] at compile time.
const FIRST_BYTES: [u64; 24] = byte_filter(false);
const LAST_BYTES: [u64; 24] = byte_filter(true);

const fn byte_filter(last: bool) -> [u64; 24] {
    let mut filter = [0u64; 24];
    let mut at = 0;
    while at < TABLE.len() {
        let name = TABLE[at].0.as_bytes();
        let byte = if last { name[name.len() - 1] } else { name[0] };
        filter[name.len()] |= 1 << (byte & 63);
        at += 1;
    }
    filter
}

/// The level of a value under a level key: a name, or a number on the key's
/// scale (a name of digits counts as that number).
#[inline]
pub fn level_of_value(scale: LevelScale, value: &str) -> crate::Level {
    use crate::{level_from_bunyan, level_from_otel_severity, level_from_syslog_severity, parse_level};
    let number = (!value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<i64>().ok())
        .flatten();
    match (scale, number) {
        (LevelScale::Name, None) => parse_level(value),
        (LevelScale::Name, Some(number)) if number <= 7 => level_from_syslog_severity(number),
        (LevelScale::Name, Some(number)) => level_from_bunyan(number),
        (LevelScale::Syslog, Some(number)) => level_from_syslog_severity(number),
        (LevelScale::Otel, Some(number)) => level_from_otel_severity(number),
        (_, None) => parse_level(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    #[test]
    fn numbers_on_each_scale() {
        assert_eq!(level_of_value(LevelScale::Name, "30"), Level::Info);
        assert_eq!(level_of_value(LevelScale::Name, "3"), Level::Error);
        assert_eq!(level_of_value(LevelScale::Name, "warning"), Level::Warn);
        assert_eq!(level_of_value(LevelScale::Syslog, "6"), Level::Info);
        assert_eq!(level_of_value(LevelScale::Otel, "17"), Level::Error);
        assert_eq!(level_of_value(LevelScale::Otel, "INFO"), Level::Info);
        assert_eq!(key("@l").map(|key| key.field), Some(Field::Level(LevelScale::Name)));
        assert_eq!(key("nope"), None);
        assert_eq!(key("@t"), Some(CLEF_TIME));
        // Every key of the table passes the filter; a few others do not.
        for &(name, found) in TABLE {
            assert_eq!(key(name), Some(found), "{name}");
        }
        for other in [
            "trace_id",
            "span_id",
            "parent_id",
            "",
            "x",
            "levels",
            "a_very_long_key_name_indeed",
        ] {
            assert_eq!(key(other), None, "{other}");
        }
    }
}
