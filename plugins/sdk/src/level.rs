//! The level table of `logproc-levels` (which the host shares), in the
//! contract's [`Level`].

use logproc_levels as table;

use crate::Level;

impl From<table::Level> for Level {
    #[inline]
    fn from(level: table::Level) -> Level {
        match level {
            table::Level::Trace => Level::Trace,
            table::Level::Debug => Level::Debug,
            table::Level::Info => Level::Info,
            table::Level::Warn => Level::Warn,
            table::Level::Error => Level::Error,
            table::Level::Fatal => Level::Fatal,
            table::Level::Unknown => Level::Unknown,
        }
    }
}

impl From<Level> for table::Level {
    #[inline]
    fn from(level: Level) -> table::Level {
        match level {
            Level::Trace => table::Level::Trace,
            Level::Debug => table::Level::Debug,
            Level::Info => table::Level::Info,
            Level::Warn => table::Level::Warn,
            Level::Error => table::Level::Error,
            Level::Fatal => table::Level::Fatal,
            Level::Unknown => table::Level::Unknown,
        }
    }
}

/// [`table::parse_level`]: a level name, ignoring case and surrounding
/// whitespace; anything else is UNKNOWN.
#[inline]
pub fn parse_level(name: &str) -> Level {
    table::parse_level(name).into()
}

/// [`table::level_from_syslog_severity`].
pub fn level_from_syslog_severity(severity: i64) -> Level {
    table::level_from_syslog_severity(severity).into()
}

/// [`table::level_from_bunyan`].
pub fn level_from_bunyan(level: i64) -> Level {
    table::level_from_bunyan(level).into()
}

/// [`table::level_from_otel_severity`].
pub fn level_from_otel_severity(number: i64) -> Level {
    table::level_from_otel_severity(number).into()
}

/// [`table::scan_level`]: the earliest level word of a line of free text.
pub fn scan_level(line: &str) -> Level {
    table::scan_level(line).into()
}

/// [`table::scan_level_by`], with a route's own spellings first.
pub fn scan_level_by(line: &str, own: impl Fn(&[u8]) -> Option<Level>) -> Level {
    table::scan_level_by(line, |word| own(word).map(table::Level::from)).into()
}
