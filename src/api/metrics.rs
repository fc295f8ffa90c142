//! `GET /metrics`: the Prometheus text exposition format (0.0.4) of the
//! log-derived counts (`logproc_log_lines_total{service,level}`, as
//! `/stats` has them) and of the service's own work: lines committed by
//! source kind, commits and their durations, the queue, files followed,
//! plugins, HTTP requests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::stats::{current_stats, read};
use super::{ApiError, AppState};
use crate::model::{Level, LevelCounts};
use crate::pipeline::metrics::{COMMIT_BUCKETS, SOURCE_KINDS};
use crate::plugin::PluginCounters;

/// Services given their own `service` label, those with the most lines;
/// the others are summed under `_other` (a time series per service and
/// level costs Prometheus memory for as long as it lives).
pub const MAX_SERVICE_LABELS: usize = 1000;

/// Requests answered, by route and status.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<HashMap<(String, u16), u64>>,
}

/// Counts every request by the route it matched (`unmatched` for none)
/// and the status it was answered with.
pub async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let mut requests = state.http_metrics.requests.lock().expect("metrics lock poisoned");
    *requests.entry((route, status)).or_default() += 1;
    response
}

/// `GET /metrics`.
pub async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (stats, _) = current_stats(&state).await?;
    let files = read(&state, |store| store.file_checkpoints()).await?;
    let mut out = Exposition::default();

    out.family(
        "logproc_log_lines_total",
        "counter",
        "Parsed log lines counted, by service and level (as /stats counts them).",
    );
    let mut services: Vec<(&String, &LevelCounts)> = stats
        .services
        .iter()
        .map(|(name, summary)| (name, &summary.levels.0))
        .collect();
    services.sort_by_cached_key(|(name, counts)| (std::cmp::Reverse(counts.iter().sum::<u64>()), *name));
    let mut other = LevelCounts::default();
    for (_, counts) in services.iter().skip(MAX_SERVICE_LABELS) {
        crate::model::add_counts(&mut other, counts);
    }
    let mut labelled: Vec<(&str, LevelCounts)> = services
        .iter()
        .take(MAX_SERVICE_LABELS)
        .map(|(name, counts)| (name.as_str(), **counts))
        .collect();
    if services.len() > MAX_SERVICE_LABELS {
        match labelled
            .iter_mut()
            .find(|(name, _)| *name == crate::pipeline::names::OTHER_NAME)
        {
            Some((_, counts)) => crate::model::add_counts(counts, &other),
            None => labelled.push((crate::pipeline::names::OTHER_NAME, other)),
        }
    }
    labelled.sort_by(|a, b| a.0.cmp(b.0));
    for (service, counts) in &labelled {
        for level in Level::ALL {
            out.sample(
                "logproc_log_lines_total",
                &[("service", service), ("level", level.name())],
                counts[level.index()],
            );
        }
    }
    out.family(
        "logproc_log_lines_invalid_total",
        "counter",
        "Log lines that could not be parsed.",
    );
    out.sample("logproc_log_lines_invalid_total", &[], stats.invalid);

    let pipeline = state.pipeline_metrics.snapshot();
    out.family(
        "logproc_lines_committed_total",
        "counter",
        "Lines committed since the service started, by the kind of source they came from and outcome.",
    );
    for (kind, counts) in SOURCE_KINDS.iter().zip(pipeline.lines) {
        for (outcome, n) in ["parsed", "invalid"].iter().zip(counts) {
            out.sample(
                "logproc_lines_committed_total",
                &[("source", kind), ("outcome", outcome)],
                n,
            );
        }
    }
    out.family("logproc_commits_total", "counter", "Commits that went through.");
    out.sample("logproc_commits_total", &[], pipeline.commits);
    out.family(
        "logproc_commit_failures_total",
        "counter",
        "Commits that failed (each is tried again until it goes through).",
    );
    out.sample("logproc_commit_failures_total", &[], pipeline.commit_failures);
    out.family(
        "logproc_commit_duration_seconds",
        "histogram",
        "How long commits that went through took.",
    );
    for (bound, n) in COMMIT_BUCKETS.iter().zip(pipeline.commit_buckets) {
        out.sample(
            "logproc_commit_duration_seconds_bucket",
            &[("le", &bound.to_string())],
            n,
        );
    }
    out.sample(
        "logproc_commit_duration_seconds_bucket",
        &[("le", "+Inf")],
        pipeline.commits,
    );
    out.float("logproc_commit_duration_seconds_sum", &[], pipeline.commit_seconds_sum);
    out.sample("logproc_commit_duration_seconds_count", &[], pipeline.commits);

    out.family("logproc_queue_batches", "gauge", "Batches waiting for a parser worker.");
    out.sample("logproc_queue_batches", &[], state.batches.len() as u64);
    out.family(
        "logproc_queue_capacity_batches",
        "gauge",
        "Batches the queue holds at most.",
    );
    out.sample(
        "logproc_queue_capacity_batches",
        &[],
        state.batches.capacity().unwrap_or(0) as u64,
    );
    out.family(
        "logproc_file_bytes_read_total",
        "counter",
        "Bytes read from files since the service started (compressed, for a .gz).",
    );
    out.sample("logproc_file_bytes_read_total", &[], pipeline.file_bytes_read);
    out.family("logproc_files_followed", "gauge", "Files with a checkpoint.");
    out.sample("logproc_files_followed", &[], files.len() as u64);
    out.family(
        "logproc_file_bytes_counted",
        "gauge",
        "Bytes of the files followed up to their checkpoints.",
    );
    out.sample(
        "logproc_file_bytes_counted",
        &[],
        files.iter().map(|(_, checkpoint)| checkpoint.offset).sum(),
    );

    let catalog = state.parsers.catalog();
    let mut plugins: Vec<_> = catalog.plugins().values().cloned().collect();
    plugins.sort_by(|a, b| a.name().cmp(b.name()));
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    type Counter = fn(&PluginCounters) -> &AtomicU64;
    let per_plugin: [(&str, &str, Counter); 3] = [
        ("logproc_plugin_batches_total", "Batches given to each plugin.", |c| {
            &c.batches
        }),
        (
            "logproc_plugin_traps_total",
            "Plugin calls that trapped (a panic, a bad access, the memory cap).",
            |c| &c.traps,
        ),
        (
            "logproc_plugin_timeouts_total",
            "Plugin calls stopped at the time limit.",
            |c| &c.timeouts,
        ),
    ];
    for (name, help, counter) in per_plugin {
        out.family(name, "counter", help);
        for plugin in &plugins {
            out.sample(name, &[("plugin", plugin.name())], load(counter(plugin.counters())));
        }
    }
    out.family(
        "logproc_plugin_lines_total",
        "counter",
        "Lines each plugin parsed, or counted invalid (by the plugin, or because it failed on them).",
    );
    for plugin in &plugins {
        let counters = plugin.counters();
        for (outcome, counter) in [("parsed", &counters.lines_parsed), ("invalid", &counters.lines_invalid)] {
            out.sample(
                "logproc_plugin_lines_total",
                &[("plugin", plugin.name()), ("outcome", outcome)],
                load(counter),
            );
        }
    }

    out.family(
        "logproc_http_requests_total",
        "counter",
        "HTTP requests answered, by route and status (this one not yet).",
    );
    let mut requests: Vec<((String, u16), u64)> = state
        .http_metrics
        .requests
        .lock()
        .expect("metrics lock poisoned")
        .iter()
        .map(|(key, n)| (key.clone(), *n))
        .collect();
    requests.sort();
    for ((route, status), n) in &requests {
        out.sample(
            "logproc_http_requests_total",
            &[("route", route), ("status", &status.to_string())],
            *n,
        );
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out.text,
    )
        .into_response())
}

/// The text being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.text, " {value}");
    }

    fn float(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.labels(name, labels);
        let _ = writeln!(self.text, " {value}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.text.push_str(name);
        if labels.is_empty() {
            return;
        }
        self.text.push('{');
        for (at, (label, value)) in labels.iter().enumerate() {
            if at > 0 {
                self.text.push(',');
            }
            let _ = write!(self.text, "{label}=\"");
            escape_into(&mut self.text, value);
            self.text.push('"');
        }
        self.text.push('}');
    }
}

/// A label value as the format escapes it: `\`, `"` and newlines.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("x_total", &[("service", "a\"b\\c\nd"), ("level", "ERROR")], 3);
        out.sample("y", &[], 1);
        assert_eq!(
            out.text,
            "x_total{service=\"a\\\"b\\\\c\\nd\",level=\"ERROR\"} 3\ny 1\n"
        );
    }
}
