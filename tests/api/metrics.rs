//! `GET /metrics`: checked by Prometheus' own `promtool`, its log counts
//! equal to `/stats`, its pipeline counters to what was sent.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::helpers::{App, Dirs, debian_tool};
use crate::truth::{Truth, json_lines};

/// `promtool`, from Debian's `prometheus` (installed when missing).
fn promtool() -> Option<&'static str> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let works = || {
        Command::new("promtool")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    FOUND
        .get_or_init(|| debian_tool("prometheus", "REQUIRE_PROMTOOL", works))
        .then_some("promtool")
}

/// The samples of an exposition: (name and labels as written, value).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn metrics_pass_promtool_and_count_what_stats_counts() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::default();
    let body = json_lines(2_000, 81, &mut truth);
    assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    // A service name that needs escaping in a label.
    let odd = "quote\" and \\ back";
    let line = serde_json::json!({ "level": "ERROR", "service": odd, "message": "m" }).to_string();
    assert_eq!(app.post("/ingest?parser=json", line.as_bytes()).0, 200);
    truth.parsed_untimed(odd, "unknown", "ERROR");
    assert_eq!(app.get("/nosuch").0, 404);
    // And a file: its lines naming no service count under its name.
    let (http_parsed, http_invalid) = (truth.parsed, truth.invalid);
    truth.unnamed = Some("app");
    let file = dirs.watched("app.jsonl");
    std::fs::write(&file, json_lines(1_000, 82, &mut truth)).unwrap();
    app.wait_until_read(&file);

    let (status, text) = app.get_text("/metrics");
    assert_eq!(status, 200);
    let samples = samples(&text);
    let stats = truth.stats();
    for (service, summary) in stats["services"].as_object().unwrap() {
        for (level, n) in summary["levels"].as_object().unwrap() {
            let escaped = service.replace('\\', "\\\\").replace('"', "\\\"");
            let series = format!("logproc_log_lines_total{{service=\"{escaped}\",level=\"{level}\"}}");
            assert_eq!(samples.get(&series), Some(&(n.as_u64().unwrap() as f64)), "{series}");
        }
    }
    let log_series = samples
        .keys()
        .filter(|series| series.starts_with("logproc_log_lines_total{"))
        .count();
    assert_eq!(log_series, stats["services"].as_object().unwrap().len() * 7);
    assert_eq!(samples["logproc_log_lines_invalid_total"], truth.invalid as f64);
    let committed = |source: &str, outcome: &str| {
        samples[&format!("logproc_lines_committed_total{{source=\"{source}\",outcome=\"{outcome}\"}}")]
    };
    assert_eq!(
        (committed("http", "parsed"), committed("http", "invalid")),
        (http_parsed as f64, http_invalid as f64)
    );
    assert_eq!(
        (committed("file", "parsed"), committed("file", "invalid")),
        (
            (truth.parsed - http_parsed) as f64,
            (truth.invalid - http_invalid) as f64
        )
    );
    let size = std::fs::metadata(&file).unwrap().len() as f64;
    assert_eq!(samples["logproc_file_bytes_read_total"], size);
    assert_eq!(samples["logproc_file_bytes_counted"], size);
    assert_eq!(samples["logproc_files_followed"], 1.0);
    assert_eq!(
        samples[r#"logproc_http_requests_total{route="/ingest",status="200"}"#],
        2.0
    );
    assert_eq!(
        samples[r#"logproc_http_requests_total{route="unmatched",status="404"}"#],
        1.0
    );
    assert!(samples["logproc_commits_total"] >= 1.0);
    assert_eq!(
        samples[r#"logproc_commit_duration_seconds_bucket{le="+Inf"}"#],
        samples["logproc_commits_total"]
    );
    assert!(samples[r#"logproc_plugin_batches_total{plugin="json"}"#] >= 1.0);

    let Some(promtool) = promtool() else { return };
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn services_past_the_label_cap_are_summed_under_other() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    // 1,100 services; the first 100 with two lines each, so they rank first.
    let mut body = String::new();
    for i in 0..1_100 {
        for _ in 0..1 + usize::from(i < 100) {
            body.push_str(&format!("{{\"level\":\"WARN\",\"service\":\"svc-{i:04}\"}}\n"));
        }
    }
    assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    let (_, text) = app.get_text("/metrics");
    let samples = samples(&text);
    let warn: Vec<(&String, &f64)> = samples
        .iter()
        .filter(|(series, _)| series.starts_with("logproc_log_lines_total{") && series.ends_with("level=\"WARN\"}"))
        .collect();
    assert_eq!(warn.len(), 1001, "1,000 services and _other");
    assert_eq!(warn.iter().map(|(_, n)| **n).sum::<f64>(), 1_200.0);
    // The 100 of two lines, 900 of the others by name, the last 100 summed.
    assert_eq!(
        samples[r#"logproc_log_lines_total{service="_other",level="WARN"}"#],
        100.0
    );
    assert_eq!(
        samples[r#"logproc_log_lines_total{service="svc-0000",level="WARN"}"#],
        2.0
    );
    assert_eq!(
        samples[r#"logproc_log_lines_total{service="svc-0999",level="WARN"}"#],
        1.0
    );
    assert!(!samples.contains_key(r#"logproc_log_lines_total{service="svc-1000",level="WARN"}"#));
}
