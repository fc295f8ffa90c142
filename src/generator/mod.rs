//! The mock log generator: realistic entries (services, components, messages
//! that fit them, W3C trace-context ids chained into traces), streamed over
//! WebSocket (`GET /ws/logs`) or written to files (`logproc gen`).

mod content;
pub mod file;
pub mod params;
pub mod stream;

use std::fmt::Write as _;

pub use content::Profile;
pub use params::{GenLevel, LevelChoice, StreamParams};

/// A small, fast, seedable generator (SplitMix64): the same seed gives the
/// same output on every platform and version, which `logproc gen` promises.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift: no modulo bias worth mentioning at these sizes.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// One generated entry, in the generator's JSON schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry<'a> {
    pub timestamp: i64,
    pub level: GenLevel,
    pub message: &'static str,
    pub service: &'a str,
    pub component: &'static str,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The span this one is a child of; empty for a trace's root span.
    pub parent_id: String,
}

impl LogEntry<'_> {
    /// One JSON object, fields in the documented order.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_json(&mut out);
        out
    }

    pub fn write_json(&self, out: &mut String) {
        let _ = write!(
            out,
            "{{\"timestamp\":{},\"level\":\"{}\",\"message\":",
            self.timestamp,
            self.level.name()
        );
        write_json_string(out, self.message);
        out.push_str(",\"service\":");
        write_json_string(out, self.service);
        out.push_str(",\"component\":");
        write_json_string(out, self.component);
        let _ = write!(
            out,
            ",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"parent_id\":\"{}\"}}",
            self.trace_id, self.span_id, self.parent_id
        );
    }

    /// One line in the regex plugin's default format.
    pub fn write_text(&self, out: &mut String) {
        let _ = write!(
            out,
            "{} {} [{}/{}] {} trace={}",
            crate::time::rfc3339_millis(self.timestamp),
            self.level.name(),
            self.service,
            self.component,
            self.message,
            self.trace_id
        );
    }
}

impl LogEntry<'_> {
    /// One syslog line as RFC 3164 and rsyslog write it: `<PRI>Mmm dd
    /// HH:MM:SS host service(component)[pid]: message`. The PRI (facility
    /// user) carries the level; the date has no year.
    pub fn write_syslog(&self, out: &mut String) {
        let severity = match self.level {
            GenLevel::Info => 6,
            GenLevel::Warn => 4,
            GenLevel::Error => 3,
        };
        let stamp = crate::time::rfc3339_millis(self.timestamp);
        // `2025-01-01T12:00:00.000Z`: month, day and time.
        let month: usize = stamp[5..7].parse().unwrap_or(1);
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let day: u32 = stamp[8..10].parse().unwrap_or(1);
        let _ = write!(
            out,
            "<{}>{} {day:>2} {} web-01 {}({})[{}]: {} trace={}",
            8 + severity,
            MONTHS[month - 1],
            &stamp[11..19],
            self.service,
            self.component,
            1000 + self.trace_id.len(),
            self.message,
            self.trace_id
        );
    }

    /// One line in log4j's `%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%t] %c: %m`
    /// layout: the logger is the component; the service is the file's.
    pub fn write_log4j(&self, out: &mut String) {
        let stamp = crate::time::rfc3339_millis(self.timestamp);
        let _ = write!(
            out,
            "{} {},{} {:<5} [worker-{}] {}: {} trace={}",
            &stamp[..10],
            &stamp[11..19],
            &stamp[20..23],
            self.level.name(),
            self.trace_id.len() % 8,
            self.component,
            self.message,
            self.trace_id
        );
    }
}

fn write_json_string(out: &mut String, text: &str) {
    // serde_json escapes exactly as JSON requires (names come from users).
    out.push_str(&serde_json::to_string(text).expect("a string always serializes"));
}

/// Where a trace stands: entries of one trace share its id and chain
/// parent and span ids.
#[derive(Debug, Default)]
struct Trace {
    trace_id: String,
    last_span: String,
    remaining: u32,
}

/// Produces entries for a set of service profiles and a level choice.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    profiles: Vec<Profile>,
    levels: LevelChoice,
    trace: Trace,
    profile: usize,
}

impl Generator {
    pub fn new(seed: u64, profiles: Vec<Profile>, levels: LevelChoice) -> Generator {
        assert!(!profiles.is_empty(), "at least one service");
        Generator {
            rng: Rng::new(seed),
            profiles,
            levels,
            trace: Trace::default(),
            profile: 0,
        }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The next entry, stamped `timestamp_ms`.
    pub fn next_entry(&mut self, timestamp_ms: i64) -> LogEntry<'_> {
        if self.trace.remaining == 0 {
            // A new trace: a root span in a service picked at random; the
            // trace's next spans stay in that service.
            self.trace = Trace {
                trace_id: hex(&mut self.rng, 2),
                last_span: String::new(),
                remaining: 1 + self.rng.below(5) as u32,
            };
            self.profile = self.rng.below(self.profiles.len() as u64) as usize;
        }
        self.trace.remaining -= 1;
        let span_id = hex(&mut self.rng, 1);
        let parent_id = std::mem::replace(&mut self.trace.last_span, span_id.clone());
        let level = self.levels.pick(&mut self.rng);
        let profile = &self.profiles[self.profile];
        LogEntry {
            timestamp: timestamp_ms,
            level,
            message: self.rng.pick::<&str>(profile.messages(level)),
            service: &profile.name,
            component: self.rng.pick::<&str>(profile.components),
            trace_id: self.trace.trace_id.clone(),
            span_id,
            parent_id,
        }
    }
}

/// `words` random 64-bit words as lowercase hex (16 digits each).
fn hex(rng: &mut Rng, words: usize) -> String {
    let mut out = String::with_capacity(words * 16);
    for _ in 0..words {
        let _ = write!(out, "{:016x}", rng.next_u64());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_chain_spans_and_ids_have_trace_context_sizes() {
        let mut generator = Generator::new(7, Profile::known(), LevelChoice::default());
        let entries: Vec<_> = (0..200)
            .map(|i| {
                let e = generator.next_entry(i);
                (e.trace_id, e.span_id, e.parent_id, e.service.to_owned())
            })
            .collect();
        let mut roots = 0;
        for (i, (trace, span, parent, service)) in entries.iter().enumerate() {
            assert_eq!((trace.len(), span.len()), (32, 16));
            assert!(
                trace
                    .chars()
                    .chain(span.chars())
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            if parent.is_empty() {
                roots += 1;
            } else {
                let (previous_trace, previous_span, _, previous_service) = &entries[i - 1];
                assert_eq!(
                    (trace, parent, service),
                    (previous_trace, previous_span, previous_service)
                );
            }
        }
        assert!((200 / 5..200).contains(&roots), "traces of 1 to 5 spans: {roots} roots");
    }

    #[test]
    fn json_is_valid_and_in_order() {
        let mut generator = Generator::new(
            1,
            vec![Profile::for_service("we\"ird")],
            LevelChoice::Fixed(GenLevel::Warn),
        );
        let json = generator.next_entry(1_735_668_123_456).to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["service"], "we\"ird");
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["timestamp"], 1_735_668_123_456i64);
        let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 8);
        assert!(json.starts_with("{\"timestamp\":1735668123456,\"level\":\"WARN\",\"message\":"));
    }
}
