//! Reading a file from its checkpoint into batches, cut at line ends.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::pipeline::{Batch, BatchBuilder, Parser, SourceId};
use crate::store::{Checkpoint, FileId};

/// Limits on how lines are read and batched.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub batch_lines: usize,
    pub batch_bytes: usize,
    pub max_line_bytes: usize,
}

/// Size of one read from the file.
const READ_CHUNK: usize = 1 << 20;

/// Leading bytes that fingerprint a file (fewer while the file is shorter).
const HEAD_BYTES: u64 = 1024;

/// The identity of the open `file`, fingerprinting its first `len` bytes.
fn fingerprint(file: &File, dev: u64, ino: u64, len: u64) -> io::Result<FileId> {
    let head = read_head(file, len)?;
    Ok(FileId {
        dev,
        ino,
        head_len: head.len() as u32,
        head_hash: fnv1a(&head),
    })
}

/// True when `file` starts with the bytes `known` fingerprinted.
fn fingerprint_matches(file: &File, known: &FileId) -> io::Result<bool> {
    let head = read_head(file, u64::from(known.head_len))?;
    Ok(head.len() == known.head_len as usize && fnv1a(&head) == known.head_hash)
}

/// The first `len` bytes of `file` (fewer if it is shorter), read without
/// moving its position.
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut head = vec![0; len as usize];
    let mut filled = 0;
    while filled < head.len() {
        match file.read_at(&mut head[filled..], filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// FNV-1a, 64 bits: stable across versions and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

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
    /// The file `offset` is in; `None` until first read.
    pub file: Option<FileId>,
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
            file: None,
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
        let file = File::open(&self.path)?;
        let metadata = file.metadata()?;
        let len = metadata.len();
        let mut sent = 0;
        if let Some(known) = self.file {
            let same_inode = (known.dev, known.ino) == (metadata.dev(), metadata.ino());
            if !same_inode || !fingerprint_matches(&file, &known)? {
                if !same_inode {
                    // Rotated by rename within the directory: count the old
                    // file's last lines before leaving it.
                    sent += self.drain_rotated(&known, batches, limits, cancel)?;
                }
                info!(path = %self.path.display(), "The path now names another file; reading it from its start.");
                self.restart();
            }
        }
        if len < self.offset {
            warn!(path = %self.path.display(), offset = self.offset, len, "File shrank below its checkpoint; reading it again from the start.");
            self.restart();
        }
        if self.file.is_none() {
            self.file = Some(fingerprint(&file, metadata.dev(), metadata.ino(), 0)?);
        }
        Ok(sent + self.read_to_end(file, batches, limits, last_line, cancel)?)
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.file = None;
        self.skipping_long_line = false;
    }

    /// Reads what the file `known`, now under another name in the same
    /// directory, holds past the checkpoint. Not found (moved away, deleted):
    /// nothing to do.
    fn drain_rotated(
        &mut self,
        known: &FileId,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        cancel: &CancellationToken,
    ) -> Result<u64, ReadError> {
        let Some(dir) = self.path.parent() else { return Ok(0) };
        for entry in std::fs::read_dir(dir)?.flatten() {
            let Ok(metadata) = entry.metadata() else { continue };
            if (metadata.dev(), metadata.ino()) == (known.dev, known.ino) && metadata.is_file() {
                let file = File::open(entry.path())?;
                if !fingerprint_matches(&file, known)? || metadata.len() <= self.offset {
                    return Ok(0);
                }
                info!(path = %self.path.display(), renamed = %entry.path().display(), "File was rotated; reading its last lines.");
                // A rotated file is complete: its last line needs no newline.
                return self.read_to_end(file, batches, limits, LastLine::Complete, cancel);
            }
        }
        Ok(0)
    }

    /// Sends every complete line of `file` from `offset` to its end.
    fn read_to_end(
        &mut self,
        mut file: File,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        last_line: LastLine,
        cancel: &CancellationToken,
    ) -> Result<u64, ReadError> {
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
                    sent += self.send(&file, &mut builder, buffer_offset + consumed as u64, batches)?;
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
                    sent += self.send(&file, &mut builder, buffer_offset + consumed as u64, batches)?;
                }
                return Ok(sent);
            }
            if partial > limits.max_line_bytes {
                // Too long to be a line: count it once its end comes, and
                // never hold more of it than one read.
                self.skipping_long_line = true;
                if !builder.is_empty() {
                    sent += self.send(&file, &mut builder, buffer_offset + consumed as u64, batches)?;
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
        file: &File,
        builder: &mut BatchBuilder,
        end_offset: u64,
        batches: &async_channel::Sender<Batch>,
    ) -> Result<u64, ReadError> {
        // A checkpoint fingerprints every byte it covers, up to HEAD_BYTES:
        // one that covered fewer would take any file on a reused inode for
        // this one.
        if let Some(known) = self
            .file
            .filter(|known| u64::from(known.head_len) < HEAD_BYTES.min(end_offset))
        {
            self.file = Some(fingerprint(file, known.dev, known.ino, HEAD_BYTES.min(end_offset))?);
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let checkpoint = Checkpoint {
            offset: end_offset,
            file: self.file,
        };
        let batch = builder.take(&self.source, seq, Some(checkpoint), &self.parser);
        let lines = batch.lines as u64 + batch.rejected;
        batches.send_blocking(batch).map_err(|_| ReadError::Closed)?;
        self.offset = end_offset;
        Ok(lines)
    }
}
