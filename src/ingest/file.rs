//! Reading a file from its checkpoint into batches, cut at line ends.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::pipeline::route::{Sniffer, file_stem};
use crate::pipeline::{Batch, BatchBuilder, ParserHandle, Progress, SourceContext, SourceId};
use crate::store::{Checkpoint, FileCounts, FileKey, Fingerprint};

/// Limits on how lines are read and batched.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub batch_lines: usize,
    pub batch_bytes: usize,
    pub max_line_bytes: usize,
    /// Most bytes a compressed file is decompressed to (a file of 10 MB
    /// can hold 10 GiB of newlines).
    pub max_decompressed_bytes: u64,
}

/// Most bytes read from a file at once.
const READ_CHUNK: usize = 1 << 20;
/// Fewest bytes read at once (small files get small buffers: thousands of
/// them can be read at the same time).
const MIN_READ_CHUNK: usize = 64 << 10;

/// Leading bytes that fingerprint a file (fewer while the file is shorter).
const HEAD_BYTES: u64 = 1024;

/// Fingerprints the first `len` bytes of `file` (fewer if it is shorter).
fn fingerprint(file: &File, len: u64) -> io::Result<Fingerprint> {
    let head = read_head(file, len)?;
    Ok(Fingerprint {
        len: head.len() as u32,
        hash: fnv1a(&head),
    })
}

/// True when `file` starts with the bytes `known` fingerprinted.
fn fingerprint_matches(file: &File, known: &Fingerprint) -> io::Result<bool> {
    Ok(fingerprint(file, u64::from(known.len))? == *known)
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

/// A file's modification time, epoch ms.
fn modified_ms(metadata: &std::fs::Metadata) -> Option<i64> {
    let modified = metadata.modified().ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

/// The length of the run of empty lines (`\n` or `\r\n`) `text` starts with.
fn empty_lines(text: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match text.get(at..at + 2) {
            Some([b'\n', _]) => at += 1,
            Some(b"\r\n") => at += 2,
            _ if text.get(at) == Some(&b'\n') => return at + 1,
            _ => return at,
        }
    }
}

/// A reader that fails once more than `left` bytes come out of `inner`.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            // At the cap: an error if there is more, the end if not.
            return match self.inner.read(&mut [0])? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "it decompresses to more than watch.max_decompressed_bytes; the rest is not read",
                )),
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..want])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// Opens `path` for reading if it is a regular file. Never blocks: a FIFO
/// put in a file's place would wait in `open` for a writer.
fn open_regular(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    match metadata.is_file() {
        true => Ok((file, metadata)),
        false => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")),
    }
}

/// The path whose bytes a checkpoint keeps.
pub fn path_of(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt as _;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// True for a gzip file, read decompressed.
pub fn is_compressed(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "gz")
}

/// One file's reading position. Batches carry the offset just past their
/// last line; a trailing partial line stays unread until its newline comes.
///
/// A reader follows one file (device and inode), whatever its name: renamed
/// within its directory (rotated), it is found again by inode and read to
/// its end.
pub struct FileReader {
    /// Where the file was last found.
    pub path: PathBuf,
    pub key: FileKey,
    pub source: SourceId,
    /// The path the file was first read under, kept in its checkpoints.
    pub first_path: PathBuf,
    pub parser: ParserHandle,
    /// Offset of the first byte not yet sent in a batch (in the decompressed
    /// stream, for a compressed file).
    pub offset: u64,
    /// Sequence number of the next batch of this source. Shared with the
    /// next reader of the same source (after the file reappears), so the
    /// aggregator's order continues instead of waiting for a batch 0 again.
    next_seq: Arc<AtomicU64>,
    /// True while skipping the rest of an over-long line.
    skipping_long_line: bool,
    /// How far the over-long line starting at `offset` has been read
    /// without finding its end: the next read goes on from there rather
    /// than read it all again (it is counted, invalid, once it ends).
    long_line_read_to: Option<u64>,
    /// The file's size (decompressed) when a read last reached its end.
    pub size_seen: u64,
    /// Where to add the bytes read from the file (as stored: compressed for
    /// a `.gz`), for a progress bar.
    pub bytes_read: Option<Arc<AtomicU64>>,
    /// The fingerprint of the file `offset` is in; `None` until first read.
    pub head: Option<Fingerprint>,
    /// Read through a gzip decoder.
    compressed: bool,
    /// A compressed file's size when it was last read to a clean end (or
    /// found damaged): unchanged, there is nothing to decompress again.
    compressed_done_at: Option<u64>,
    /// Renamed since its last checkpoint: the next one records the new path
    /// even if no line comes with it.
    renamed: bool,
    /// The file's format (once chosen), modification time and names.
    pub context: SourceContext,
    /// Chooses the format from the first lines, once.
    sniffer: Sniffer,
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
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("the pipeline is shutting down")]
    Closed,
}

impl FileReader {
    /// A reader of the file `key`, found at `path`, from its start.
    pub fn new(
        path: PathBuf,
        key: FileKey,
        source: SourceId,
        parser: ParserHandle,
        next_seq: Arc<AtomicU64>,
    ) -> FileReader {
        let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        let context = SourceContext {
            service: parser.fixed().service_of_file(&name),
            default_service: Some(Arc::from(file_stem(&name))),
            ..SourceContext::default()
        };
        FileReader {
            context,
            sniffer: Sniffer::default(),
            first_path: path.clone(),
            compressed: is_compressed(&path),
            path,
            key,
            source,
            parser,
            offset: 0,
            next_seq,
            skipping_long_line: false,
            long_line_read_to: None,
            size_seen: 0,
            bytes_read: None,
            head: None,
            compressed_done_at: None,
            renamed: false,
        }
    }

    /// Continues from a committed checkpoint.
    pub fn resume(&mut self, checkpoint: Checkpoint) {
        self.offset = checkpoint.offset;
        self.head = Some(checkpoint.head);
        self.first_path = path_of(checkpoint.first_path);
        self.compressed = is_compressed(&self.first_path);
        if let Some(format) = checkpoint.format {
            self.context.format = (!format.is_empty()).then(|| Arc::from(format));
            self.sniffer = Sniffer::decided();
        }
    }

    /// Sends every complete line from `offset` to the end of the file;
    /// `last_line` says what bytes after the last newline are (a compressed
    /// file knows by itself). Returns the number of lines sent.
    pub fn read_available(
        &mut self,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        last_line: LastLine,
        cancel: &CancellationToken,
    ) -> Result<u64, ReadError> {
        let (file, len) = self.open()?;
        if let Some(known) = self.head
            && !fingerprint_matches(&file, &known)?
        {
            info!(path = ?self.path, "The file's first bytes changed (copied over, or a new file on a reused inode); reading it from its start.");
            self.restart();
        }
        if self.compressed {
            return self.read_compressed(file, len, batches, limits, last_line, cancel);
        }
        if len < self.offset {
            warn!(path = ?self.path, offset = self.offset, len, "File shrank below its checkpoint; reading it again from the start.");
            self.restart();
        }
        if self.head.is_none() {
            self.head = Some(fingerprint(&file, 0)?);
        }
        let start = match self.long_line_read_to.take() {
            Some(read_to) if read_to > self.offset && read_to <= len => {
                self.skipping_long_line = true;
                read_to
            }
            _ => {
                self.skipping_long_line = false;
                self.offset
            }
        };
        let chunk = (len - start).clamp(MIN_READ_CHUNK as u64, READ_CHUNK as u64) as usize;
        (&file).seek(SeekFrom::Start(start))?;
        let mut input = Counting {
            inner: &file,
            read: self.bytes_read.clone(),
        };
        let (sent, _) = self.read_lines(&file, &mut input, start, chunk, batches, limits, last_line, cancel)?;
        if self.renamed && self.offset > 0 {
            self.send(&file, &mut BatchBuilder::default(), self.offset, batches)?;
        }
        Ok(sent)
    }

    /// Opens the file this reader follows: at `path`, or, if that now names
    /// another file or nothing, wherever it was renamed to in the directory.
    fn open(&mut self) -> io::Result<(File, u64)> {
        match open_regular(&self.path) {
            Ok((file, metadata)) => {
                if FileKey::of(&metadata) == self.key {
                    self.context.reference_ms = modified_ms(&metadata);
                    return Ok((file, metadata.len()));
                }
            }
            // Gone, or something else (a FIFO) in its place: renamed?
            Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::InvalidInput) => {}
            Err(error) => return Err(error),
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        for entry in std::fs::read_dir(dir)?.flatten() {
            // Not following links; a FIFO can take a removed file's inode.
            if entry
                .metadata()
                .is_ok_and(|metadata| metadata.is_file() && FileKey::of(&metadata) == self.key)
            {
                let (file, metadata) = open_regular(&entry.path())?;
                if FileKey::of(&metadata) == self.key {
                    info!(path = ?self.path, renamed = ?entry.path(), "File was renamed; following it.");
                    self.path = entry.path();
                    self.renamed = true;
                    self.context.reference_ms = modified_ms(&metadata);
                    return Ok((file, metadata.len()));
                }
            }
        }
        Err(io::ErrorKind::NotFound.into())
    }

    fn restart(&mut self) {
        // Another file's lines: its format is chosen again.
        self.context.format = None;
        self.sniffer = Sniffer::default();
        self.offset = 0;
        self.head = None;
        self.skipping_long_line = false;
        self.long_line_read_to = None;
        self.compressed_done_at = None;
    }

    /// Reads a gzip file (one or more members) decompressed, from `offset`.
    /// A file still being written ends early: its last partial line waits,
    /// unless `last_line` says the file is complete (then it is truncated:
    /// an error, after every whole line is sent).
    fn read_compressed(
        &mut self,
        file: File,
        len: u64,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        last_line: LastLine,
        cancel: &CancellationToken,
    ) -> Result<u64, ReadError> {
        if self.compressed_done_at == Some(len) {
            return Ok(0);
        }
        if self.head.is_none() {
            self.head = Some(fingerprint(&file, 0)?);
        }
        let mut decoder = Capped {
            inner: MultiGzDecoder::new(io::BufReader::with_capacity(
                MIN_READ_CHUNK,
                Counting {
                    inner: &file,
                    read: self.bytes_read.clone(),
                },
            )),
            left: limits.max_decompressed_bytes,
        };
        // The decompressed offset can only be reached by decompressing.
        let skipped = match io::copy(&mut (&mut decoder).take(self.offset), &mut io::sink()) {
            Ok(skipped) => skipped,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(error) => return Err(self.damaged(len, error)),
        };
        if skipped < self.offset {
            warn!(path = ?self.path, offset = self.offset, "Compressed file is shorter than its checkpoint; reading it again from the start.");
            self.restart();
            drop(decoder);
            // The decoder read through the file's shared position.
            (&file).seek(SeekFrom::Start(0))?;
            return self.read_compressed(file, len, batches, limits, last_line, cancel);
        }
        self.skipping_long_line = false;
        let start = self.offset;
        match self.read_lines(
            &file,
            &mut decoder,
            start,
            MIN_READ_CHUNK,
            batches,
            limits,
            LastLine::Complete,
            cancel,
        ) {
            Ok((_, false)) if last_line == LastLine::Complete => Err(self.damaged(
                len,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends in the middle of the gzip data",
                ),
            )),
            Ok((sent, whole)) => {
                if whole {
                    self.compressed_done_at = Some(len);
                }
                Ok(sent)
            }
            Err(ReadError::Io(error)) => Err(self.damaged(len, error)),
            Err(error) => Err(error),
        }
    }

    /// Notes that a compressed file cannot be decompressed past some point,
    /// so it is not tried again until it changes.
    fn damaged(&mut self, len: u64, error: io::Error) -> ReadError {
        self.compressed_done_at = Some(len);
        if error.kind() == io::ErrorKind::FileTooLarge {
            return ReadError::Io(error);
        }
        ReadError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("damaged gzip data after decompressed offset {}: {error}", self.offset),
        ))
    }

    /// Sends every complete line of `input` (positioned at `start`: `offset`,
    /// or further into an over-long line being skipped) to its end. `file`
    /// is the file `input` reads, for fingerprints. Returns the lines sent,
    /// and false if a compressed input was cut short (still being written):
    /// then its last partial line waits.
    #[allow(clippy::too_many_arguments)]
    fn read_lines(
        &mut self,
        file: &File,
        input: &mut dyn Read,
        start: u64,
        chunk: usize,
        batches: &async_channel::Sender<Batch>,
        limits: ReadLimits,
        last_line: LastLine,
        cancel: &CancellationToken,
    ) -> Result<(u64, bool), ReadError> {
        let mut buffer = Vec::with_capacity(chunk);
        let mut builder = BatchBuilder::default();
        let mut sent = 0u64;
        // File offset of buffer[0].
        let mut buffer_offset = start;
        loop {
            if cancel.is_cancelled() {
                return Err(ReadError::Closed);
            }
            let start = buffer.len();
            buffer.resize(start + chunk, 0);
            let (read, cut_short) = match input.read(&mut buffer[start..]) {
                Ok(read) => (read, false),
                Err(error) if self.compressed && error.kind() == io::ErrorKind::UnexpectedEof => (0, true),
                Err(error) => {
                    // The whole lines before the damage count.
                    // (`buffer` holds at most the start of a line here.)
                    if !builder.is_empty() || (buffer_offset > self.offset && !self.skipping_long_line) {
                        self.send(file, &mut builder, buffer_offset, batches)?;
                    }
                    return Err(error.into());
                }
            };
            buffer.truncate(start + read);
            let at_eof = read == 0;
            let mut consumed = 0;
            loop {
                // Empty lines count nothing: skipped here, a run of them
                // costs a byte compare each, not a line in a batch.
                if !self.skipping_long_line {
                    consumed += empty_lines(&buffer[consumed..]);
                }
                let Some(newline) = memchr::memchr(b'\n', &buffer[consumed..]) else {
                    break;
                };
                if std::mem::take(&mut self.skipping_long_line) || newline > limits.max_line_bytes {
                    builder.reject_line();
                    consumed += newline + 1;
                } else {
                    consumed += builder.push_run(
                        &buffer[consumed..],
                        limits.batch_lines,
                        limits.batch_bytes,
                        limits.max_line_bytes,
                    );
                }
                if builder.is_full(limits.batch_lines, limits.batch_bytes) {
                    sent += self.send(file, &mut builder, buffer_offset + consumed as u64, batches)?;
                }
            }
            let partial = buffer.len() - consumed;
            if at_eof {
                let end = buffer_offset + buffer.len() as u64;
                self.size_seen = end;
                let ends_line = match last_line {
                    _ if cut_short => false,
                    LastLine::Waits => false,
                    LastLine::Complete => true,
                    LastLine::CompleteIfSize(size) => size == end,
                };
                // An over-long line being skipped may have no byte left in
                // the buffer: it still ends here.
                if ends_line && (partial > 0 || self.skipping_long_line) {
                    if self.skipping_long_line || partial > limits.max_line_bytes {
                        builder.reject_line();
                    } else {
                        builder.push_line(&buffer[consumed..], limits.max_line_bytes);
                    }
                    self.skipping_long_line = false;
                    consumed = buffer.len();
                }
                let long_line_waits = self.skipping_long_line || buffer.len() - consumed > limits.max_line_bytes;
                let end_of_lines = buffer_offset + consumed as u64;
                // Empty lines alone move the checkpoint too (not into a
                // long line being skipped).
                if !builder.is_empty() || (end_of_lines > self.offset && !long_line_waits) {
                    sent += self.send(file, &mut builder, end_of_lines, batches)?;
                }
                if long_line_waits {
                    // Its end is still to come: the next read goes on from here.
                    self.long_line_read_to = Some(end);
                }
                return Ok((sent, !cut_short));
            }
            if partial > limits.max_line_bytes {
                // Too long to be a line: count it once its end comes, and
                // never hold more of it than one read.
                self.skipping_long_line = true;
                if !builder.is_empty() {
                    sent += self.send(file, &mut builder, buffer_offset + consumed as u64, batches)?;
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
        let head = match self.head {
            Some(head) if u64::from(head.len) >= HEAD_BYTES.min(end_offset) => head,
            _ => fingerprint(file, HEAD_BYTES.min(end_offset))?,
        };
        self.head = Some(head);
        // The plugin version is chosen per batch: a swapped plugin takes over here.
        let parser = self.parser.current().ok();
        if let Some(parser) = &parser
            && let Some(format) = self.sniffer.offer(parser, builder.text())
        {
            self.context.format = format;
            info!(
                path = ?self.path,
                format = self.context.format.as_deref().unwrap_or("(none: the parser's own)"),
                "Format chosen for the file."
            );
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let checkpoint = Checkpoint {
            offset: end_offset,
            head,
            path: self.path.as_os_str().as_bytes().to_vec(),
            first_path: self.first_path.as_os_str().as_bytes().to_vec(),
            format: self
                .sniffer
                .is_done()
                .then(|| self.context.format.as_deref().unwrap_or_default().to_owned()),
            // The aggregator adds the batch's counts to the file's.
            counts: FileCounts::default(),
        };
        self.renamed = false;
        self.long_line_read_to = None;
        let batch = builder.take(&self.source, seq, Progress::Advance(checkpoint), parser, &self.context);
        let lines = batch.lines as u64 + batch.rejected;
        batches.send_blocking(batch).map_err(|_| ReadError::Closed)?;
        self.offset = end_offset;
        Ok(lines)
    }
}

/// Reads through `inner`, adding what it reads to `read`.
struct Counting<R> {
    inner: R,
    read: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if let Some(total) = &self.read {
            total.fetch_add(read as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(read)
    }
}
