//! `logproc process --explain`: for each file, the format its parser chose,
//! its counts, and its first invalid lines with the reasons.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};

use crate::app::{Processed, ProcessedFile};
use crate::config::Settings;
use crate::ingest::file::is_compressed;
use crate::pipeline::worker::invalid_lines;
use crate::store::Store as _;

/// Invalid lines shown per file, at most.
const SHOWN: usize = 5;
/// Lines parsed at once while looking for them.
const BATCH_LINES: usize = 1024;

/// The report, one paragraph per file.
pub fn explain(processed: &Processed, settings: &Settings) -> anyhow::Result<String> {
    let mut report = String::new();
    for file in &processed.files {
        let counts = processed
            .store
            .checkpoint(&file.source)?
            .map(|checkpoint| checkpoint.counts)
            .unwrap_or_default();
        let format = match &file.context.format {
            Some(format) => format!("format {format}"),
            None => "no format chosen (lines in none are free text, or the plugin has its own)".to_owned(),
        };
        let _ = writeln!(
            report,
            "{}: parser {}, {format}; {} parsed, {} invalid, {} without a readable time (counted at the time of reading)",
            file.path.display(),
            file.parser.name(),
            counts.parsed,
            counts.invalid,
            counts.untimed,
        );
        if counts.invalid > 0 {
            for (number, line, reason) in first_invalid(file, settings.pipeline.max_line_bytes)? {
                let _ = writeln!(report, "  line {number}: {reason}\n    {}", preview(&line));
            }
        }
    }
    Ok(report)
}

/// The file's first invalid lines: (line number, line, reason).
fn first_invalid(file: &ProcessedFile, max_line_bytes: usize) -> anyhow::Result<Vec<(usize, String, String)>> {
    let opened = std::fs::File::open(&file.path)?;
    let input: Box<dyn Read> = if is_compressed(&file.path) {
        Box::new(flate2::read::MultiGzDecoder::new(opened))
    } else {
        Box::new(opened)
    };
    let parser = file.parser.current().map_err(anyhow::Error::msg)?;
    let mut found = Vec::new();
    let mut batch: Vec<(usize, String)> = Vec::new();
    let flush = |batch: &mut Vec<(usize, String)>, found: &mut Vec<_>| {
        let lines: Vec<&str> = batch.iter().map(|(_, line)| line.as_str()).collect();
        for (at, reason) in invalid_lines(&parser, &file.context, &lines) {
            let (number, line) = &batch[at];
            found.push((*number, line.clone(), reason));
        }
        batch.clear();
    };
    for (index, line) in BufReader::new(input).split(b'\n').enumerate() {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let number = index + 1;
        if line.len() > max_line_bytes {
            let reason = format!("longer than pipeline.max_line_bytes ({max_line_bytes} bytes)");
            found.push((number, String::from_utf8_lossy(&line[..200]).into_owned(), reason));
        } else {
            match String::from_utf8(line.to_vec()) {
                Ok(text) => batch.push((number, text)),
                Err(_) => found.push((
                    number,
                    String::from_utf8_lossy(line).into_owned(),
                    "not UTF-8".to_owned(),
                )),
            }
        }
        if batch.len() == BATCH_LINES {
            flush(&mut batch, &mut found);
        }
        if found.len() >= SHOWN {
            break;
        }
    }
    flush(&mut batch, &mut found);
    found.sort_by_key(|(number, ..)| *number);
    found.truncate(SHOWN);
    Ok(found)
}

/// The start of a line, for the report.
fn preview(line: &str) -> &str {
    let end = line.char_indices().nth(120).map_or(line.len(), |(at, _)| at);
    &line[..end]
}
