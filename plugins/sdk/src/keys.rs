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
pub fn key(name: &str) -> Option<Key> {
    use Field::*;
    use LevelScale::*;
    let (field, rank) = match name {
        "timestamp" => (Time, 0),
        "time" => (Time, 1),
        "ts" => (Time, 2),
        "@timestamp" => (Time, 3),
        "@t" => (Time, 4),
        "date" => (Time, 5),
        "datetime" => (Time, 6),
        "timeUnixNano" | "Timestamp" => (Time, 7),
        "timeMillis" => (Time, 8),
        "__REALTIME_TIMESTAMP" => (Time, 9),
        "observedTimeUnixNano" | "ObservedTimestamp" => (Time, 10),
        "level" => (Level(Name), 0),
        "lvl" => (Level(Name), 1),
        "severity" => (Level(Name), 2),
        "levelname" | "level_name" => (Level(Name), 3),
        "loglevel" => (Level(Name), 4),
        "log.level" => (Level(Name), 5),
        "@l" => (Level(Name), 6),
        "severityText" | "SeverityText" | "severity_text" => (Level(Name), 7),
        "severityNumber" | "SeverityNumber" => (Level(Otel), 8),
        "PRIORITY" => (Level(Syslog), 9),
        "service" => (Service, 0),
        "service.name" => (Service, 1),
        "service_name" => (Service, 2),
        "app" => (Service, 3),
        "application" => (Service, 4),
        "name" => (Service, 5),
        "SYSLOG_IDENTIFIER" => (Service, 6),
        "logger" => (Service, 7),
        "component" => (Component, 0),
        "module" => (Component, 1),
        "log.logger" => (Component, 2),
        "logger_name" => (Component, 3),
        "category" => (Component, 4),
        "SourceContext" => (Component, 5),
        "_SYSTEMD_UNIT" => (Component, 6),
        "message" => (Message, 0),
        "msg" => (Message, 1),
        "log" => (Message, 2),
        "MESSAGE" => (Message, 3),
        "short_message" => (Message, 4),
        "@m" => (Message, 5),
        "@mt" => (Message, 6),
        "body" => (Message, 7),
        _ => return None,
    };
    Some(Key { field, rank })
}

/// The level of a value under a level key: a name, or a number on the key's
/// scale (a name of digits counts as that number).
pub fn level_of_value(scale: LevelScale, value: &str) -> crate::Level {
    use crate::level::{level_from_bunyan, level_from_otel_severity, level_from_syslog_severity, parse_level};
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
    }
}
