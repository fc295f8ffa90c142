//! Reading a file from its checkpoint into batches, cut at line ends.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::pipeline::{Batch, BatchBuilder, Parser, SourceId};

/// Limits on how lines are read and batched.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub batch_lines: usize,
    pub batch_bytes: usize,
    pub max_line_bytes: usize,
}

/// Size of one read from the file.
const READ_CHUNK: usize = 1 << 20;

/// One file's reading position. Batches carry the offset just past their
/// last line; a trailing partial line stays unread until its newline comes.
pub struct FileReader {
    pub path: PathBuf,
    pub source: SourceId,
    pub parser: Parser,
    /// Offset of the first byte not yet sent in a batch.
    pub offset: u64,
    /// Sequence number of the next batch of this source. Shared with the
    /// next reader of the same source (after the file reappears), so the
    /// aggregator's order continues instead of waiting for a batch 0 again.
    next_seq: Arc<AtomicU64>,
    /// True while skipping the rest of an over-long line.
    skipping_long_line: bool,
    /// The file's size when a read last reached its end.
    pub size_seen: u64,
}

/// What the bytes after a file's last newline are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastLine {
    /// The start of a line still being written: they wait for their newline.
    Waits,
    /// A whole line: the file is complete (`logproc process`).
    Complete,
    /// A whole line if the file still has this size (it has been idle).
    CompleteIfSize(u64),
}

/// Why reading stopped before the end of the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the pipeline is shutting down")]
    Closed,
}

impl FileReader {
    pub fn new(path: PathBuf, source: SourceId, parser: Parser, offset: u64, next_seq: Arc<AtomicU64>) -> FileReader {
        FileReader {
            path,
            source,
            parser,
            offset,
            next_seq,
            skipping_long_line: false,
            size_seen: 0,
        }
    }

    /// Sends every complete line from `offset` to the end of the file;
    /// `last_line` says what bytes after the last newline are. Returns the
    /// number of lines sent.
    pub fn read_available(
        &mut self,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        last_line: LastLine,
        cancel: &CancellationToken,
    ) -> Result<u64, ReadError> {
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        if len < self.offset {
            warn!(path = %self.path.display(), offset = self.offset, len, "File shrank below its checkpoint; reading it again from the start.");
            self.offset = 0;
            self.skipping_long_line = false;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buffer = Vec::with_capacity(READ_CHUNK);
        let mut builder = BatchBuilder::default();
        let mut sent = 0u64;
        // File offset of buffer[0].
        let mut buffer_offset = self.offset;
        loop {
            if cancel.is_cancelled() {
                return Err(ReadError::Closed);
            }
            let start = buffer.len();
            buffer.resize(start + READ_CHUNK, 0);
            let read = file.read(&mut buffer[start..])?;
            buffer.truncate(start + read);
            let at_eof = read == 0;
            let mut consumed = 0;
            while let Some(newline) = memchr::memchr(b'\n', &buffer[consumed..]) {
                let line = &buffer[consumed..consumed + newline];
                if std::mem::take(&mut self.skipping_long_line) || line.len() > limits.max_line_bytes {
                    builder.reject_line();
                } else {
                    builder.push_line(line);
                }
                consumed += newline + 1;
                if builder.is_full(limits.batch_lines, limits.batch_bytes) {
                    sent += self.send(&mut builder, buffer_offset + consumed as u64, batches)?;
                }
            }
            let partial = buffer.len() - consumed;
            if at_eof {
                let end = buffer_offset + buffer.len() as u64;
                self.size_seen = end;
                let ends_line = match last_line {
                    LastLine::Waits => false,
                    LastLine::Complete => true,
                    LastLine::CompleteIfSize(size) => size == end,
                };
                if ends_line && partial > 0 {
                    if self.skipping_long_line || partial > limits.max_line_bytes {
                        builder.reject_line();
                    } else {
                        builder.push_line(&buffer[consumed..]);
                    }
                    self.skipping_long_line = false;
                    consumed = buffer.len();
                }
                if !builder.is_empty() {
                    sent += self.send(&mut builder, buffer_offset + consumed as u64, batches)?;
                }
                return Ok(sent);
            }
            if partial > limits.max_line_bytes {
                // Too long to be a line: count it once its end comes, and
                // never hold more of it than one read.
                self.skipping_long_line = true;
                if !builder.is_empty() {
                    sent += self.send(&mut builder, buffer_offset + consumed as u64, batches)?;
                }
                buffer_offset += buffer.len() as u64;
                buffer.clear();
                continue;
            }
            buffer.drain(..consumed);
            buffer_offset += consumed as u64;
        }
    }

    fn send(
        &mut self,
        builder: &mut BatchBuilder,
        end_offset: u64,
        batches: &async_channel::Sender<Batch>,
    ) -> Result<u64, ReadError> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let batch = builder.take(&self.source, seq, Some(end_offset), &self.parser);
        let lines = batch.lines as u64 + batch.rejected;
        batches.send_blocking(batch).map_err(|_| ReadError::Closed)?;
        self.offset = end_offset;
        Ok(lines)
    }
}
