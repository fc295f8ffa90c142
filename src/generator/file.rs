//! `logproc gen`: synthetic logs written to a file, deterministic for a
//! seed, with their true counts.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::{Generator, LevelChoice, Profile};

/// Line formats `gen` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineFormat {
    /// One JSON object per line (the json plugin's format).
    Json,
    /// logproc's own text format.
    Text,
    /// Syslog, RFC 3164 with a PRI (`<14>Jan  1 12:00:00 host svc(component)[pid]: ...`).
    Syslog,
    /// log4j's `yyyy-MM-dd HH:mm:ss,SSS LEVEL [thread] component: message`
    /// (the service is the file's name).
    Log4j,
}

/// What to write.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub lines: u64,
    pub format: LineFormat,
    pub seed: u64,
    pub levels: LevelChoice,
    pub services: Vec<Profile>,
    /// Share of lines (0..=1) written malformed on purpose: invalid JSON,
    /// or text in no format (free text).
    pub invalid_ratio: f64,
    /// Timestamp of the first line; each next one is 0..200 ms later.
    pub start_ms: i64,
    pub out: PathBuf,
}

/// The true counts of a generated file, shaped like `GET /stats` plus the
/// components of each service.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Truth {
    pub lines: u64,
    pub parsed: u64,
    pub invalid: u64,
    pub levels: BTreeMap<&'static str, u64>,
    pub services: BTreeMap<String, ServiceTruth>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ServiceTruth {
    pub lines: u64,
    pub levels: BTreeMap<&'static str, u64>,
    pub components: BTreeMap<&'static str, ComponentTruth>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ComponentTruth {
    pub lines: u64,
    pub levels: BTreeMap<&'static str, u64>,
}

/// Every level name of the statistics document, so that the truth has the
/// same keys as `/stats` (levels the generator never writes are 0).
const STATS_LEVELS: [&str; 7] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"];

fn zero_levels() -> BTreeMap<&'static str, u64> {
    STATS_LEVELS.iter().map(|level| (*level, 0)).collect()
}

impl Truth {
    fn count(&mut self, service: &str, component: &'static str, level: &'static str) {
        self.lines += 1;
        self.parsed += 1;
        *self.levels.entry(level).or_default() += 1;
        let service = self.services.entry(service.to_owned()).or_insert_with(|| ServiceTruth {
            levels: zero_levels(),
            ..ServiceTruth::default()
        });
        service.lines += 1;
        *service.levels.entry(level).or_default() += 1;
        let component = service.components.entry(component).or_insert_with(|| ComponentTruth {
            lines: 0,
            levels: zero_levels(),
        });
        component.lines += 1;
        *component.levels.entry(level).or_default() += 1;
    }
}

/// Invalid JSON lines: each fails the json plugin for a documented reason.
const INVALID_JSON: [&str; 3] = [
    "{\"timestamp\": 1735668123456, \"level\": \"ERROR\", \"message\": \"truncated",
    "this line is not JSON",
    "{\"timestamp\": \"not a date\", \"level\": \"INFO\"}",
];
/// Text in no format, and the level its words give it: `auto` counts such
/// lines as free text, under the file's name, at the time of reading.
const FREE_TEXT: [(&str, &str); 3] = [
    ("this line has no structure at all", "UNKNOWN"),
    ("ERROR payments api missing brackets", "ERROR"),
    ("FATAL 2025-13-45T99:00:00Z impossible date", "FATAL"),
];

/// Writes the file and returns its true counts.
pub fn write_logs(options: &GenOptions) -> std::io::Result<Truth> {
    let file = File::create(&options.out)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut generator = Generator::new(options.seed, options.services.clone(), options.levels.clone());
    let mut truth = Truth {
        levels: zero_levels(),
        ..Truth::default()
    };
    let mut timestamp = options.start_ms;
    // The service of free text: the file's name, as a route reads it.
    let name = options.out.file_name().unwrap_or_default().to_string_lossy();
    let unnamed = crate::pipeline::route::file_stem(&name).to_owned();
    let mut line = String::with_capacity(512);
    for _ in 0..options.lines {
        line.clear();
        timestamp += generator.rng().below(200) as i64;
        if generator.rng().chance(options.invalid_ratio) {
            match options.format {
                LineFormat::Json => {
                    let text: &&str = generator.rng().pick(&INVALID_JSON);
                    line.push_str(text);
                    truth.lines += 1;
                    truth.invalid += 1;
                }
                LineFormat::Text | LineFormat::Syslog | LineFormat::Log4j => {
                    let (text, level) = *generator.rng().pick(&FREE_TEXT);
                    line.push_str(text);
                    truth.count(&unnamed, "unknown", level);
                }
            }
        } else {
            let entry = generator.next_entry(timestamp);
            match options.format {
                LineFormat::Json => entry.write_json(&mut line),
                LineFormat::Text => entry.write_text(&mut line),
                LineFormat::Syslog => entry.write_syslog(&mut line),
                LineFormat::Log4j => entry.write_log4j(&mut line),
            }
            let service = match options.format {
                LineFormat::Log4j => unnamed.clone(),
                _ => entry.service.to_owned(),
            };
            let (component, level) = (entry.component, entry.level);
            truth.count(&service, component, level.name());
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(truth)
}
