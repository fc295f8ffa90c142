//! The mock generator: `GET /ws/logs` with a real WebSocket client, and
//! `logproc gen` counted by the test itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{App, Dirs, logproc};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &App, query: &str) -> Socket {
    let url = format!("ws://{}/ws/logs{query}", app.addr);
    tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket upgrade")
        .0
}

/// The next `count` entries, as JSON.
async fn entries(socket: &mut Socket, count: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        match socket.next().await.expect("stream open").expect("no error") {
            Message::Text(text) => out.push(serde_json::from_str(text.as_str()).expect("a JSON entry")),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
    out
}

fn is_hex(value: &Value, len: usize) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_have_the_documented_fields_and_chain_traces() {
    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &[]));
    let mut socket = connect(&app, "?interval_ms=10").await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let got = entries(&mut socket, 300).await;
    let mut services = BTreeMap::new();
    for (i, entry) in got.iter().enumerate() {
        let object = entry.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "component",
                "level",
                "message",
                "parent_id",
                "service",
                "span_id",
                "timestamp",
                "trace_id"
            ]
        );
        assert!(entry["timestamp"].as_i64().unwrap() >= before - 1000);
        assert!(["INFO", "WARN", "ERROR"].contains(&entry["level"].as_str().unwrap()));
        for field in ["message", "service", "component"] {
            assert!(!entry[field].as_str().unwrap().is_empty(), "{entry}");
        }
        assert!(
            is_hex(&entry["trace_id"], 32) && is_hex(&entry["span_id"], 16),
            "{entry}"
        );
        let parent = entry["parent_id"].as_str().unwrap();
        if !parent.is_empty() {
            // A child span follows its parent in the same trace.
            let previous = &got[i - 1];
            assert_eq!(
                (&entry["trace_id"], parent),
                (&previous["trace_id"], previous["span_id"].as_str().unwrap())
            );
            assert!(is_hex(&entry["parent_id"], 16));
        }
        *services
            .entry(entry["service"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert!(services.len() >= 4, "several services: {services:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_service_level_and_interval() {
    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &[]));
    let mut socket = connect(
        &app,
        "?service=payments&level=ERROR&level_weights=INFO:1&interval_ms=50&debug=1",
    )
    .await;
    let first = entries(&mut socket, 1).await;
    let started = Instant::now();
    let rest = entries(&mut socket, 20).await;
    // 20 more messages at 50 ms apart take at least 20 intervals (no upper
    // bound: a busy machine may be slower).
    assert!(
        started.elapsed() >= Duration::from_millis(20 * 50 - 20),
        "{:?}",
        started.elapsed()
    );
    for entry in first.iter().chain(&rest) {
        assert_eq!(
            (entry["service"].as_str(), entry["level"].as_str()),
            (Some("payments"), Some("ERROR"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_follow_the_weights() {
    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &[]));
    // 10 clients x 400 entries = 4000 draws of INFO:70,WARN:20,ERROR:10.
    let clients = (0..10).map(|_| async {
        let mut socket = connect(&app, "?interval_ms=10&level_weights=INFO:70,WARN:20,ERROR:10").await;
        entries(&mut socket, 400).await
    });
    let mut counts = BTreeMap::new();
    for entry in futures_util::future::join_all(clients).await.into_iter().flatten() {
        *counts.entry(entry["level"].as_str().unwrap().to_owned()).or_insert(0.0) += 1.0;
    }
    // Pearson's chi-squared, 2 degrees of freedom: 13.8 is the 0.1% critical value.
    let expected = [("INFO", 0.7), ("WARN", 0.2), ("ERROR", 0.1)];
    let chi2: f64 = expected
        .iter()
        .map(|(level, p)| {
            let e: f64 = 4000.0 * p;
            (counts.get(*level).copied().unwrap_or(0.0_f64) - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 13.8, "chi2 = {chi2}, counts = {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_each_get_their_own_stream() {
    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &[]));
    let clients = (0..200).map(|i| {
        let app = &app;
        async move {
            let service = format!("svc-{i}");
            let mut socket = connect(app, &format!("?interval_ms=20&service={service}")).await;
            let got = entries(&mut socket, 5).await;
            assert!(got.iter().all(|entry| entry["service"] == service.as_str()));
            got.len()
        }
    });
    let received: usize = futures_util::future::join_all(clients).await.into_iter().sum();
    assert_eq!(received, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_going_away() {
    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &[]));
    let mut socket = connect(&app, "?interval_ms=10000").await;
    let status = tokio::task::block_in_place(|| app.terminate());
    assert!(status.success());
    match socket.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame 1001, got {other:?}"),
    }
}

#[test]
fn malformed_parameters_are_refused_before_the_upgrade() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    for (query, message) in [
        (
            "interval_ms=5",
            "interval_ms must be an integer between 10 and 10000, got `5`",
        ),
        (
            "interval_ms=abc",
            "interval_ms must be an integer between 10 and 10000, got `abc`",
        ),
        (
            "interval_ms=10001",
            "interval_ms must be an integer between 10 and 10000, got `10001`",
        ),
        ("level=DEBUG", "level must be INFO, WARN or ERROR, got `DEBUG`"),
        (
            "level_weights=INFO:x",
            "level_weights: weight `x` of INFO is not a non-negative integer",
        ),
        ("level_weights=INFO:5,TRACE:1", "level_weights: unknown level `TRACE`"),
        (
            "level_weights=INFO:0,WARN:0,ERROR:0",
            "level_weights: all weights are zero",
        ),
        ("service=", "service must be a non-empty name"),
        ("interval=100", "unknown parameter `interval`"),
    ] {
        let (status, body) = app.get_text(&format!("/ws/logs?{query}"));
        assert_eq!(status, 400, "{query}");
        assert!(body.starts_with(message), "{query}: {body}");
    }
}

#[test]
fn gen_writes_what_its_truth_says() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "text"] {
        let out = dir.path().join(format!("gen.{format}"));
        let status = logproc().args(gen_args(format)).arg(&out).status().unwrap();
        assert!(status.success());
        let truth: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("gen.{format}.truth.json"))).unwrap())
                .unwrap();

        // Count the file independently of logproc's plugins.
        let text = std::fs::read_to_string(&out).unwrap();
        let mut counted = BTreeMap::<(String, String, String), u64>::new();
        let mut invalid = 0;
        for line in text.lines() {
            let fields = match format {
                "json" => serde_json::from_str::<Value>(line)
                    .ok()
                    .filter(|v| v["timestamp"].is_i64())
                    .map(|v| {
                        let field = |name: &str| v[name].as_str().unwrap().to_owned();
                        (field("service"), field("component"), field("level"))
                    }),
                // Text in no format is free text, of the file's name.
                _ => text_fields(line).or_else(|| Some(free_text_fields(line, &format!("gen.{format}")))),
            };
            match fields {
                Some(key) => *counted.entry(key).or_default() += 1,
                None => invalid += 1,
            }
        }
        assert_eq!(truth["lines"], 20_000);
        assert_eq!(truth["invalid"], invalid);
        if format == "json" {
            assert!(invalid > 250 && invalid < 550, "about 2% invalid: {invalid}");
        } else {
            let free = counted.iter().filter(|((_, component, _), _)| component == "unknown");
            let free: u64 = free.map(|(_, count)| count).sum();
            assert!(free > 250 && free < 550, "about 2% free text: {free}");
        }
        for ((service, component, level), count) in &counted {
            assert_eq!(
                truth["services"][service]["components"][component]["levels"][level], *count,
                "{service}/{component}/{level}"
            );
        }
        let truth_total: u64 = truth["services"]
            .as_object()
            .unwrap()
            .values()
            .map(|s| s["lines"].as_u64().unwrap())
            .sum();
        assert_eq!(truth_total, counted.values().sum::<u64>());

        // The same seed writes the same file.
        let again = dir.path().join("again");
        logproc()
            .args(gen_args(format))
            .arg(&again)
            .args(["--truth", "-"])
            .output()
            .unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());

        // And logproc counts it as the truth says.
        let output = logproc()
            .args(["process", "--format", "json"])
            .arg(&out)
            .arg("--parser")
            .arg(match format {
                "json" => "json",
                _ => "regex",
            })
            .output()
            .unwrap();
        let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut expected = truth.clone();
        for service in expected["services"].as_object_mut().unwrap().values_mut() {
            service.as_object_mut().unwrap().remove("components");
        }
        assert_eq!(stats, expected);
    }
}

/// `gen` arguments up to `--out`, the same for both runs of a format.
fn gen_args(format: &str) -> [&str; 10] {
    [
        "gen",
        "--lines",
        "20000",
        "--format",
        format,
        "--seed",
        "9",
        "--invalid-ratio",
        "0.02",
        "--out",
    ]
}

/// `2025-01-01T00:00:00.077Z INFO [payments/gateway] refund issued trace=...`
/// Free text's service (the file's name), component and level (its first
/// word, when that is a level name).
fn free_text_fields(line: &str, file: &str) -> (String, String, String) {
    let first = line.split(' ').next().unwrap_or_default();
    let level = if ["INFO", "WARN", "ERROR", "FATAL"].contains(&first) {
        first
    } else {
        "UNKNOWN"
    };
    (file.to_owned(), "unknown".to_owned(), level.to_owned())
}

fn text_fields(line: &str) -> Option<(String, String, String)> {
    let mut words = line.split(' ');
    let timestamp = words.next()?;
    let level = words.next()?;
    let bracket = words.next()?.strip_prefix('[')?.strip_suffix(']')?;
    let (service, component) = bracket.split_once('/')?;
    // A valid date: the invalid lines use month 13.
    let valid_date = timestamp.len() == 24 && timestamp[5..7].parse::<u32>().ok()? <= 12;
    valid_date.then(|| (service.to_owned(), component.to_owned(), level.to_owned()))
}

#[test]
fn process_detailed_has_components_and_every_minute() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen.jsonl");
    assert!(logproc().args(gen_args("json")).arg(&out).status().unwrap().success());
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("gen.jsonl.truth.json")).unwrap()).unwrap();

    // Each service's minutes, counted from the file: (lines, errors, warnings).
    let mut minutes = BTreeMap::<(String, i64), (u64, u64, u64)>::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let Some(entry) = serde_json::from_str::<Value>(line)
            .ok()
            .filter(|v| v["timestamp"].is_i64())
        else {
            continue;
        };
        let start_ms = entry["timestamp"].as_i64().unwrap().div_euclid(60_000) * 60_000;
        let counts = minutes
            .entry((entry["service"].as_str().unwrap().to_owned(), start_ms))
            .or_default();
        counts.0 += 1;
        match entry["level"].as_str().unwrap() {
            "ERROR" | "FATAL" => counts.1 += 1,
            "WARN" => counts.2 += 1,
            _ => {}
        }
    }

    let output = logproc()
        .args(["process", "--format", "json", "--detailed", "--parser", "json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["lines"], truth["lines"]);
    for (service, summary) in truth["services"].as_object().unwrap() {
        let detail = &stats["services"][service];
        assert_eq!(detail["components"], summary["components"], "{service}");
        let expected: Vec<Value> = minutes
            .iter()
            .filter(|((name, _), _)| name == service)
            .map(|((_, start_ms), (lines, errors, warnings))| {
                serde_json::json!({"start_ms": start_ms, "lines": lines, "errors": errors, "warnings": warnings})
            })
            .collect();
        let got: Vec<Value> = detail["per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|minute| {
                let mut minute = minute.clone();
                minute.as_object_mut().unwrap().remove("minute");
                minute
            })
            .collect();
        assert_eq!(got, expected, "{service}");
    }

    // The table has no room for them: said, not ignored.
    let output = logproc().args(["process", "--detailed"]).arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--detailed needs --format json"));
}

#[test]
fn gen_writes_syslog_and_log4j_that_process_counts_as_its_truth_says() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["syslog", "log4j"] {
        let out = dir.path().join(format!("app-{format}.log"));
        let args = [
            "gen",
            "--lines",
            "5000",
            "--format",
            format,
            "--invalid-ratio",
            "0.02",
            "--out",
        ];
        assert!(logproc().args(args).arg(&out).status().unwrap().success());
        // Counted from the file, by the formats' own rules.
        let mut counted = BTreeMap::<(String, String, String), u64>::new();
        for line in std::fs::read_to_string(&out).unwrap().lines() {
            let key = match format {
                "syslog" => line.strip_prefix('<').and_then(|rest| {
                    let (pri, rest) = rest.split_once('>')?;
                    let level = match pri.parse::<u32>().ok()? % 8 {
                        6 => "INFO",
                        4 => "WARN",
                        _ => "ERROR",
                    };
                    let tag = rest.split(' ').filter(|word| !word.is_empty()).nth(4)?;
                    let (service, rest) = tag.split_once('(')?;
                    let (component, _) = rest.split_once(')')?;
                    Some((service.to_owned(), component.to_owned(), level.to_owned()))
                }),
                _ => {
                    let words: Vec<&str> = line.split(' ').filter(|word| !word.is_empty()).collect();
                    let component = words.get(4).and_then(|word| word.strip_suffix(':'));
                    let dated = line.starts_with("2025-");
                    component
                        .filter(|_| dated)
                        .map(|component| (format!("app-{format}"), component.to_owned(), words[2].to_owned()))
                }
            };
            let key = key.unwrap_or_else(|| free_text_fields(line, &format!("app-{format}")));
            *counted.entry(key).or_default() += 1;
        }
        let truth: Value =
            serde_json::from_slice(&std::fs::read(format!("{}.truth.json", out.display())).unwrap()).unwrap();
        for ((service, component, level), count) in &counted {
            assert_eq!(
                truth["services"][service]["components"][component]["levels"][level], *count,
                "{format}: {service}/{component}/{level}"
            );
        }
        assert_eq!(truth["lines"], counted.values().sum::<u64>());
        let output = logproc()
            .args(["process", "--format", "json"])
            .arg(&out)
            .output()
            .unwrap();
        let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut expected = truth.clone();
        for service in expected["services"].as_object_mut().unwrap().values_mut() {
            service.as_object_mut().unwrap().remove("components");
        }
        assert_eq!(stats, expected, "{format}");
    }
}
