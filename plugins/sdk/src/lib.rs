//! What every logproc parser plugin shares: the generated bindings for the
//! contract in `wit/`, and the rules all parsers follow (level names,
//! timestamps, blank lines), so that a custom plugin counts lines exactly as
//! the default ones do.
//!
//! A plugin implements [`Guest`] and calls [`export!`]; its `parse_batch`
//! reports each line to an [`Outcomes`]:
//!
//! ```ignore
//! struct MyParser;
//! impl logproc_plugin_sdk::Guest for MyParser {
//!     fn parse_batch(lines: String, context: BatchContext) -> ParsedBatch {
//!         let mut outcomes = Outcomes::default();
//!         for line in logproc_plugin_sdk::lines(&lines) {
//!             outcomes.parsed(None, Level::Info, Some("my-service"), None);
//!         }
//!         outcomes.finish()
//!     }
//!     /* describe, configure, detect */
//! }
//! logproc_plugin_sdk::export!(MyParser);
//! ```
//!
//! A text parser can lean on the [`format`] library: [`format::detect`] for
//! `detect`, [`Rules`] for the shared settings (`timestamp_format`,
//! `timezone`, `level.NAME`) and [`read_line`] for each line.

pub mod format;
pub mod keys;
mod level;
mod rules;
// Shared with the host (it reads shippers' envelope times).
use logproc_levels::time;

pub use level::{
    level_from_bunyan, level_from_otel_severity, level_from_syslog_severity, parse_level, scan_level, scan_level_by,
};
pub use rules::{FormatChoice, Rules, read_line, read_lines};
pub use time::{
    TimeRules, check_timestamp_format, epoch_to_ms, parse_offset, parse_timestamp, parse_timestamp_formatted,
    parse_timestamp_with,
};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "log-parser",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "logproc_plugin_sdk::bindings",
    });
}

pub use bindings::export;
pub use bindings::exports::logproc::plugin::parser::Guest;
pub use bindings::logproc::plugin::types::{BatchContext, Entry, Level, Outcome, ParsedBatch, PluginInfo};

use std::collections::HashMap;

/// The outcomes of one batch, in line order, with each distinct service or
/// component name stored once (the contract's `names`).
#[derive(Default)]
pub struct Outcomes {
    names: Vec<String>,
    /// [`sketch`] of each name, compared before the name itself.
    sketches: Vec<u32>,
    /// Index of every name, built once there are too many to search.
    index: HashMap<String, u32>,
    outcomes: Vec<Outcome>,
}

/// Length, first and last byte of `name`: names that differ mostly differ
/// here, which spares comparing them whole (a call to `memcmp` in Wasm).
fn sketch(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let (first, last) = (bytes.first().copied(), bytes.last().copied());
    (name.len() as u32) << 16 | u32::from(first.unwrap_or(0)) << 8 | u32::from(last.unwrap_or(0))
}

/// Up to this many names are found by a scan, faster than hashing.
const SCANNED_NAMES: usize = 16;

impl Outcomes {
    /// The line is a log entry.
    pub fn parsed(&mut self, timestamp_ms: Option<i64>, level: Level, service: Option<&str>, component: Option<&str>) {
        let service = service.map(|name| self.name(name));
        let component = component.map(|name| self.name(name));
        self.outcomes.push(Outcome::Parsed(Entry {
            timestamp_ms,
            level,
            service,
            component,
        }));
    }

    /// The line holds nothing to count.
    pub fn skipped(&mut self) {
        self.outcomes.push(Outcome::Skipped);
    }

    /// The line cannot be parsed, for `reason`.
    pub fn invalid(&mut self, reason: impl Into<String>) {
        self.outcomes.push(Outcome::Invalid(reason.into()));
    }

    /// What is returned from `parse_batch`.
    pub fn finish(self) -> ParsedBatch {
        ParsedBatch {
            names: self.names,
            outcomes: self.outcomes,
        }
    }

    fn name(&mut self, name: &str) -> u32 {
        let sketch = sketch(name);
        if self.names.len() <= SCANNED_NAMES {
            let found = (self.sketches.iter().zip(&self.names)).position(|(&known_sketch, known)| {
                known_sketch == sketch && same_bytes(known.as_bytes(), name.as_bytes())
            });
            if let Some(at) = found {
                return at as u32;
            }
        } else if let Some(&at) = self.index.get(name) {
            return at;
        }
        let at = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.sketches.push(sketch);
        if self.names.len() > SCANNED_NAMES {
            if self.index.is_empty() {
                self.index = self.names.iter().cloned().zip(0..).collect();
            } else {
                self.index.insert(name.to_owned(), at);
            }
        }
        at
    }
}

/// A line holding only whitespace (or nothing) is skipped, not counted.
pub fn is_blank(line: &str) -> bool {
    // Most lines start with a visible ASCII character: no need to trim them.
    let starts_visible = line.as_bytes().first().is_some_and(|b| b.is_ascii_graphic());
    !starts_visible && line.trim().is_empty()
}

/// Splits a batch as the host sends it: lines joined by `\n` (as
/// `batch.split('\n')`).
pub fn lines(batch: &str) -> Lines<'_> {
    Lines { rest: Some(batch) }
}

/// The lines of a batch, found eight bytes at a time: `str::split` takes a
/// byte at a time in Wasm (measured: 600 instructions of a 100-byte line,
/// more than the default formats' parsing).
pub struct Lines<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match newline(rest.as_bytes()) {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Position of the first `\n` in `bytes`.
#[inline]
fn newline(bytes: &[u8]) -> Option<usize> {
    let (words, rest) = bytes.as_chunks::<8>();
    for (index, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word) ^ (ONES * u64::from(b'\n'));
        // The high bit of each zero byte; a borrow can set higher ones,
        // never a lower one, so the lowest is the first newline.
        let zero_bytes = word.wrapping_sub(ONES) & !word & (ONES << 7);
        if zero_bytes != 0 {
            return Some(index * 8 + (zero_bytes.trailing_zeros() / 8) as usize);
        }
    }
    rest.iter()
        .position(|&b| b == b'\n')
        .map(|found| words.len() * 8 + found)
}

/// `a == b` for short strings (names) without a call to `memcmp`, which
/// costs more in Wasm than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    a_words
        .iter()
        .zip(b_words)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::{Level, Outcome, Outcomes, is_blank, lines, same_bytes};

    #[test]
    fn blank_lines_hold_only_whitespace() {
        for blank in ["", " ", "\t \u{a0}\u{3000}", "\r"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for not_blank in ["x", " x", "\u{a0}x", "{}", "é"] {
            assert!(!is_blank(not_blank), "{not_blank:?}");
        }
    }

    #[test]
    fn lines_split_as_str_split_does() {
        // Every arrangement of newlines among up to 20 bytes (lengths around
        // the eight-byte steps), some of them multi-byte characters.
        let pieces = ["\n", "a", "é", "\r", "\n\n", "0123456789abcdef"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let batch: String = (0..state % 12)
                .map(|i| pieces[((state >> (4 * i + 5)) % pieces.len() as u64) as usize])
                .collect();
            assert_eq!(
                lines(&batch).collect::<Vec<_>>(),
                batch.split('\n').collect::<Vec<_>>(),
                "{batch:?}"
            );
        }
    }

    #[test]
    fn names_compare_whole() {
        for (a, b) in [("", ""), ("gateway", "gateway"), ("payments-eu-1", "payments-eu-1")] {
            assert!(same_bytes(a.as_bytes(), b.as_bytes()));
        }
        for (a, b) in [
            ("a", ""),
            ("gateway", "gatewaz"),
            ("payments-eu-1", "payments-eu-2"),
            ("abcdefgh1", "abcdefgh2"),
            ("xbcdefgh1", "abcdefgh1"),
        ] {
            assert!(!same_bytes(a.as_bytes(), b.as_bytes()), "{a} {b}");
        }
    }

    #[test]
    fn each_name_is_stored_once_however_many_there_are() {
        let mut outcomes = Outcomes::default();
        // 40 distinct names, each used three times, past the scanned few.
        for round in 0..3 {
            for i in 0..20 {
                outcomes.parsed(Some(round), Level::Info, Some(&format!("s{i}")), Some(&format!("c{i}")));
            }
        }
        outcomes.skipped();
        outcomes.invalid("bad");
        let batch = outcomes.finish();
        assert_eq!(batch.names.len(), 40);
        assert_eq!(batch.outcomes.len(), 62);
        for (line, outcome) in batch.outcomes.iter().take(60).enumerate() {
            let Outcome::Parsed(entry) = outcome else {
                panic!("line {line}: {outcome:?}")
            };
            let name = |index: Option<u32>| batch.names[index.unwrap() as usize].as_str();
            assert_eq!(name(entry.service), format!("s{}", line % 20));
            assert_eq!(name(entry.component), format!("c{}", line % 20));
        }
        assert!(matches!(batch.outcomes[60], Outcome::Skipped));
        assert!(matches!(&batch.outcomes[61], Outcome::Invalid(reason) if reason == "bad"));
    }
}
