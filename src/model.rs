//! The values that flow through the pipeline: levels, and the per-batch
//! `Delta` of counts that workers hand to the aggregator.

use std::collections::HashMap;

/// A normalized log level (the plugin contract's `level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Unknown,
}

impl Level {
    /// Every level, in order of severity, `Unknown` last.
    pub const ALL: [Level; 7] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
        Level::Unknown,
    ];

    /// The name used in the statistics document.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
            Level::Unknown => "UNKNOWN",
        }
    }

    /// The level [`Level::name`] names, in any case.
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
    }

    /// Position in [`Level::ALL`]; also the level's byte in storage keys.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: u8) -> Option<Level> {
        Level::ALL.get(usize::from(index)).copied()
    }
}

impl From<logproc_levels::Level> for Level {
    fn from(level: logproc_levels::Level) -> Level {
        use logproc_levels::Level as Shared;
        match level {
            Shared::Trace => Level::Trace,
            Shared::Debug => Level::Debug,
            Shared::Info => Level::Info,
            Shared::Warn => Level::Warn,
            Shared::Error => Level::Error,
            Shared::Fatal => Level::Fatal,
            Shared::Unknown => Level::Unknown,
        }
    }
}

/// Counts per level, indexed by [`Level::index`].
pub type LevelCounts = [u64; 7];

/// Start of the minute holding `timestamp_ms` (epoch ms).
pub fn minute_of(timestamp_ms: i64) -> i64 {
    timestamp_ms.div_euclid(60_000) * 60_000
}

/// Name used when a line has no service or component.
pub const UNKNOWN_NAME: &str = "unknown";

/// What one or more batches add to the statistics.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delta {
    /// Lines parsed into an entry.
    pub parsed: u64,
    /// Lines that could not be parsed.
    pub invalid: u64,
    /// Parsed lines without a timestamp (none written, or one unreadable
    /// in a detected format): counted at the time they were parsed.
    pub untimed: u64,
    /// Parsed lines by service.
    pub services: HashMap<String, ServiceDelta>,
}

/// One service's share of a [`Delta`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServiceDelta {
    /// Lines by component and level.
    pub components: HashMap<String, LevelCounts>,
    /// Lines by minute (start, epoch ms) and level, by the entry's timestamp.
    pub minutes: HashMap<i64, LevelCounts>,
}

impl Delta {
    /// Counts one parsed line. `timestamp_ms` places it in its minute.
    pub fn record(&mut self, service: &str, component: &str, level: Level, timestamp_ms: i64) {
        let mut one = LevelCounts::default();
        one[level.index()] = 1;
        self.add_component(service, component, &one);
        self.add_minute(service, minute_of(timestamp_ms), &one);
    }

    /// Counts parsed lines of `service` and `component`, by level.
    pub fn add_component(&mut self, service: &str, component: &str, counts: &LevelCounts) {
        self.parsed += counts.iter().sum::<u64>();
        let components = &mut self.service(service).components;
        if !components.contains_key(component) {
            components.insert(component.to_owned(), LevelCounts::default());
        }
        add_counts(components.get_mut(component).expect("inserted above"), counts);
    }

    /// Places lines of `service`, already counted by
    /// [`Delta::add_component`], in the minute starting at `minute`.
    pub fn add_minute(&mut self, service: &str, minute: i64, counts: &LevelCounts) {
        add_counts(self.service(service).minutes.entry(minute).or_default(), counts);
    }

    fn service(&mut self, name: &str) -> &mut ServiceDelta {
        // Looked up by &str: no String is made for a name already present.
        if !self.services.contains_key(name) {
            self.services.insert(name.to_owned(), ServiceDelta::default());
        }
        self.services.get_mut(name).expect("inserted above")
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Delta) {
        self.parsed += other.parsed;
        self.invalid += other.invalid;
        self.untimed += other.untimed;
        for (name, theirs) in other.services {
            let ours = self.services.entry(name).or_default();
            for (component, counts) in theirs.components {
                add_counts(ours.components.entry(component).or_default(), &counts);
            }
            for (minute, counts) in theirs.minutes {
                add_counts(ours.minutes.entry(minute).or_default(), &counts);
            }
        }
    }

    /// Lines counted (parsed or invalid).
    pub fn lines(&self) -> u64 {
        self.parsed + self.invalid
    }
}

/// Adds `from` into `into`, level by level.
pub fn add_counts(into: &mut LevelCounts, from: &LevelCounts) {
    for (sum, add) in into.iter_mut().zip(from) {
        *sum += add;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_every_count() {
        let mut a = Delta::default();
        a.record("orders", "api", Level::Info, 60_000);
        a.record("orders", "api", Level::Error, 119_999);
        a.invalid = 2;
        let mut b = Delta::default();
        b.record("orders", "db", Level::Info, -1);
        b.record("orders", "api", Level::Info, 120_000);
        b.invalid = 1;
        a.merge(b);
        assert_eq!((a.parsed, a.invalid, a.lines()), (4, 3, 7));
        let orders = &a.services["orders"];
        assert_eq!(orders.components["api"], [0, 0, 2, 0, 1, 0, 0]);
        assert_eq!(orders.components["db"], [0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(orders.minutes[&60_000], [0, 0, 1, 0, 1, 0, 0]);
        assert_eq!(orders.minutes[&120_000], [0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(orders.minutes[&-60_000], [0, 0, 1, 0, 0, 0, 0]);
    }
}
