//! Level names as real logs spell them, and the numeric scales some formats
//! carry (syslog severity, Bunyan/pino, OpenTelemetry), mapped to the seven
//! levels logproc counts; the field names of structured logs ([`keys`]);
//! and timestamps as logs spell them ([`time`]). One table for every parser
//! (through the plugin SDK) and for the host (OTLP severities, Loki level
//! labels, shippers' JSON records and their times). No dependencies: the
//! host builds it natively, the plugins for Wasm.

pub mod keys;
pub mod time;

/// The seven levels, as the plugin contract and the statistics name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Unknown,
}

/// The longest name in [`parse_level`]'s table (`informational`).
const LONGEST_NAME: usize = 13;

/// Maps a level name to a [`Level`], ignoring ASCII case and surrounding
/// whitespace; anything else is [`Level::Unknown`]:
///
/// | level | names |
/// | --- | --- |
/// | TRACE | `trace`, `trc`, `trac`, `finest`, `finer`, `verbose`, `v` |
/// | DEBUG | `debug`, `dbg`, `debu`, `fine`, `config`, `d` |
/// | INFO | `info`, `inf`, `information`, `informational`, `notice`, `i`, `n` |
/// | WARN | `warn`, `warning`, `wrn`, `w` |
/// | ERROR | `error`, `err`, `erro`, `eror`, `severe`, `e` |
/// | FATAL | `fatal`, `fata`, `critical`, `crit`, `emerg`, `emergency`, `alert`, `panic`, `pani`, `dpanic`, `f`, `a`, `c` |
///
/// Single letters are those of Android logcat (`V D I W E F A`) and Go's
/// glog/klog (`I W E F`); `severe`, `fine`, `finer`, `finest` and `config`
/// are java.util.logging's; four-letter forms are logrus's text output;
/// `notice`, `alert`, `emerg` and `crit` are syslog's; `information` and
/// `critical` are .NET's; `dpanic` and `panic` are zap's.
pub fn parse_level(name: &str) -> Level {
    // The common spellings first: 5 ns against 16 ns for the table below
    // (native, measured), on the path of every line.
    match name {
        "INFO" | "info" => return Level::Info,
        "WARN" | "warn" => return Level::Warn,
        "ERROR" | "error" => return Level::Error,
        "DEBUG" | "debug" => return Level::Debug,
        _ => {}
    }
    let name = name.trim().as_bytes();
    if name.is_empty() || name.len() > LONGEST_NAME {
        return Level::Unknown;
    }
    let mut lower = [0u8; LONGEST_NAME];
    for (to, from) in lower.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    match &lower[..name.len()] {
        b"info" | b"inf" | b"information" | b"informational" | b"notice" | b"i" | b"n" => Level::Info,
        b"error" | b"err" | b"erro" | b"eror" | b"severe" | b"e" => Level::Error,
        b"warn" | b"warning" | b"wrn" | b"w" => Level::Warn,
        b"debug" | b"dbg" | b"debu" | b"fine" | b"config" | b"d" => Level::Debug,
        b"trace" | b"trc" | b"trac" | b"finest" | b"finer" | b"verbose" | b"v" => Level::Trace,
        b"fatal" | b"fata" | b"critical" | b"crit" | b"emerg" | b"emergency" | b"alert" | b"panic" | b"pani"
        | b"dpanic" | b"f" | b"a" | b"c" => Level::Fatal,
        _ => Level::Unknown,
    }
}

/// A syslog severity (RFC 5424 §6.2.1, journald's `PRIORITY`, GELF's
/// `level`): 0-2 (emergency, alert, critical) FATAL, 3 ERROR, 4 WARN, 5-6
/// (notice, informational) INFO, 7 DEBUG.
pub fn level_from_syslog_severity(severity: i64) -> Level {
    match severity {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        7 => Level::Debug,
        _ => Level::Unknown,
    }
}

/// A Bunyan or pino level: 10 TRACE, 20 DEBUG, 30 INFO, 40 WARN, 50 ERROR,
/// 60 FATAL (custom levels in between count with the level below them).
pub fn level_from_bunyan(level: i64) -> Level {
    match level {
        10..=19 => Level::Trace,
        20..=29 => Level::Debug,
        30..=39 => Level::Info,
        40..=49 => Level::Warn,
        50..=59 => Level::Error,
        60..=69 => Level::Fatal,
        _ => Level::Unknown,
    }
}

/// An OpenTelemetry `SeverityNumber`: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO,
/// 13-16 WARN, 17-20 ERROR, 21-24 FATAL; 0 (unspecified) and others UNKNOWN.
pub fn level_from_otel_severity(number: i64) -> Level {
    match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => Level::Unknown,
    }
}

/// How far into a line [`scan_level`] looks: levels stand near the start,
/// and a message's own words further on are not its level.
const SCAN_BYTES: usize = 256;

/// The level of a line of free text: the earliest whole word (letters,
/// digits and `_ - . /`, case ignored, a final `.` dropped) among `trace debug info notice warn warning error err fatal
/// critical crit emerg alert panic severe` in its first 256 bytes, else
/// UNKNOWN. As Grafana Loki's `detected_level`, the earliest match wins;
/// single letters and short forms are left out, since prose is full of them.
pub fn scan_level(line: &str) -> Level {
    scan_level_by(line, |_| None)
}

/// [`scan_level`], where `own` names a route's own spellings first (any
/// length, not only the table's words of three to eight letters).
pub fn scan_level_by(line: &str, own: impl Fn(&[u8]) -> Option<Level>) -> Level {
    let bytes = &line.as_bytes()[..line.len().min(SCAN_BYTES)];
    // A word is a run of letters, digits and `_ - . /` (so that the `error`
    // of `libgpg-error0` or `error.c` is no level word), without the `.`
    // or `-` that ends a sentence or a dash.
    let in_word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/');
    let mut at = 0;
    while at < bytes.len() {
        if !in_word(&bytes[at]) {
            at += 1;
            continue;
        }
        let end = at + bytes[at..].iter().take_while(|b| in_word(b)).count();
        // A word ends at the end of the scanned part only if the line does.
        let whole = end < bytes.len() || end == line.len();
        let mut word = &bytes[at..end];
        while let [rest @ .., b'.' | b'-'] = word {
            word = rest;
        }
        if whole
            && !word.is_empty()
            && let Some(level) = own(word)
        {
            return level;
        }
        if whole && (3..=8).contains(&word.len()) {
            let level = keyword_level(word);
            if level != Level::Unknown {
                return level;
            }
        }
        at = end;
    }
    Level::Unknown
}

fn keyword_level(word: &[u8]) -> Level {
    let mut lower = [0u8; 8];
    for (to, from) in lower.iter_mut().zip(word) {
        *to = from.to_ascii_lowercase();
    }
    match &lower[..word.len()] {
        b"trace" => Level::Trace,
        b"debug" => Level::Debug,
        b"info" | b"notice" => Level::Info,
        b"warn" | b"warning" => Level::Warn,
        b"error" | b"err" | b"severe" => Level::Error,
        b"fatal" | b"critical" | b"crit" | b"emerg" | b"alert" | b"panic" => Level::Fatal,
        _ => Level::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_family_map_to_their_level() {
        let cases: [(&str, Level); 24] = [
            ("INFO", Level::Info),
            ("warning", Level::Warn),
            ("Information", Level::Info),
            ("notice", Level::Info),
            ("SEVERE", Level::Error),
            ("FINEST", Level::Trace),
            ("CONFIG", Level::Debug),
            ("E", Level::Error),
            ("V", Level::Trace),
            ("A", Level::Fatal),
            ("emerg", Level::Fatal),
            ("crit", Level::Fatal),
            ("ERRO", Level::Error),
            ("DEBU", Level::Debug),
            ("Critical", Level::Fatal),
            ("dpanic", Level::Fatal),
            (" err ", Level::Error),
            ("fatal", Level::Fatal),
            ("trace", Level::Trace),
            ("informational", Level::Info),
            ("", Level::Unknown),
            ("verbosely", Level::Unknown),
            ("informationalx", Level::Unknown),
            ("x", Level::Unknown),
        ];
        for (name, level) in cases {
            assert_eq!(parse_level(name), level, "{name:?}");
        }
    }

    #[test]
    fn numeric_scales() {
        let syslog: Vec<_> = (0..=8).map(level_from_syslog_severity).collect();
        use Level::*;
        assert_eq!(syslog, [Fatal, Fatal, Fatal, Error, Warn, Info, Info, Debug, Unknown]);
        let bunyan: Vec<_> = [10, 20, 30, 40, 50, 60, 5, 70].map(level_from_bunyan).to_vec();
        assert_eq!(bunyan, [Trace, Debug, Info, Warn, Error, Fatal, Unknown, Unknown]);
        let otel: Vec<_> = [0, 1, 4, 5, 9, 12, 13, 17, 20, 21, 24, 25]
            .map(level_from_otel_severity)
            .to_vec();
        assert_eq!(
            otel,
            [
                Unknown, Trace, Trace, Debug, Info, Info, Warn, Error, Error, Fatal, Fatal, Unknown
            ]
        );
    }

    #[test]
    fn free_text_takes_the_earliest_whole_level_word() {
        let cases: [(&str, Level); 13] = [
            ("2025-01-01 12:00:00 [main] ERROR db: timeout; retry info", Level::Error),
            ("kernel: usb 1-1: Warning: device descriptor read", Level::Warn),
            (
                "Jun 14 15:16:01 combo sshd[19939]: authentication failure",
                Level::Unknown,
            ),
            ("an informal note", Level::Unknown),
            ("errors: 0", Level::Unknown),
            ("panic: runtime error: index out of range", Level::Fatal),
            ("[notice] caught SIGTERM, shutting down", Level::Info),
            ("E/ActivityManager( 1234): a letter alone is no level", Level::Unknown),
            ("info", Level::Info),
            ("status installed install-info:amd64 7.0.3-1", Level::Unknown),
            ("unpack libgpg-error0:amd64 1.46-1 <none>", Level::Unknown),
            ("compiling error.c failed with an error.", Level::Error),
            ("level=warn msg=x", Level::Warn),
        ];
        for (line, level) in cases {
            assert_eq!(scan_level(line), level, "{line:?}");
        }
        // A word past the first 256 bytes is the message's, not the level.
        let late = format!("{} error", "x".repeat(300));
        assert_eq!(scan_level(&late), Level::Unknown);
        // A word cut by the 256-byte limit is not taken.
        let cut = format!("{} errorless", "-".repeat(250));
        assert_eq!(scan_level(&cut), Level::Unknown);
    }
}
