//! A JSON object scanner for one line: checks the whole line against RFC 8259
//! but decodes only the fields logproc counts by, skipping every other value
//! without building it. Strings, most of a log line, are scanned eight bytes
//! at a time.

use std::borrow::Cow;
use std::fmt;

use logproc_plugin_sdk::keys::{self, Field, Key, LevelScale};

/// Where [`fields`] keeps what a key names.
fn slot(field: Field) -> usize {
    match field {
        Field::Time => 0,
        Field::Level(_) => 1,
        Field::Service => 2,
        Field::Component => 3,
        Field::Message => 4,
    }
}

/// [`keys::key`], the keys of logproc's own lines matched here first: in
/// the scanner's loop, not behind a call (measured: 25-40 ns a line).
#[inline(always)]
fn known_key(name: &str) -> Option<Key> {
    let key = |field, rank| Some(Key { field, rank });
    match name {
        "timestamp" => key(Field::Time, 0),
        "level" => key(Field::Level(LevelScale::Name), 0),
        "service" => key(Field::Service, 0),
        "component" => key(Field::Component, 0),
        "message" => key(Field::Message, 0),
        _ => keys::key(name),
    }
}

/// Decodes a string [`Fields::message`] holds.
pub fn decode(encoded: &str) -> Cow<'_, str> {
    let mut scanner = Scanner {
        text: encoded,
        bytes: encoded.as_bytes(),
        at: 0,
    };
    // It was checked when it was found.
    scanner.string().unwrap_or(Cow::Borrowed(""))
}

/// The fields logproc counts by, as found in one line, each from the
/// strongest of the keys that name it ([`logproc_plugin_sdk::keys`]). A
/// text field holding another type (an object, null) counts as absent.
#[derive(Debug, Default, PartialEq)]
pub struct Fields<'a> {
    pub timestamp: Option<Timestamp<'a>>,
    /// The value and the scale its key reads it on.
    pub level: Option<(LevelScale, Cow<'a, str>)>,
    pub service: Option<Cow<'a, str>>,
    pub component: Option<Cow<'a, str>>,
    /// The message, still encoded (with its quotes): decoded only when a
    /// level has to be looked for in it.
    pub message: Option<&'a str>,
    /// The line has CLEF's `@t`: without a level, it is at Information.
    pub clef: bool,
}

/// A `timestamp` value: a JSON number (its text) or a string.
#[derive(Debug, PartialEq)]
pub enum Timestamp<'a> {
    Number(&'a str),
    Text(Cow<'a, str>),
}

/// Why a line is not a JSON object, and where.
#[derive(Debug, PartialEq)]
pub struct Error {
    /// What is wrong.
    what: &'static str,
    /// Byte offset in the line.
    at: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.what, self.at + 1)
    }
}

/// What a key given twice is, by the field it names (static, so that an
/// error is two words).
const DUPLICATES: [&str; 5] = [
    "duplicate field `timestamp`",
    "duplicate field `level`",
    "duplicate field `service`",
    "duplicate field `component`",
    "duplicate field `message`",
];

/// Nesting deeper than this is refused (as serde_json does), so that a
/// hostile line cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// The counted fields of `line`, which must be one JSON object (whitespace
/// around it allowed). A counted field given twice is an error.
pub fn fields(line: &str) -> Result<Fields<'_>, Error> {
    let mut scanner = Scanner {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    let mut fields = Fields::default();
    // The rank of the key each field came from, and the keys seen (a bit
    // per field and rank), to refuse one given twice.
    let mut ranks = [u8::MAX; 5];
    let mut seen = [0u64; 5];
    scanner.skip_whitespace();
    scanner.expect(b'{', "expected `{`")?;
    scanner.skip_whitespace();
    if scanner.peek() == Some(b'}') {
        scanner.at += 1;
    } else {
        loop {
            scanner.skip_whitespace();
            let key_at = scanner.at;
            let key = scanner.key()?;
            scanner.skip_whitespace();
            scanner.expect(b':', "expected `:`")?;
            scanner.skip_whitespace();
            match key {
                Some(Key { field, rank }) => {
                    let slot = slot(field);
                    let bit = 1u64 << rank.min(63);
                    if seen[slot] & bit != 0 {
                        return Err(Error {
                            what: DUPLICATES[slot],
                            at: key_at,
                        });
                    }
                    seen[slot] |= bit;
                    if rank < ranks[slot] {
                        let found = match field {
                            Field::Time => scanner.timestamp()?.map(|value| fields.timestamp = Some(value)),
                            Field::Level(scale) => scanner.level()?.map(|value| fields.level = Some((scale, value))),
                            Field::Service => scanner.text_or_absent()?.map(|value| fields.service = Some(value)),
                            Field::Component => scanner.text_or_absent()?.map(|value| fields.component = Some(value)),
                            Field::Message => scanner.encoded_text()?.map(|value| fields.message = Some(value)),
                        };
                        if found.is_some() {
                            ranks[slot] = rank;
                        }
                    } else {
                        scanner.skip_value(1)?;
                    }
                }
                None => scanner.skip_value(1)?,
            }
            scanner.skip_whitespace();
            let next = scanner.peek();
            if !matches!(next, Some(b',' | b'}')) {
                return Err(scanner.error("expected `,` or `}`"));
            }
            scanner.at += 1;
            if next == Some(b'}') {
                break;
            }
        }
    }
    scanner.skip_whitespace();
    if scanner.at != scanner.bytes.len() {
        return Err(scanner.error("trailing characters after the object"));
    }
    fields.clef = seen[slot(keys::CLEF_TIME.field)] & 1 << keys::CLEF_TIME.rank != 0;
    Ok(fields)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn error(&self, what: &'static str) -> Error {
        Error { what, at: self.at }
    }

    /// An error about the byte just taken.
    fn error_before(&self, what: &'static str) -> Error {
        Error {
            what,
            at: self.at.saturating_sub(1),
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A key, and what it names if logproc reads it. Keys without escapes
    /// (nearly all) are compared where they are.
    fn key(&mut self) -> Result<Option<Key>, Error> {
        let start = self.at + 1;
        let end = find_special(self.bytes, start);
        if self.peek() == Some(b'"') && self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Ok(known_key(&self.text[start..end]));
        }
        Ok(known_key(&self.string()?))
    }

    /// A level: a string, or a number's text; `None` for any other value.
    fn level(&mut self) -> Result<Option<Cow<'a, str>>, Error> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => Ok(Some(Cow::Borrowed(self.number()?))),
            _ => self.text_or_absent(),
        }
    }

    /// A string value as written, quotes included (checked, not decoded),
    /// or `None` for any other value (skipped).
    fn encoded_text(&mut self) -> Result<Option<&'a str>, Error> {
        if self.peek() != Some(b'"') {
            return self.skip_value(1).map(|()| None);
        }
        let start = self.at;
        self.skip_string()?;
        Ok(Some(&self.text[start..self.at]))
    }

    /// A string value, or `None` for any other value (skipped).
    fn text_or_absent(&mut self) -> Result<Option<Cow<'a, str>>, Error> {
        if self.peek() == Some(b'"') {
            self.string().map(Some)
        } else {
            self.skip_value(1).map(|()| None)
        }
    }

    fn timestamp(&mut self) -> Result<Option<Timestamp<'a>>, Error> {
        match self.peek() {
            Some(b'"') => Ok(Some(Timestamp::Text(self.string()?))),
            Some(b'-' | b'0'..=b'9') => Ok(Some(Timestamp::Number(self.number()?))),
            // An object, an array, a boolean or null: no time here.
            _ => self.skip_value(1).map(|()| None),
        }
    }

    fn skip_value(&mut self, depth: usize) -> Result<(), Error> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => self.skip_container(depth, b'}'),
            Some(b'[') => self.skip_container(depth, b']'),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("line ends where a value should be")),
        }
    }

    /// An object or array, from its opening bracket to `close`.
    fn skip_container(&mut self, depth: usize, close: u8) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            if close == b'}' {
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a string key"));
                }
                self.skip_string()?;
                self.skip_whitespace();
                self.expect(b':', "expected `:`")?;
                self.skip_whitespace();
            }
            self.skip_value(depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(byte) if byte == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ if close == b'}' => return Err(self.error("expected `,` or `}`")),
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Error> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// A number's text: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, Error> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Ok(&self.text[start..self.at])
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Error> {
        let start = self.at;
        self.digits();
        if self.at == start {
            return Err(self.error("expected a digit"));
        }
        Ok(())
    }

    /// A string, borrowed from the line unless it holds escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.expect(b'"', "expected a string")?;
        let start = self.at;
        let end = find_special(self.bytes, start);
        if self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        let mut decoded = String::from(&self.text[start..end]);
        self.at = end;
        loop {
            match self.bump() {
                Some(b'"') => return Ok(Cow::Owned(decoded)),
                Some(b'\\') => decoded.push(self.escape()?),
                Some(0..=0x1f) => return Err(self.error_before("control character in a string")),
                None => return Err(self.error("line ends inside a string")),
                Some(_) => {
                    let run_start = self.at - 1;
                    let run_end = find_special(self.bytes, self.at);
                    decoded.push_str(&self.text[run_start..run_end]);
                    self.at = run_end;
                }
            }
        }
    }

    /// Checks a string without decoding it.
    fn skip_string(&mut self) -> Result<(), Error> {
        self.at += 1;
        loop {
            self.at = find_special(self.bytes, self.at);
            match self.bump() {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {
                    self.escape()?;
                }
                Some(_) => return Err(self.error_before("control character in a string")),
                None => return Err(self.error("line ends inside a string")),
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Result<char, Error> {
        let decoded = match self.bump() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if !self.bytes[self.at..].starts_with(b"\\u") {
                            return Err(self.error("lone surrogate in a \\u escape"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone surrogate in a \\u escape"));
                        }
                        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        char::from_u32(code).expect("a surrogate pair is a character")
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone surrogate in a \\u escape")),
                    _ => char::from_u32(u32::from(unit)).expect("not a surrogate"),
                }
            }
            _ => return Err(self.error_before("invalid escape")),
        };
        Ok(decoded)
    }

    fn hex4(&mut self) -> Result<u16, Error> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("line ends inside a \\u escape"))?;
        let mut unit = 0u16;
        for &digit in digits {
            let value = (digit as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            unit = unit << 4 | value as u16;
        }
        self.at += 4;
        Ok(unit)
    }
}

/// Position of the first `"`, `\` or control character at or after `at`
/// (the length of `bytes` if none), eight bytes per step.
fn find_special(bytes: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = bytes.get(at..at + 8) {
        let found = special_bytes(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    // Fewer than eight bytes left: padded with quotes, the first of which
    // stands for the end of `bytes`.
    let rest = &bytes[at.min(bytes.len())..];
    let mut padded = [b'"'; 8];
    padded[..rest.len()].copy_from_slice(rest);
    at + (special_bytes(u64::from_le_bytes(padded)).trailing_zeros() / 8) as usize
}

/// The high bit of each byte of `word` that is `"`, `\` or below 0x20. Bits
/// above the lowest may be spurious (borrows), the lowest never is.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (quote | backslash | control) & 0x8080_8080_8080_8080
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Fields<'_> {
        fields(line).unwrap_or_else(|error| panic!("{line}: {error}"))
    }

    #[test]
    fn finds_counted_fields_in_any_order_and_skips_the_rest() {
        let line = r#" { "extra": {"a": [1, -2.5e+3, {"b": null}], "c": "x\"y"}, "component": "api", "level": "WARN",
            "timestamp": 1735689600113, "service": "auth", "ok": true, "no": false, "list": [] } "#;
        let found = ok(line);
        assert_eq!(found.timestamp, Some(Timestamp::Number("1735689600113")));
        assert_eq!(found.level, Some((LevelScale::Name, "WARN".into())));
        assert_eq!(found.service.as_deref(), Some("auth"));
        assert_eq!(found.component.as_deref(), Some("api"));
        assert_eq!(ok("{}"), Fields::default());
    }

    #[test]
    fn dialects_by_their_keys_the_strongest_winning() {
        // ECS, as the ecs-logging libraries write it.
        let ecs = ok(
            r#"{"@timestamp":"2025-01-01T12:00:00.000Z","log.level":"warn","message":"m","service.name":"shop","log.logger":"cart"}"#,
        );
        assert_eq!(ecs.timestamp, Some(Timestamp::Text("2025-01-01T12:00:00.000Z".into())));
        assert_eq!(ecs.level, Some((LevelScale::Name, "warn".into())));
        assert_eq!(
            (ecs.service.as_deref(), ecs.component.as_deref()),
            (Some("shop"), Some("cart"))
        );
        // OpenTelemetry: the number loses to the text, whatever the order.
        let otel = ok(r#"{"timeUnixNano":"1735732800000000000","severityNumber":17,"severityText":"ERROR"}"#);
        assert_eq!(otel.level, Some((LevelScale::Name, "ERROR".into())));
        // journald's export: PRIORITY is a syslog severity.
        let journald = ok(
            r#"{"__REALTIME_TIMESTAMP":"1735732800000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"x"}"#,
        );
        assert_eq!(journald.level, Some((LevelScale::Syslog, "3".into())));
        assert_eq!(journald.service.as_deref(), Some("sshd"));
        // Docker's json-file: only a message, kept encoded.
        let docker = ok(r#"{"log":"ERROR \"x\"\n","stream":"stderr","time":"2025-01-01T12:00:00.1Z"}"#);
        assert_eq!(docker.level, None);
        assert_eq!(decode(docker.message.unwrap()), "ERROR \"x\"\n");
        // `level` beats `severity`; the same key twice is refused.
        assert_eq!(
            ok(r#"{"severity":"debug","level":"info"}"#).level,
            Some((LevelScale::Name, "info".into()))
        );
        assert!(fields(r#"{"lvl":"a","lvl":"b"}"#).is_err());
    }

    #[test]
    fn decodes_escapes_only_where_present() {
        let found =
            ok(r#"{"service": "a\u00e9\ud83d\ude00\n\"b\"", "level": "INFO", "timestamp": "2025-01-01T00:00:00Z"}"#);
        assert_eq!(found.service.as_deref(), Some("aé😀\n\"b\""));
        assert!(matches!(found.service, Some(Cow::Owned(_))));
        assert!(matches!(found.level, Some((LevelScale::Name, Cow::Borrowed("INFO")))));
        assert_eq!(found.timestamp, Some(Timestamp::Text("2025-01-01T00:00:00Z".into())));
    }

    #[test]
    fn other_types_in_text_fields_count_as_absent() {
        let found = ok(r#"{"level": true, "service": {"name": "x"}, "component": null, "timestamp": null}"#);
        assert_eq!(found, Fields::default());
        // A number is a level on a numeric scale.
        assert_eq!(ok(r#"{"level": 30}"#).level, Some((LevelScale::Name, "30".into())));
    }

    #[test]
    fn refuses_what_is_not_json() {
        let cases = [
            ("", "expected `{` at column 1"),
            ("[1]", "expected `{` at column 1"),
            (r#"{"level": "INFO""#, "expected `,` or `}` at column 17"),
            (r#"{"level": "INFO", }"#, "expected a string at column 19"),
            (r#"{"level" "INFO"}"#, "expected `:` at column 10"),
            (r#"{"a": tru}"#, "expected a value at column 7"),
            (r#"{"a": 01}"#, "expected `,` or `}` at column 8"),
            (r#"{"a": 1.}"#, "expected a digit at column 9"),
            (r#"{"a": -}"#, "expected a digit at column 8"),
            (r#"{"a": [1,]}"#, "expected a value at column 10"),
            (r#"{"a": [1 2]}"#, "expected `,` or `]` at column 10"),
            (r#"{"a": {1: 2}}"#, "expected a string key at column 8"),
            ("{\"a\": \"tab\there\"}", "control character in a string at column 11"),
            (r#"{"a": "\x"}"#, "invalid escape at column 9"),
            (r#"{"a": "\u12G4"}"#, "invalid \\u escape at column 10"),
            (
                r#"{"service": "\ud83d"}"#,
                "lone surrogate in a \\u escape at column 20",
            ),
            (
                r#"{"service": "\ude00"}"#,
                "lone surrogate in a \\u escape at column 20",
            ),
            (r#"{"a": "open"#, "line ends inside a string at column 12"),
            (r#"{"a": 1} x"#, "trailing characters after the object at column 10"),
            (
                r#"{"level": "A", "level": "B"}"#,
                "duplicate field `level` at column 16",
            ),
            (r#"{"a": "#, "line ends where a value should be at column 7"),
        ];
        for (line, expected) in cases {
            let error = fields(line).expect_err(line);
            assert_eq!(error.to_string(), expected, "{line}");
        }
    }

    #[test]
    fn limits_nesting() {
        let deep = |depth: usize| format!(r#"{{"a": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert!(fields(&deep(MAX_DEPTH)).is_ok());
        assert_eq!(
            fields(&deep(MAX_DEPTH + 1)).unwrap_err().to_string(),
            format!("nested too deeply at column {}", 7 + MAX_DEPTH)
        );
    }

    #[test]
    fn finds_special_bytes_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    // Bytes that trip naive word tricks: above 0x80, and 0x20.
                    for (i, byte) in bytes.iter_mut().enumerate() {
                        *byte = [b'a', 0xc3, 0x20, 0xff, 0x7f][i % 5];
                    }
                    bytes[at] = special;
                    assert_eq!(find_special(&bytes, 0), at, "len {len} at {at} byte {special}");
                    assert_eq!(find_special(&bytes, at), at, "len {len} at {at} byte {special}");
                }
            }
            assert_eq!(find_special(&vec![b'z'; len], 0), len);
        }
    }

    /// Agrees with serde_json on which lines are JSON objects, over lines
    /// made by cutting and corrupting valid ones at every position.
    #[test]
    fn agrees_with_serde_json_on_validity() {
        let valid = r#"{"timestamp":1735689600113,"level":"INFO","message":"email \"sent\" \u00e9","service":"notifications","component":"queue","n":[1,-2.5e3,{"x":null}],"t":true}"#;
        let mut lines = vec![valid.to_owned()];
        for cut in 0..valid.len() {
            if valid.is_char_boundary(cut) {
                lines.push(valid[..cut].to_owned());
                for replacement in ["", "\"", "\\", "{", "}", ",", ":", "x", "\t", "1"] {
                    lines.push(format!("{}{replacement}{}", &valid[..cut], &valid[cut + 1..]));
                }
            }
        }
        for line in lines {
            let serde_ok = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line).is_ok_and(|map| {
                // serde_json keeps the last of duplicate keys; we refuse
                // duplicates of counted fields, as the typed parser did.
                let counted = ["timestamp", "level", "service", "component"];
                counted
                    .iter()
                    .all(|key| line.matches(&format!("\"{key}\"")).count() <= 1 || !map.contains_key(*key))
            });
            let timestamp_ok =
                |f: &Fields| !matches!(f.timestamp, Some(Timestamp::Number(n)) if n.parse::<f64>().is_err());
            let ours = fields(&line).is_ok_and(|f| timestamp_ok(&f));
            assert_eq!(ours, serde_ok, "{line}");
        }
    }
}
