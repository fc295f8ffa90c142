//! Ingest rate of the shippers' endpoints: starts `logproc serve` (the
//! binary given, sled on a fresh data dir), sends whole requests of
//! `--batch` records from `--senders` concurrent connections, over OTLP
//! protobuf and Loki protobuf + snappy, and reports records/s from the
//! first request sent to the last one acknowledged (acknowledged means
//! committed); and Loki entries without a level label, whose lines go
//! through a plugin. The counts in `/stats` are checked against what was
//! sent.
//!
//! ```sh
//! bench/shippers.sh                       # builds, then runs this
//! cargo run --release --example ship_load -- target/release/logproc --records 2000000
//! ```

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logproc::ingest::loki::{EntryAdapter, PushRequest, StreamAdapter, Timestamp};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

const SERVICES: [&str; 10] = [
    "orders", "payments", "auth", "search", "cart", "users", "mail", "ledger", "media", "gateway",
];
const COMPONENTS: [&str; 4] = ["api", "db", "cache", "queue"];
/// Distinct request bodies, sent round robin.
const BODIES: usize = 16;

struct Options {
    logproc: String,
    records: usize,
    batch: usize,
    senders: usize,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        logproc: args
            .next()
            .expect("usage: ship_load PATH_TO_LOGPROC [--records N] [--batch N] [--senders N]"),
        records: 2_000_000,
        batch: 1000,
        senders: 4,
    };
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|value| value.parse().ok())
            .expect("a number after each flag");
        match flag.as_str() {
            "--records" => options.records = value,
            "--batch" => options.batch = value,
            "--senders" => options.senders = value,
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

/// Body `seed` of OTLP: records of 3 services (a resource each), 2 scopes
/// each, levels by severity number, a time each, a short string body.
fn otlp_body(seed: usize, records: usize) -> Vec<u8> {
    let start_ns = 1_735_732_800_000_000_000u64 + seed as u64 * 60_000_000_000;
    let per_scope = records / 6;
    let resource_logs = (0..3)
        .map(|r| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(
                            SERVICES[(seed + r) % SERVICES.len()].into(),
                        )),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_logs: (0..2)
                .map(|s| ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: COMPONENTS[(seed + r + s) % COMPONENTS.len()].into(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: (0..per_scope + usize::from(r == 0 && s == 0) * (records - per_scope * 6))
                        .map(|i| LogRecord {
                            time_unix_nano: start_ns + i as u64 * 1_000_000,
                            severity_number: 1 + ((seed + i) % 24) as i32,
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(format!("request {i} handled"))),
                            }),
                            ..LogRecord::default()
                        })
                        .collect(),
                    ..ScopeLogs::default()
                })
                .collect(),
            ..ResourceLogs::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }.encode_to_vec()
}

/// Body `seed` of Loki: 6 streams (service, component, level labels), a
/// time and a line each entry, snappy-compressed.
fn loki_body(seed: usize, records: usize) -> Vec<u8> {
    loki_push(seed, records, true)
}

/// [`loki_body`] without level labels: each line goes to a plugin.
fn loki_lines_body(seed: usize, records: usize) -> Vec<u8> {
    loki_push(seed, records, false)
}

fn loki_push(seed: usize, records: usize, level_labels: bool) -> Vec<u8> {
    const LEVELS: [&str; 5] = ["debug", "info", "warn", "error", "fatal"];
    let per_stream = records / 6;
    let streams = (0..6)
        .map(|s| StreamAdapter {
            labels: match level_labels {
                true => format!(
                    r#"{{service_name="{}", component="{}", level="{}", env="prod"}}"#,
                    SERVICES[(seed + s) % SERVICES.len()],
                    COMPONENTS[s % COMPONENTS.len()],
                    LEVELS[(seed + s) % LEVELS.len()]
                ),
                false => format!(
                    r#"{{service_name="{}", component="{}", env="prod"}}"#,
                    SERVICES[(seed + s) % SERVICES.len()],
                    COMPONENTS[s % COMPONENTS.len()]
                ),
            },
            entries: (0..per_stream + usize::from(s == 0) * (records - per_stream * 6))
                .map(|i| EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1_735_732_800 + (seed * 60 + i / 1000) as i64,
                        nanos: (i % 1000) as i32 * 1_000_000,
                    }),
                    line: format!(
                        "{} GET /api/items/{i} 200 {}ms",
                        LEVELS[(seed + i) % LEVELS.len()],
                        i % 250
                    )
                    .into_bytes(),
                    structured_metadata: Vec::new(),
                })
                .collect(),
            hash: 0,
        })
        .collect();
    let raw = PushRequest { streams }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

struct Service {
    child: std::process::Child,
    addr: String,
    _root: tempfile::TempDir,
}

fn start(logproc: &str) -> Service {
    let root = tempfile::tempdir().unwrap();
    let watch = root.path().join("logs");
    std::fs::create_dir(&watch).unwrap();
    let mut child = Command::new(logproc)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.path().join("data"))
        .arg("--watch-dir")
        .arg(&watch)
        .env("RUST_LOG", "info")
        .env("LOGPROC_PLUGINS__DIR", root.path().join("plugins"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logproc");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let addr = loop {
        let line = lines.next().expect("logproc exited before listening").unwrap();
        if let Some(rest) = line.split("addr=").nth(1).filter(|_| line.contains("Listening.")) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // The rest of its log is drained, so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Service {
        child,
        addr,
        _root: root,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Sends `requests` requests of `bodies` from `senders` threads; the time
/// from the first sent to the last acknowledged.
fn send(addr: &str, path: &str, content_type: &str, bodies: &[Vec<u8>], requests: usize, senders: usize) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for sender in 0..senders {
            scope.spawn(move || {
                let agent = agent();
                for request in (sender..requests).step_by(senders) {
                    let response = agent
                        .post(format!("http://{addr}{path}"))
                        .header("Content-Type", content_type)
                        .send(&bodies[request % bodies.len()][..])
                        .expect("a response");
                    assert!(response.status().is_success(), "{path}: {}", response.status());
                }
            });
        }
    });
    started.elapsed()
}

fn counted(addr: &str) -> u64 {
    let stats: serde_json::Value = agent()
        .get(format!("http://{addr}/stats"))
        .call()
        .unwrap()
        .into_body()
        .read_json()
        .unwrap();
    stats["lines"].as_u64().unwrap()
}

fn main() {
    let options = options();
    let requests = options.records / options.batch;
    let records = (requests * options.batch) as u64;
    type Build = fn(usize, usize) -> Vec<u8>;
    let protocols: [(&str, &str, &str, Build); 3] = [
        ("OTLP protobuf", "/v1/logs", "application/x-protobuf", otlp_body),
        (
            "Loki protobuf + snappy",
            "/loki/api/v1/push",
            "application/x-protobuf",
            loki_body,
        ),
        (
            "Loki protobuf + snappy, lines parsed (no level label)",
            "/loki/api/v1/push",
            "application/x-protobuf",
            loki_lines_body,
        ),
    ];
    for (name, path, content_type, build) in protocols {
        let bodies: Vec<Vec<u8>> = (0..BODIES).map(|seed| build(seed, options.batch)).collect();
        let mut service = start(&options.logproc);
        // One untimed request first: connections, plugins, store warm.
        send(&service.addr, path, content_type, &bodies[..1], 1, 1);
        let elapsed = send(&service.addr, path, content_type, &bodies, requests, options.senders);
        let counted = counted(&service.addr);
        assert_eq!(
            counted,
            records + options.batch as u64,
            "{name}: /stats counts every record sent"
        );
        let body_bytes = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
        println!(
            "{name}: {records} records in {requests} requests of {} ({body_bytes} bytes each), {} senders: {:.3} s, {:.0} records/s",
            options.batch,
            options.senders,
            elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64()
        );
        let _ = service.child.kill();
        let _ = service.child.wait();
    }
}
