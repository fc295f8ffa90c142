//! The statistics documents served by `GET /stats` and `GET /stats/{service}`
//! and printed by `logproc process`, read from a [`Store`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::model::{Level, LevelCounts};
use crate::store::{ComponentCounts, FileKey, MinuteCounts, Store, StoreError};

/// `GET /stats`.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// Lines counted: parsed + invalid (skipped blank lines are not counted).
    pub lines: u64,
    pub parsed: u64,
    pub invalid: u64,
    /// Parsed lines by level.
    pub levels: Levels,
    /// Parsed lines by service.
    pub services: BTreeMap<String, Summary>,
}

/// Lines and their split by level.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub lines: u64,
    pub levels: Levels,
}

/// `GET /stats/{service}`.
#[derive(Debug, Serialize)]
pub struct ServiceStats {
    pub service: String,
    pub lines: u64,
    pub levels: Levels,
    pub components: BTreeMap<String, Summary>,
    /// The most recent minutes that have lines, oldest first.
    pub per_minute: Vec<Minute>,
}

/// One minute of one service, by the entries' timestamps.
#[derive(Debug, Serialize)]
pub struct Minute {
    /// Start of the minute, RFC 3339 UTC.
    pub minute: String,
    /// Start of the minute, epoch milliseconds.
    pub start_ms: i64,
    pub lines: u64,
    /// ERROR and FATAL lines.
    pub errors: u64,
    /// WARN lines.
    pub warnings: u64,
}

/// Counts per level, serialized as `{"TRACE": n, ..., "UNKNOWN": n}` with
/// every level present.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Levels(pub LevelCounts);

impl Levels {
    fn add(&mut self, level: Level, count: u64) {
        self.0[level.index()] += count;
    }
}

impl Serialize for Levels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Level::ALL.len()))?;
        for level in Level::ALL {
            map.serialize_entry(level.name(), &self.0[level.index()])?;
        }
        map.end()
    }
}

impl Summary {
    fn add(&mut self, level: Level, count: u64) {
        self.lines += count;
        self.levels.add(level, count);
    }
}

/// How a map of summaries (services, components) is ordered and cut, for
/// `?sort=&limit=&offset=`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub sort: SortBy,
    /// At most this many (all when `None`).
    pub limit: Option<usize>,
    /// After skipping this many.
    pub offset: usize,
}

/// The order of a [`Page`]: by name, or by a count, largest first (ties
/// by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Lines,
    Errors,
    Warnings,
}

impl SortBy {
    pub const NAMES: &str = "name, lines, errors, warnings";

    pub fn parse(text: &str) -> Option<SortBy> {
        match text {
            "name" => Some(SortBy::Name),
            "lines" => Some(SortBy::Lines),
            "errors" => Some(SortBy::Errors),
            "warnings" => Some(SortBy::Warnings),
            _ => None,
        }
    }

    fn key(self, summary: &Summary) -> u64 {
        let levels = &summary.levels.0;
        match self {
            SortBy::Name => 0,
            SortBy::Lines => summary.lines,
            SortBy::Errors => levels[Level::Error.index()] + levels[Level::Fatal.index()],
            SortBy::Warnings => levels[Level::Warn.index()],
        }
    }
}

/// The entries of `all` that `page` asks for, in its order: serialized as
/// a list of `{KEY: name, "lines": n, "levels": {...}}` (KEY `service` or
/// `component`), since the order is the point.
pub struct Paged<'a> {
    key: &'static str,
    entries: Vec<(&'a String, &'a Summary)>,
}

impl<'a> Paged<'a> {
    pub fn of(key: &'static str, all: &'a BTreeMap<String, Summary>, page: Page) -> Paged<'a> {
        let mut entries: Vec<_> = all.iter().collect();
        if page.sort != SortBy::Name {
            // Stable: ties stay in name order.
            entries.sort_by_key(|(_, summary)| std::cmp::Reverse(page.sort.key(summary)));
        }
        let end = page
            .limit
            .map_or(entries.len(), |limit| page.offset.saturating_add(limit));
        entries.truncate(end);
        entries.drain(..page.offset.min(entries.len()));
        Paged { key, entries }
    }
}

impl Serialize for Paged<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        struct Named<'a>(&'static str, &'a String, &'a Summary);
        impl Serialize for Named<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry(self.0, self.1)?;
                map.serialize_entry("lines", &self.2.lines)?;
                map.serialize_entry("levels", &self.2.levels)?;
                map.end()
            }
        }
        let mut list = serializer.serialize_seq(Some(self.entries.len()))?;
        for (name, summary) in &self.entries {
            list.serialize_element(&Named(self.key, name, summary))?;
        }
        list.end()
    }
}

/// `GET /stats?sort=&limit=&offset=`: [`Stats`] with a page of its services.
#[derive(Serialize)]
pub struct StatsPage<'a> {
    pub lines: u64,
    pub parsed: u64,
    pub invalid: u64,
    pub levels: Levels,
    /// How many services there are in all.
    pub services_total: usize,
    pub services: Paged<'a>,
}

impl Stats {
    pub fn page(&self, page: Page) -> StatsPage<'_> {
        StatsPage {
            lines: self.lines,
            parsed: self.parsed,
            invalid: self.invalid,
            levels: self.levels,
            services_total: self.services.len(),
            services: Paged::of("service", &self.services, page),
        }
    }
}

/// `GET /stats/{service}?sort=&limit=&offset=`: [`ServiceStats`] with a
/// page of its components.
#[derive(Serialize)]
pub struct ServicePage<'a> {
    pub service: &'a str,
    pub lines: u64,
    pub levels: Levels,
    /// How many components the service has in all.
    pub components_total: usize,
    pub components: Paged<'a>,
    pub per_minute: &'a [Minute],
}

impl ServiceStats {
    pub fn page(&self, page: Page) -> ServicePage<'_> {
        ServicePage {
            service: &self.service,
            lines: self.lines,
            levels: self.levels,
            components_total: self.components.len(),
            components: Paged::of("component", &self.components, page),
            per_minute: &self.per_minute,
        }
    }
}

/// Reads the totals and the per-service summaries.
pub fn read_stats(store: &dyn Store) -> Result<Stats, StoreError> {
    let mut stats = Stats {
        lines: 0,
        parsed: 0,
        invalid: store.invalid()?,
        levels: Levels::default(),
        services: BTreeMap::new(),
    };
    // Every parsed line is in exactly one component counter: `parsed` is
    // their sum, not a counter of its own that could disagree.
    for counted in store.components(None)? {
        let summary = match stats.services.get_mut(&counted.service) {
            Some(summary) => summary,
            None => stats.services.entry(counted.service).or_default(),
        };
        for level in Level::ALL {
            let count = counted.counts[level.index()];
            stats.parsed += count;
            stats.levels.add(level, count);
            summary.add(level, count);
        }
    }
    stats.lines = stats.parsed + stats.invalid;
    Ok(stats)
}

/// Reads one service's statistics with its last `minutes` minute buckets;
/// `None` when the service has no lines.
pub fn read_service(store: &dyn Store, service: &str, minutes: usize) -> Result<Option<ServiceStats>, StoreError> {
    let mut total = Summary::default();
    let mut components = BTreeMap::<String, Summary>::new();
    for ComponentCounts { component, counts, .. } in store.components(Some(service))? {
        let summary = components.entry(component).or_default();
        for level in Level::ALL {
            total.add(level, counts[level.index()]);
            summary.add(level, counts[level.index()]);
        }
    }
    if components.is_empty() {
        return Ok(None);
    }
    let per_minute = store
        .last_minutes(service, minutes)?
        .into_iter()
        .map(|MinuteCounts { start_ms, counts }| Minute {
            minute: crate::time::rfc3339_seconds(start_ms),
            start_ms,
            lines: counts.iter().sum(),
            errors: counts[Level::Error.index()] + counts[Level::Fatal.index()],
            warnings: counts[Level::Warn.index()],
        })
        .collect();
    Ok(Some(ServiceStats {
        service: service.to_owned(),
        lines: total.lines,
        levels: total.levels,
        components,
        per_minute,
    }))
}

/// The statistics with each service's components and every minute
/// (`logproc process --format json --detailed`).
#[derive(Debug, Serialize)]
pub struct DetailedStats {
    pub lines: u64,
    pub parsed: u64,
    pub invalid: u64,
    pub levels: Levels,
    pub services: BTreeMap<String, ServiceDetail>,
}

/// One service in [`DetailedStats`].
#[derive(Debug, Serialize)]
pub struct ServiceDetail {
    pub lines: u64,
    pub levels: Levels,
    pub components: BTreeMap<String, Summary>,
    /// Every minute that has lines, oldest first.
    pub per_minute: Vec<Minute>,
}

/// Reads [`DetailedStats`].
pub fn read_detailed(store: &dyn Store) -> Result<DetailedStats, StoreError> {
    let stats = read_stats(store)?;
    let mut services = BTreeMap::new();
    for name in stats.services.keys() {
        let service = read_service(store, name, usize::MAX)?.ok_or_else(|| StoreError::corrupt(name.as_bytes()))?;
        let detail = ServiceDetail {
            lines: service.lines,
            levels: service.levels,
            components: service.components,
            per_minute: service.per_minute,
        };
        services.insert(name.clone(), detail);
    }
    Ok(DetailedStats {
        lines: stats.lines,
        parsed: stats.parsed,
        invalid: stats.invalid,
        levels: stats.levels,
        services,
    })
}

/// `GET /sources`: how far each file has been counted.
#[derive(Debug, Serialize)]
pub struct SourceProgress {
    /// Where the file was when its checkpoint was last committed (a file
    /// keeps its checkpoint when renamed, as by rotation). A path that is
    /// not UTF-8 shows its other bytes as U+FFFD here, and is given whole
    /// in `source_bytes`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<Vec<u8>>,
    /// The file's identity: `file:{device}:{inode}`.
    pub file: String,
    /// Every line before this byte offset is counted, none after it
    /// (decompressed bytes, for a `.gz` file).
    pub offset: u64,
    /// The format its parser chose from its first lines, if it chose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Its lines parsed, invalid, and parsed without a readable timestamp
    /// (counted at the time of reading), up to `offset`.
    pub parsed: u64,
    pub invalid: u64,
    pub untimed: u64,
    /// The file's size now, while it is still where its checkpoint says
    /// (compressed files: not given, their offset counts decompressed bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes written to it and not counted yet: `size - offset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<u64>,
    /// Why the file is not read, for a file in the watch directory that no
    /// route matches (its offset is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// A path's bytes as text (other than UTF-8 as U+FFFD).
pub fn path_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads every file's checkpoint, by path.
pub fn read_sources(store: &dyn Store) -> Result<Vec<SourceProgress>, StoreError> {
    let mut sources: Vec<_> = store
        .file_checkpoints()?
        .into_iter()
        .map(|(key, checkpoint)| {
            let path = crate::ingest::file::path_of(checkpoint.path.clone());
            let size = std::fs::metadata(&path)
                .ok()
                .filter(|metadata| FileKey::of(metadata) == key)
                .filter(|_| {
                    !crate::ingest::file::is_compressed(&crate::ingest::file::path_of(checkpoint.first_path.clone()))
                })
                .map(|metadata| metadata.len());
            SourceProgress {
                source: path_text(&checkpoint.path),
                source_bytes: std::str::from_utf8(&checkpoint.path)
                    .is_err()
                    .then_some(checkpoint.path),
                file: key.source(),
                offset: checkpoint.offset,
                format: checkpoint.format.filter(|format| !format.is_empty()),
                parsed: checkpoint.counts.parsed,
                invalid: checkpoint.counts.invalid,
                untimed: checkpoint.counts.untimed,
                size,
                lag_bytes: size.map(|size| size.saturating_sub(checkpoint.offset)),
                ignored: None,
            }
        })
        .collect();
    sources.sort_by(|a, b| (&a.source, &a.file).cmp(&(&b.source, &b.file)));
    Ok(sources)
}

/// The statistics as aligned text tables, for people.
pub fn render_table(stats: &Stats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lines    {}\nparsed   {}\ninvalid  {}\n",
        stats.lines, stats.parsed, stats.invalid
    );
    let width = stats.services.keys().map(String::len).chain([7]).max().unwrap_or(7);
    let _ = write!(out, "{:<width$} {:>10}", "SERVICE", "LINES");
    for level in Level::ALL {
        let _ = write!(out, " {:>10}", level.name());
    }
    out.push('\n');
    let rows = stats.services.iter().map(|(name, summary)| (name.as_str(), summary));
    let total = Summary {
        lines: stats.parsed,
        levels: stats.levels,
    };
    for (name, summary) in rows.chain([("(all)", &total)]) {
        let _ = write!(out, "{name:<width$} {:>10}", summary.lines);
        for count in summary.levels.0 {
            let _ = write!(out, " {count:>10}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::read_service;
    use crate::model::{Delta, Level};
    use crate::store::{Commit, MemoryStore, Store};

    /// Minutes are stored one key per hour: counts of one minute written by
    /// two commits add up, and minutes on both sides of an hour read back in
    /// order.
    #[test]
    fn minutes_add_up_across_commits_and_hours() {
        const H12: i64 = 1_735_732_800_000; // 2025-01-01T12:00:00Z
        let store = MemoryStore::default();
        let mut first = Delta::default();
        first.record("a", "x", Level::Info, H12 - 30_000); // 11:59:30
        first.record("a", "x", Level::Error, H12 + 10_000); // 12:00:10
        store.commit(&Commit::new(1, &first, Default::default())).unwrap();
        let mut second = Delta::default();
        second.record("a", "x", Level::Info, H12 - 10_000); // 11:59:50
        second.record("a", "y", Level::Warn, H12 + 59_999); // 12:00:59.999
        second.record("a", "y", Level::Fatal, H12 + 60_000); // 12:01:00
        store.commit(&Commit::new(2, &second, Default::default())).unwrap();

        let stats = read_service(&store, "a", 60).unwrap().unwrap();
        let minutes: Vec<_> = stats
            .per_minute
            .iter()
            .map(|m| (m.minute.as_str(), m.start_ms, m.lines, m.errors, m.warnings))
            .collect();
        assert_eq!(
            minutes,
            [
                ("2025-01-01T11:59:00Z", H12 - 60_000, 2, 0, 0),
                ("2025-01-01T12:00:00Z", H12, 2, 1, 1),
                ("2025-01-01T12:01:00Z", H12 + 60_000, 1, 1, 0),
            ]
        );
        assert_eq!(stats.lines, 5);
        // The last two minutes only.
        let last = read_service(&store, "a", 2).unwrap().unwrap();
        assert_eq!(last.per_minute.first().map(|m| m.start_ms), Some(H12));
    }
}
