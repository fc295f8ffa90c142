//! Batches: lines cut from a source at line ends, the unit a worker parses.

use std::sync::Arc;

use super::route::Parser;
use crate::model::Level;
use crate::store::Checkpoint;

/// Identifies a source (for a file, `file:{dev}:{inode}`) in checkpoints
/// and ordering.
pub type SourceId = Arc<str>;

/// What a batch does to its source's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing: a source without offsets (HTTP, WebSocket), merged in any order.
    Untracked,
    /// Moves the checkpoint past the batch's lines; merged in source order.
    Advance(Checkpoint),
    /// Removes the checkpoint of a file that is gone, after the source's
    /// earlier batches. Carries no lines.
    Forget,
}

/// What is known about a source, the same for all its batches: given to
/// the plugin (format, reference time) and to the counting (names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceContext {
    /// The format the plugin chose for the source (`detect`), kept with a
    /// file's checkpoint.
    pub format: Option<Arc<str>>,
    /// Epoch ms the lines were written by (a file's modification time):
    /// the year of dates written without one.
    pub reference_ms: Option<i64>,
    /// The service every line counts under (`service_from_path`).
    pub service: Option<Arc<str>>,
    /// The service of lines that name none (a file's name without its
    /// extensions).
    pub default_service: Option<Arc<str>>,
    /// The component every line and record counts under (a shipper's
    /// instrumentation scope, say).
    pub component: Option<Arc<str>>,
}

/// The time a shipper gave a line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShippedTime {
    #[default]
    None,
    /// The record's own time (OTLP's `timeUnixNano`, a Loki entry's): it
    /// wins over the one the line holds.
    Record(i64),
    /// The envelope's (Fluent Bit's `date`, Vector's `timestamp`: when the
    /// line was read): the line's time, if it has one, wins.
    Envelope(i64),
}

impl ShippedTime {
    /// The time a line counts at, given the one a plugin read from it.
    pub fn resolve(self, parsed: Option<i64>) -> Option<i64> {
        match self {
            ShippedTime::None => parsed,
            ShippedTime::Record(ms) => Some(ms),
            ShippedTime::Envelope(ms) => parsed.or(Some(ms)),
        }
    }
}

/// A record a shipper sent with its level (OTLP's severity, a Loki
/// `level` label): counted under its batch's names, with no plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub level: Level,
    /// Epoch ms; `None`: counted at the time it is parsed.
    pub time_ms: Option<i64>,
}

/// Lines from one source, ready for a worker.
#[derive(Debug)]
pub struct Batch {
    pub source: SourceId,
    /// Position of this batch among its source's batches, from 0.
    pub seq: u64,
    pub progress: Progress,
    /// `None` for a batch without lines, or whose parser is gone (its
    /// lines are counted invalid).
    pub parser: Option<Parser>,
    pub context: SourceContext,
    /// The lines, joined by `\n`, without terminators.
    pub text: String,
    /// Number of lines in `text`.
    pub lines: usize,
    /// Lines rejected before parsing (not UTF-8, too long).
    pub rejected: u64,
    /// The time a shipper gave each line; empty for other sources.
    pub times: Vec<ShippedTime>,
    pub records: Vec<Record>,
    /// Told the batch's counts once they are committed (HTTP ingest answers
    /// only then).
    pub ack: Option<Ack>,
}

impl Batch {
    /// The batch that removes the checkpoint of `source`, a file that is
    /// gone; `ack` is told once that is committed.
    pub fn forget(source: SourceId, seq: u64, ack: Ack) -> Batch {
        Batch {
            source,
            seq,
            progress: Progress::Forget,
            parser: None,
            context: SourceContext::default(),
            text: String::new(),
            lines: 0,
            rejected: 0,
            times: Vec::new(),
            records: Vec::new(),
            ack: Some(ack),
        }
    }
}

/// What a committed batch counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub parsed: u64,
    pub invalid: u64,
}

/// Receives a batch's counts after its commit.
pub type Ack = tokio::sync::oneshot::Sender<Counted>;

/// Collects lines until a batch is full.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    text: String,
    lines: usize,
    rejected: u64,
    times: Vec<ShippedTime>,
    records: Vec<Record>,
}

impl BatchBuilder {
    /// Adds one line without its terminator (a trailing `\r` is dropped);
    /// one longer than `max_line_bytes` is rejected without its content.
    pub fn push_line(&mut self, line: &[u8], max_line_bytes: usize) {
        if line.len() > max_line_bytes {
            return self.reject_line();
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => {
                if self.lines > 0 {
                    self.text.push('\n');
                }
                self.text.push_str(text);
                self.lines += 1;
            }
            Err(_) => self.rejected += 1,
        }
    }

    /// Adds every line of `text` (lines separated by `\n`; a final `\n`
    /// ends the last line rather than starting an empty one).
    pub fn push_lines(&mut self, text: &[u8], max_line_bytes: usize) {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        for line in text.split(|&b| b == b'\n') {
            self.push_line(line, max_line_bytes);
        }
    }

    /// Adds whole lines (each ending in `\n`) from the start of `text`, the
    /// first of which must be at most `max_line_bytes` long, until the batch
    /// is full, a line is longer, or no whole line is left; returns the bytes
    /// taken. Lines that need nothing done (UTF-8, no `\r`: nearly all) are
    /// checked and copied as one run rather than one by one.
    pub fn push_run(&mut self, text: &[u8], max_lines: usize, max_bytes: usize, max_line_bytes: usize) -> usize {
        let (mut taken, mut lines) = (0, 0);
        for newline in memchr::memchr_iter(b'\n', text) {
            if lines > 0 && newline - taken > max_line_bytes {
                break;
            }
            taken = newline + 1;
            lines += 1;
            if self.lines + self.rejected as usize + lines >= max_lines || self.text.len() + taken >= max_bytes {
                break;
            }
        }
        let run = &text[..taken.saturating_sub(1)];
        match std::str::from_utf8(run) {
            Ok(run) if lines > 0 && memchr::memchr(b'\r', run.as_bytes()).is_none() => {
                if self.lines > 0 {
                    self.text.push('\n');
                }
                self.text.push_str(run);
                self.lines += lines;
            }
            _ => {
                for line in run.split(|&b| b == b'\n').take(lines) {
                    self.push_line(line, max_line_bytes);
                }
            }
        }
        taken
    }

    /// [`BatchBuilder::push_line`] for a line a shipper sent, with the
    /// time it gave. A builder takes shipped lines only, or others only.
    pub fn push_shipped_line(&mut self, line: &[u8], time: ShippedTime, max_line_bytes: usize) {
        let before = self.lines;
        self.push_line(line, max_line_bytes);
        if self.lines > before {
            self.times.push(time);
        }
    }

    /// Adds a record that carries its level.
    pub fn push_record(&mut self, record: Record) {
        self.records.push(record);
    }

    /// Counts a line that is rejected without its content (too long).
    pub fn reject_line(&mut self) {
        self.rejected += 1;
    }

    /// The lines added so far, joined by `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when no line or record has been added.
    pub fn is_empty(&self) -> bool {
        self.lines == 0 && self.rejected == 0 && self.records.is_empty()
    }

    /// True when the batch has reached either limit (records count as lines).
    pub fn is_full(&self, max_lines: usize, max_bytes: usize) -> bool {
        self.lines + self.rejected as usize + self.records.len() >= max_lines || self.text.len() >= max_bytes
    }

    /// Takes the lines collected so far, leaving the builder empty.
    /// `parser` is `None` when the route's plugin is gone: the lines are
    /// counted invalid.
    pub fn take(
        &mut self,
        source: &SourceId,
        seq: u64,
        progress: Progress,
        parser: Option<Parser>,
        context: &SourceContext,
    ) -> Batch {
        let builder = std::mem::take(self);
        Batch {
            source: source.clone(),
            seq,
            progress,
            parser,
            context: context.clone(),
            text: builder.text,
            lines: builder.lines,
            rejected: builder.rejected,
            times: builder.times,
            records: builder.records,
            ack: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BatchBuilder;

    #[test]
    fn runs_of_lines_are_taken_whole_until_a_limit() {
        let text = b"one\ntwo\nthree\nfour\npartial";
        let mut builder = BatchBuilder::default();
        assert_eq!(builder.push_run(text, 3, usize::MAX, 100), 14);
        assert_eq!((builder.text.as_str(), builder.lines), ("one\ntwo\nthree", 3));

        // Stops before a long line (not the first), and at the last newline.
        let mut builder = BatchBuilder::default();
        assert_eq!(builder.push_run(b"a\nbb\nccccc\nd\n", 100, usize::MAX, 4), 5);
        assert_eq!(builder.push_run(b"d\npartial", 100, usize::MAX, 4), 2);
        assert_eq!((builder.text.as_str(), builder.lines), ("a\nbb\nd", 3));

        // A run with a CR or bad UTF-8 is taken line by line.
        let mut builder = BatchBuilder::default();
        assert_eq!(builder.push_run(b"x\r\n\xff\nz\n", 100, usize::MAX, 100), 7);
        assert_eq!((builder.text.as_str(), builder.lines, builder.rejected), ("x\nz", 2, 1));
        assert!(builder.is_full(3, usize::MAX));

        // The byte limit ends the run after the line that reaches it.
        let mut builder = BatchBuilder::default();
        assert_eq!(builder.push_run(b"12345\n12345\n12345\n", 100, 8, 100), 12);
        assert_eq!(builder.lines, 2);
    }

    #[test]
    fn joins_lines_drops_cr_and_rejects_bad_utf8_and_long_lines() {
        let mut builder = BatchBuilder::default();
        builder.push_line(b"first\r", 100);
        builder.push_line(b"", 100);
        builder.push_line(b"\xff\xfe", 100);
        builder.push_line("dernière".as_bytes(), 100);
        builder.push_line(&[b'x'; 101], 100);
        assert_eq!(
            (builder.text.as_str(), builder.lines, builder.rejected),
            ("first\n\ndernière", 3, 2)
        );
        assert!(builder.is_full(5, usize::MAX));
        assert!(!builder.is_full(6, usize::MAX));
    }
}
