//! Test data with its true counts, tallied as it is written, and the
//! documents the API must return for it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub const LEVELS: [&str; 7] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"];

/// (spelling in the log, level it must count as)
pub const SPELLINGS: [(&str, &str); 17] = [
    ("INFO", "INFO"),
    ("info", "INFO"),
    ("Warn", "WARN"),
    ("WARNING", "WARN"),
    ("ERROR", "ERROR"),
    ("err", "ERROR"),
    ("FATAL", "FATAL"),
    ("critical", "FATAL"),
    ("CRIT", "FATAL"),
    ("debug", "DEBUG"),
    ("TRACE", "TRACE"),
    ("notice", "INFO"),
    ("SEVERE", "ERROR"),
    ("W", "WARN"),
    ("emerg", "FATAL"),
    ("verbosely", "UNKNOWN"),
    ("INFO", "INFO"),
];
pub const SERVICES: [&str; 4] = ["orders", "payments", "auth", "zahlungsdienst-ü"];
pub const COMPONENTS: [&str; 3] = ["api", "db", "cache"];
/// 2025-01-01T12:00:00Z (`date -u -d 2025-01-01T12:00:00Z +%s%3N`).
pub const BASE_MS: i64 = 1_735_732_800_000;

/// Counts of everything written so far.
#[derive(Default)]
pub struct Truth {
    pub parsed: u64,
    pub invalid: u64,
    /// The service of lines that name none: `unknown`, or for lines read
    /// from a file, its name without extensions (set by the test).
    pub unnamed: Option<&'static str>,
    /// Lines are read by `auto`: those not starting with `{` are text, and
    /// text in no format counts (rather than being invalid JSON).
    pub auto: bool,
    /// (service, component, level) -> lines
    counts: BTreeMap<(String, String, &'static str), u64>,
    /// (service, minute start) -> [lines, errors, warnings]
    minutes: BTreeMap<(String, i64), [u64; 3]>,
}

impl Truth {
    pub fn parsed(&mut self, service: &str, component: &str, level: &'static str, timestamp_ms: i64) {
        self.parsed += 1;
        *self
            .counts
            .entry((service.to_owned(), component.to_owned(), level))
            .or_default() += 1;
        let minute = self
            .minutes
            .entry((service.to_owned(), timestamp_ms.div_euclid(60_000) * 60_000))
            .or_default();
        minute[0] += 1;
        match level {
            "ERROR" | "FATAL" => minute[1] += 1,
            "WARN" => minute[2] += 1,
            _ => {}
        }
    }

    pub fn invalid(&mut self) {
        self.invalid += 1;
    }

    /// A parsed line without a timestamp: counted at the time of reading,
    /// a minute the truth cannot know (so it is in no per-minute figure).
    pub fn parsed_untimed(&mut self, service: &str, component: &str, level: &'static str) {
        self.parsed += 1;
        *self
            .counts
            .entry((service.to_owned(), component.to_owned(), level))
            .or_default() += 1;
    }

    /// Truth for lines read by `auto` (`POST /ingest`, WebSocket sources).
    pub fn auto() -> Truth {
        Truth {
            auto: true,
            ..Truth::default()
        }
    }

    /// Truth for lines of files whose names without extensions are `stem`.
    pub fn for_files(stem: &'static str) -> Truth {
        Truth {
            unnamed: Some(stem),
            ..Truth::default()
        }
    }

    /// The service of lines that name none.
    pub fn unnamed(&self) -> &'static str {
        self.unnamed.unwrap_or("unknown")
    }

    pub fn lines(&self) -> u64 {
        self.parsed + self.invalid
    }

    /// The `/stats` document.
    pub fn stats(&self) -> Value {
        let mut levels = zero_levels();
        let mut services = BTreeMap::<&str, (u64, BTreeMap<&str, u64>)>::new();
        for ((service, _, level), count) in &self.counts {
            *levels.get_mut(level).unwrap() += count;
            let entry = services.entry(service).or_insert_with(|| (0, zero_levels()));
            entry.0 += count;
            *entry.1.get_mut(level).unwrap() += count;
        }
        let services: Map<String, Value> = services
            .into_iter()
            .map(|(name, (lines, levels))| (name.to_owned(), json!({ "lines": lines, "levels": levels })))
            .collect();
        json!({
            "lines": self.lines(),
            "parsed": self.parsed,
            "invalid": self.invalid,
            "levels": levels,
            "services": services,
        })
    }

    /// The `/stats/{service}` document with its last `minutes` minutes.
    pub fn service(&self, service: &str, minutes: usize) -> Value {
        let mut levels = zero_levels();
        let mut lines = 0;
        let mut components = BTreeMap::<&str, (u64, BTreeMap<&str, u64>)>::new();
        for ((name, component, level), count) in &self.counts {
            if name != service {
                continue;
            }
            lines += count;
            *levels.get_mut(level).unwrap() += count;
            let entry = components.entry(component).or_insert_with(|| (0, zero_levels()));
            entry.0 += count;
            *entry.1.get_mut(level).unwrap() += count;
        }
        let components: Map<String, Value> = components
            .into_iter()
            .map(|(name, (lines, levels))| (name.to_owned(), json!({ "lines": lines, "levels": levels })))
            .collect();
        let all: Vec<Value> = self
            .minutes
            .iter()
            .filter(|((name, _), _)| name == service)
            .map(|((_, start), [lines, errors, warnings])| {
                json!({ "minute": minute_name(*start), "start_ms": start, "lines": lines, "errors": errors, "warnings": warnings })
            })
            .collect();
        let per_minute = all[all.len().saturating_sub(minutes)..].to_vec();
        json!({ "service": service, "lines": lines, "levels": levels, "components": components, "per_minute": per_minute })
    }
}

fn zero_levels() -> BTreeMap<&'static str, u64> {
    LEVELS.iter().map(|level| (*level, 0)).collect()
}

/// Minute names of the test data: all within 2025-01-01 from 12:00 UTC.
fn minute_name(start_ms: i64) -> String {
    let minutes = (start_ms - BASE_MS) / 60_000;
    assert!((0..12 * 60).contains(&minutes), "test data stays within one day");
    format!("2025-01-01T{:02}:{:02}:00Z", 12 + minutes / 60, minutes % 60)
}

/// A small deterministic generator (xorshift), so data varies without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    pub fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

/// The random parts of one test line.
#[derive(Clone, Copy)]
struct Draw {
    /// Within 10 minutes from BASE_MS.
    timestamp: i64,
    spelling: &'static str,
    level: &'static str,
    service: &'static str,
    component: &'static str,
    /// 0: invalid, 1: blank, 2: fields missing, 3: unusual form, else plain.
    kind: usize,
}

impl Draw {
    fn new(rng: &mut Rng, i: usize) -> Draw {
        let timestamp = BASE_MS + (i as i64 % 600) * 1_000 + rng.below(1000) as i64;
        let (spelling, level) = SPELLINGS[rng.below(SPELLINGS.len())];
        Draw {
            timestamp,
            spelling,
            level,
            service: rng.pick(&SERVICES),
            component: rng.pick(&COMPONENTS),
            kind: rng.below(20),
        }
    }
}

/// `count` lines made by `line` from random draws, each ending with a newline.
fn tally_lines(
    count: usize,
    seed: u64,
    truth: &mut Truth,
    line: impl Fn(&Draw, &mut Rng, &mut Truth) -> String,
) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for i in 0..count {
        let draw = Draw::new(&mut rng, i);
        out.push_str(&line(&draw, &mut rng, truth));
        out.push('\n');
    }
    out
}

/// `count` JSON lines of every kind the json plugin must handle, tallied in
/// `truth`. Every line ends with a newline.
pub fn json_lines(count: usize, seed: u64, truth: &mut Truth) -> String {
    tally_lines(count, seed, truth, |draw, rng, truth| {
        let Draw {
            timestamp,
            spelling,
            level,
            service,
            component,
            kind,
        } = *draw;
        match kind {
            0 => {
                let line = [
                    "{\"level\": \"INFO\", \"service\": ",
                    "not json at all",
                    "[1, 2, 3]",
                    "{\"timestamp\": \"yesterday\"}",
                ][rng.below(4)];
                if truth.auto && !line.starts_with('{') {
                    truth.parsed_untimed(truth.unnamed(), "unknown", "UNKNOWN");
                } else {
                    truth.invalid();
                }
                line.to_owned()
            }
            1 => "   \t ".to_owned(), // skipped: not counted
            2 => {
                // No service, component or level.
                truth.parsed(truth.unnamed(), "unknown", "UNKNOWN", timestamp);
                json!({ "timestamp": timestamp, "message": "no fields" }).to_string()
            }
            3 => {
                // RFC 3339 timestamp, fields reordered, extra fields, escapes.
                truth.parsed(service, component, level, BASE_MS);
                format!(
                    r#"{{"message": "quote \" tab \t \u00e9 \ud83d\ude00", "extra": {{"a": [1, {{"b": null}}]}}, "component": "{component}", "service": "{service}", "level": "{spelling}", "timestamp": "2025-01-01T12:00:00.000Z"}}"#
                )
            }
            _ => {
                truth.parsed(service, component, level, timestamp);
                json!({
                    "timestamp": timestamp,
                    "level": spelling,
                    "message": "order created",
                    "service": service,
                    "component": component,
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "span_id": "00f067aa0ba902b7",
                    "parent_id": "",
                })
                .to_string()
            }
        }
    })
}

/// The level free text with `spelling` as its only level-like word counts
/// as: level words of three letters or more are found, single letters (and
/// words that only start like a level) are not.
fn free_text_level(spelling: &'static str, level: &'static str) -> &'static str {
    if spelling.len() < 3 || spelling == "verbosely" {
        "UNKNOWN"
    } else {
        level
    }
}

/// `count` text lines in logproc's own text format, tallied in `truth`, as
/// a file with `parser: auto` reads them: lines in no format count as free
/// text (the service `truth.unnamed()`, the level by its words).
pub fn text_lines(count: usize, seed: u64, truth: &mut Truth) -> String {
    tally_lines(count, seed, truth, |draw, rng, truth| {
        let Draw {
            timestamp,
            spelling,
            level,
            service,
            component,
            kind,
        } = *draw;
        match kind {
            0 => {
                let (level, line) = match rng.below(2) {
                    0 => ("UNKNOWN", format!("{timestamp} garbage without structure")),
                    _ => (
                        free_text_level(spelling, level),
                        format!("{timestamp} {spelling} {service} api without brackets"),
                    ),
                };
                truth.parsed(truth.unnamed(), "unknown", level, timestamp);
                line
            }
            1 => String::new(), // skipped
            2 => {
                truth.parsed(service, "unknown", level, timestamp);
                format!("{timestamp} {spelling} [{service}] no component here")
            }
            3 => {
                // 2025-01-01T12:00:00.123Z with a CRLF ending.
                truth.parsed(service, component, level, BASE_MS + 123);
                format!(
                    "2025-01-01T12:00:00.123Z {spelling} [{service}/{component}] card declined trace=4bf92f3577b34da6\r"
                )
            }
            _ => {
                truth.parsed(service, component, level, timestamp);
                format!(
                    "{timestamp} {spelling} [{service}/{component}] retrying connection to db trace=4bf92f3577b34da6"
                )
            }
        }
    })
}
