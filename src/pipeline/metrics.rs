//! What the pipeline did, for `GET /metrics`: bytes read from files, lines
//! committed by the kind of source they came from, commits and how long
//! they took.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Kinds of source, by the prefix of their ids.
pub const SOURCE_KINDS: [&str; 3] = ["file", "http", "websocket"];

/// Upper bounds of the commit duration histogram's buckets, in seconds.
pub const COMMIT_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Counters the aggregator adds to and `/metrics` reads.
#[derive(Default)]
pub struct PipelineMetrics {
    /// Committed lines by source kind: parsed, invalid.
    lines: [[AtomicU64; 2]; 3],
    commits: AtomicU64,
    commit_failures: AtomicU64,
    /// Commits by [`COMMIT_BUCKETS`] (the first bucket they fit), and past
    /// the last.
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    commit_micros: AtomicU64,
    /// Bytes the file readers read (as stored: compressed for a `.gz`).
    pub file_bytes_read: Arc<AtomicU64>,
}

/// Lines of one commit by source kind: parsed, invalid.
pub type LinesByKind = [[u64; 2]; 3];

/// The index in [`SOURCE_KINDS`] of a source id's kind.
pub fn kind_of(source: &str) -> usize {
    match source {
        _ if source.starts_with(crate::store::FILE_SOURCE_PREFIX) => 0,
        _ if source.starts_with("ws:") => 2,
        _ => 1,
    }
}

/// A snapshot, for the exposition.
pub struct MetricsSnapshot {
    pub lines: LinesByKind,
    pub commits: u64,
    pub commit_failures: u64,
    /// Cumulative counts per bucket bound (as Prometheus writes them).
    pub commit_buckets: [u64; COMMIT_BUCKETS.len()],
    pub commit_seconds_sum: f64,
    pub file_bytes_read: u64,
}

impl PipelineMetrics {
    /// A commit went through, holding `lines`, after `took`.
    pub fn committed(&self, lines: &LinesByKind, took: Duration) {
        for (kind, counts) in lines.iter().enumerate() {
            for (outcome, n) in counts.iter().enumerate() {
                self.lines[kind][outcome].fetch_add(*n, Ordering::Relaxed);
            }
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.commit_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.commit_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// A commit failed (it is tried again).
    pub fn failed(&self) {
        self.commit_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut cumulative = 0;
        let mut commit_buckets = [0; COMMIT_BUCKETS.len()];
        for (at, bucket) in commit_buckets.iter_mut().enumerate() {
            cumulative += load(&self.commit_buckets[at]);
            *bucket = cumulative;
        }
        MetricsSnapshot {
            lines: self.lines.each_ref().map(|counts| counts.each_ref().map(load)),
            commits: load(&self.commits),
            commit_failures: load(&self.commit_failures),
            commit_buckets,
            commit_seconds_sum: load(&self.commit_micros) as f64 / 1e6,
            file_bytes_read: load(&self.file_bytes_read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_fall_in_cumulative_buckets() {
        let metrics = PipelineMetrics::default();
        let lines = [[3, 1], [0, 0], [2, 0]];
        metrics.committed(&lines, Duration::from_micros(800));
        metrics.committed(&lines, Duration::from_millis(30));
        metrics.committed(&lines, Duration::from_secs(9));
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.lines, [[9, 3], [0, 0], [6, 0]]);
        assert_eq!(snapshot.commits, 3);
        assert_eq!(snapshot.commit_buckets[0], 1);
        assert_eq!(snapshot.commit_buckets[4], 1);
        assert_eq!(snapshot.commit_buckets[5], 2);
        assert_eq!(snapshot.commit_buckets[COMMIT_BUCKETS.len() - 1], 2);
        assert!((snapshot.commit_seconds_sum - 9.0308).abs() < 1e-9);
        assert_eq!(kind_of("file:1:2"), 0);
        assert_eq!(kind_of("ws:ws://x"), 2);
        assert_eq!(kind_of("http"), 1);
    }
}
