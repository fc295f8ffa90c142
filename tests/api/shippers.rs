//! The endpoints log shippers speak: OTLP/HTTP logs (protobuf and JSON),
//! Loki push (snappy protobuf and JSON) and `POST /ingest` with the record
//! shapes of Fluent Bit and Vector. Requests are built here by hand, from
//! the protocols' documents; the truth is tallied as they are written.

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::{Value, json};

use crate::helpers::{App, Dirs, Reply};
use crate::truth::{BASE_MS, COMPONENTS, LEVELS, Rng, SERVICES, SPELLINGS, Truth};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn app_with(dirs: &Dirs, config: &str) -> App {
    let path = dirs.root.path().join("shippers.yaml");
    std::fs::write(&path, config).unwrap();
    App::spawn(dirs, &["--config", path.to_str().unwrap()])
}

/// The level OTLP's severity number `n` (1–24) names.
fn level_of_number(n: i32) -> &'static str {
    LEVELS[(n as usize - 1) / 4]
}

/// One OTLP log record as the test means it; encoded below in protobuf or
/// in the JSON mapping.
struct OtelRecord {
    severity_number: i32,
    severity_text: &'static str,
    /// Epoch ms, under timeUnixNano (else observedTimeUnixNano).
    time_ms: Option<i64>,
    observed_only: bool,
    body: Option<OtelBody>,
    namespace: Option<&'static str>,
}

enum OtelBody {
    Text(String),
    /// A map body: `level` and a number.
    Map(&'static str),
}

/// (service.name, scope name, records)
type OtelScope = (Option<&'static str>, &'static str, Vec<OtelRecord>);

/// `count` records over services (and none), scopes (and none), every
/// way of giving a level, tallied in `truth`; returns the scopes and how
/// many records are invalid.
fn otel_records(count: usize, seed: u64, truth: &mut Truth) -> (Vec<OtelScope>, u64) {
    let mut rng = Rng::new(seed);
    let mut scopes: Vec<OtelScope> = Vec::new();
    let mut invalid = 0;
    while scopes.iter().map(|scope| scope.2.len()).sum::<usize>() < count {
        let service = [Some(SERVICES[rng.below(SERVICES.len())]), None][usize::from(rng.below(5) == 0)];
        let scope = ["", COMPONENTS[rng.below(COMPONENTS.len())]][usize::from(rng.below(4) != 0)];
        let mut records = Vec::new();
        for _ in 0..1 + rng.below(60) {
            let time_ms = (rng.below(8) != 0).then(|| BASE_MS + rng.below(3_600_000) as i64);
            let namespace = (rng.below(3) == 0).then_some("worker");
            let component = match (scope, namespace) {
                ("", None) => None,
                ("", Some(namespace)) => Some(namespace),
                (scope, _) => Some(scope),
            };
            let (spelling, spelled_level) = SPELLINGS[rng.below(SPELLINGS.len())];
            let mut record = OtelRecord {
                severity_number: 0,
                severity_text: "",
                time_ms,
                observed_only: rng.below(4) == 0,
                body: None,
                namespace,
            };
            let count = |truth: &mut Truth, service: &str, component: Option<&str>, level| match time_ms {
                Some(time) => truth.parsed(service, component.unwrap_or("unknown"), level, time),
                None => truth.parsed_untimed(service, component.unwrap_or("unknown"), level),
            };
            match rng.below(6) {
                0 => {
                    // The number wins over a text that says otherwise.
                    record.severity_number = 1 + rng.below(24) as i32;
                    record.severity_text = ["", "FATAL", "whatever"][rng.below(3)];
                    record.body = Some(OtelBody::Text("{\"level\":\"trace\"}".into()));
                    count(
                        truth,
                        service.unwrap_or("unknown"),
                        component,
                        level_of_number(record.severity_number),
                    );
                }
                1 => {
                    record.severity_text = spelling;
                    count(truth, service.unwrap_or("unknown"), component, spelled_level);
                }
                2 => {
                    // Only a body, a JSON line: the plugin reads it; the
                    // resource's and scope's names win over the line's. Or
                    // that line in Docker's envelope, as Fluent Bit's
                    // tail sends it.
                    let line =
                        format!(r#"{{"level":"{spelling}","service":"from-line","component":"line-part","msg":"x"}}"#);
                    record.body = Some(OtelBody::Text(match rng.below(2) {
                        0 => line,
                        _ => json!({ "log": format!("{line}\n"), "stream": "stdout" }).to_string(),
                    }));
                    let component = component.or(Some("line-part"));
                    count(truth, service.unwrap_or("from-line"), component, spelled_level);
                }
                3 => count(truth, service.unwrap_or("unknown"), component, "UNKNOWN"),
                4 => {
                    record.body = Some(OtelBody::Map(spelling));
                    count(truth, service.unwrap_or("unknown"), component, spelled_level);
                }
                _ => {
                    record.body = Some(OtelBody::Text("{\"level\": broken".into()));
                    truth.invalid();
                    invalid += 1;
                }
            }
            records.push(record);
        }
        scopes.push((service, scope, records));
    }
    (scopes, invalid)
}

fn string_value(text: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    })
}

/// The scopes as an `ExportLogsServiceRequest`, a resource per scope.
fn otel_protobuf(scopes: &[OtelScope]) -> Vec<u8> {
    let nanos = |ms: i64| ms as u64 * 1_000_000;
    let resource_logs = scopes
        .iter()
        .map(|(service, scope, records)| ResourceLogs {
            resource: Some(Resource {
                attributes: service
                    .iter()
                    .map(|service| KeyValue {
                        key: "service.name".into(),
                        value: string_value(service),
                        ..KeyValue::default()
                    })
                    .collect(),
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: scope.to_string(),
                    ..InstrumentationScope::default()
                }),
                log_records: records
                    .iter()
                    .map(|record| LogRecord {
                        time_unix_nano: record.time_ms.filter(|_| !record.observed_only).map_or(0, nanos),
                        observed_time_unix_nano: record.time_ms.filter(|_| record.observed_only).map_or(0, nanos),
                        severity_number: record.severity_number,
                        severity_text: record.severity_text.into(),
                        body: record.body.as_ref().map(|body| match body {
                            OtelBody::Text(text) => string_value(text).unwrap(),
                            OtelBody::Map(level) => AnyValue {
                                value: Some(any_value::Value::KvlistValue(KeyValueList {
                                    values: vec![
                                        KeyValue {
                                            key: "level".into(),
                                            value: string_value(level),
                                            ..KeyValue::default()
                                        },
                                        KeyValue {
                                            key: "n".into(),
                                            value: Some(AnyValue {
                                                value: Some(any_value::Value::IntValue(3)),
                                            }),
                                            ..KeyValue::default()
                                        },
                                    ],
                                })),
                            },
                        }),
                        attributes: record
                            .namespace
                            .iter()
                            .map(|namespace| KeyValue {
                                key: "code.namespace".into(),
                                value: string_value(namespace),
                                ..KeyValue::default()
                            })
                            .collect(),
                        trace_id: vec![0x5b; 16],
                        span_id: vec![0xee; 8],
                        ..LogRecord::default()
                    })
                    .collect(),
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }.encode_to_vec()
}

/// The scopes in OTLP's JSON mapping, written by hand: lowerCamelCase,
/// 64-bit integers as strings, ids in hex, enums as integers, a field this
/// version does not know.
fn otel_json(scopes: &[OtelScope]) -> Vec<u8> {
    let nanos = |ms: i64| (ms as u64 * 1_000_000).to_string();
    let resource_logs: Vec<Value> = scopes
        .iter()
        .map(|(service, scope, records)| {
            let attributes: Vec<Value> = service
                .iter()
                .map(|service| json!({ "key": "service.name", "value": { "stringValue": service } }))
                .collect();
            let records: Vec<Value> = records
                .iter()
                .map(|record| {
                    let mut out = json!({
                        "traceId": "5b8efff798038103d269b633813fc60c",
                        "spanId": "eee19b7ec3c1b174",
                        "flags": 1,
                        "futureField": { "x": [1] },
                    });
                    if let Some(time) = record.time_ms {
                        let key = if record.observed_only {
                            "observedTimeUnixNano"
                        } else {
                            "timeUnixNano"
                        };
                        out[key] = nanos(time).into();
                    }
                    if record.severity_number != 0 {
                        out["severityNumber"] = record.severity_number.into();
                    }
                    if !record.severity_text.is_empty() {
                        out["severityText"] = record.severity_text.into();
                    }
                    match &record.body {
                        Some(OtelBody::Text(text)) => out["body"] = json!({ "stringValue": text }),
                        Some(OtelBody::Map(level)) => {
                            out["body"] = json!({ "kvlistValue": { "values": [
                                { "key": "level", "value": { "stringValue": level } },
                                { "key": "n", "value": { "intValue": "3" } },
                            ] } })
                        }
                        None => {}
                    }
                    if let Some(namespace) = record.namespace {
                        out["attributes"] = json!([{ "key": "code.namespace", "value": { "stringValue": namespace } }]);
                    }
                    out
                })
                .collect();
            json!({
                "resource": { "attributes": attributes, "droppedAttributesCount": 0 },
                "scopeLogs": [{ "scope": { "name": scope }, "logRecords": records }],
                "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceLogs": resource_logs })).unwrap()
}

/// `rejected_log_records` of a successful OTLP answer, in its content type.
fn rejected(reply: &Reply, content_type: &str) -> i64 {
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some(content_type));
    match content_type {
        PROTOBUF => ExportLogsServiceResponse::decode(&reply.body[..])
            .unwrap()
            .partial_success
            .map_or(0, |partial| partial.rejected_log_records),
        _ => {
            let rejected = &reply.json()["partialSuccess"]["rejectedLogRecords"];
            // A 64-bit integer: a string or a number, as the mapping allows.
            rejected
                .as_i64()
                .or_else(|| rejected.as_str().map(|text| text.parse().unwrap()))
                .unwrap_or(0)
        }
    }
}

#[test]
fn otlp_protobuf_and_json_are_counted_by_service_component_and_level() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::default();
    for (seed, content_type, gzipped) in [
        (1, PROTOBUF, false),
        (2, JSON, false),
        (3, PROTOBUF, true),
        (4, JSON, true),
    ] {
        let (scopes, invalid) = otel_records(1_500, seed, &mut truth);
        let body = match content_type {
            PROTOBUF => otel_protobuf(&scopes),
            _ => otel_json(&scopes),
        };
        let reply = match gzipped {
            true => app.post_with(
                "/v1/logs",
                &[("Content-Type", content_type), ("Content-Encoding", "gzip")],
                &gzip(&body),
            ),
            false => app.post_with("/v1/logs", &[("Content-Type", content_type)], &body),
        };
        assert_eq!(rejected(&reply, content_type), invalid as i64, "seed {seed}");
    }
    assert_eq!(app.stats(), truth.stats());
    // By component and level; untimed records count in minutes the truth
    // cannot know, so the minutes are not compared.
    let (_, mut orders) = app.get("/stats/orders");
    let mut expected = truth.service("orders", 60);
    for document in [&mut orders, &mut expected] {
        document.as_object_mut().unwrap().remove("per_minute");
    }
    assert_eq!(orders, expected);
    // Acknowledged means committed.
    assert!(!app.kill().success());
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.stats(), truth.stats());
}

#[test]
fn bad_otlp_requests_are_refused_with_a_status_and_nothing_counted() {
    let dirs = Dirs::new();
    let app = app_with(&dirs, "ingest:\n  max_body_bytes: 100000\n");
    let mut truth = Truth::default();
    let (scopes, _) = otel_records(200, 9, &mut truth);
    let body = otel_protobuf(&scopes);

    // Cut short: no request at all, not some of its records.
    let reply = app.post_with("/v1/logs", &[("Content-Type", PROTOBUF)], &body[..body.len() - 7]);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("content-type"), Some(PROTOBUF));
    // google.rpc.Status: code 1, message 2.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let status = Status::decode(&reply.body[..]).unwrap();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("not an OTLP ExportLogsServiceRequest"),
        "{}",
        status.message
    );

    let reply = app.post_with(
        "/v1/logs",
        &[("Content-Type", JSON)],
        br#"{"resourceLogs": [{"scopeLogs": 7}]}"#,
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], 3);

    let reply = app.post_with("/v1/logs", &[("Content-Type", "text/plain")], b"hello");
    assert_eq!(reply.status, 415);
    let status = Status::decode(&reply.body[..]).unwrap();
    assert!(
        status
            .message
            .contains("send application/x-protobuf or application/json"),
        "{}",
        status.message
    );

    // Over the limit by a byte, and by 50 times: the answer is read either
    // way (the body is read and thrown away), not a connection reset.
    for size in [100_001, 5_000_000] {
        let reply = app.post_with("/v1/logs", &[("Content-Type", PROTOBUF)], &vec![0; size]);
        assert_eq!(reply.status, 413, "{size}");
    }
    // Small compressed, past the limit decompressed.
    let reply = app.post_with(
        "/v1/logs",
        &[("Content-Type", PROTOBUF), ("Content-Encoding", "gzip")],
        &gzip(&vec![0; 1_000_000]),
    );
    assert_eq!(reply.status, 413);
    let reply = app.post_with(
        "/v1/logs",
        &[("Content-Type", PROTOBUF), ("Content-Encoding", "snappy")],
        &body,
    );
    assert_eq!(reply.status, 415);
    assert_eq!(app.stats(), Truth::default().stats());

    // The same request whole is counted.
    let reply = app.post_with("/v1/logs", &[("Content-Type", PROTOBUF)], &body);
    assert_eq!(reply.status, 200);
    assert_eq!(app.stats(), truth.stats());
}

/// Loki's `push.proto`, written here from its definition.
mod loki_proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPair>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// A Loki stream as the test means it: its labels as (name, value), its
/// entries as (epoch ms, line, detected_level metadata).
struct LokiStream {
    labels: Vec<(&'static str, String)>,
    entries: Vec<(i64, String, Option<&'static str>)>,
}

/// Streams of every kind of labels (service under each name, a level
/// label, a value with quotes) and entries (a level in metadata, a JSON
/// line, a broken line), tallied in `truth`.
fn loki_streams(count: usize, seed: u64, truth: &mut Truth) -> Vec<LokiStream> {
    let mut rng = Rng::new(seed);
    let mut streams = Vec::new();
    let mut total = 0;
    while total < count {
        let mut labels = Vec::new();
        let service = (rng.below(5) != 0).then(|| SERVICES[rng.below(SERVICES.len())]);
        if let Some(service) = service {
            let label = ["service_name", "service", "app", "application", "job"][rng.below(5)];
            labels.push((label, service.to_owned()));
            // A later label of the list does not win.
            if label != "job" {
                labels.push(("job", "loses".to_owned()));
            }
        }
        let component = (rng.below(2) == 0).then(|| COMPONENTS[rng.below(COMPONENTS.len())]);
        if let Some(component) = component {
            labels.push(("component", component.to_owned()));
        }
        // A level label that names no level is no level.
        let stream_level = (rng.below(3) == 0).then(|| SPELLINGS[rng.below(SPELLINGS.len())]);
        if let Some((spelling, _)) = stream_level {
            labels.push(("level", spelling.to_owned()));
        }
        labels.push(("note", r#"say "hi", then go"#.to_owned()));
        let stream_level = stream_level.map(|(_, level)| level).filter(|level| *level != "UNKNOWN");
        let mut entries = Vec::new();
        for _ in 0..1 + rng.below(40) {
            let time = BASE_MS + rng.below(3_600_000) as i64;
            let (spelling, level) = SPELLINGS[rng.below(SPELLINGS.len())];
            let metadata = (rng.below(3) == 0).then(|| SPELLINGS[rng.below(SPELLINGS.len())]);
            let metadata_level = metadata.map(|(_, level)| level).filter(|level| *level != "UNKNOWN");
            let broken = rng.below(8) == 0;
            let json_line =
                format!(r#"{{"level":"{spelling}","service":"from-line","component":"line-part","msg":"m"}}"#);
            let line = match (broken, rng.below(3)) {
                (true, _) => "{\"level\": broken".to_owned(),
                // Fluent Bit's `loki` output, line_format json: the record
                // with the line under `log`.
                (false, 0) => json!({ "log": json_line, "stream": "stderr" }).to_string(),
                (false, _) => json_line,
            };
            let names_level = stream_level.or(metadata_level);
            let service = service.unwrap_or(if names_level.is_some() { "unknown" } else { "from-line" });
            let component = component.unwrap_or(if names_level.is_some() { "unknown" } else { "line-part" });
            match (names_level, broken) {
                (Some(level), _) => truth.parsed(service, component, level, time),
                (None, true) => truth.invalid(),
                (None, false) => truth.parsed(service, component, level, time),
            }
            entries.push((time, line, metadata.map(|(spelling, _)| spelling)));
        }
        total += entries.len();
        streams.push(LokiStream { labels, entries });
    }
    streams
}

/// The streams as Promtail sends them: protobuf, raw snappy; label values
/// with quotes left unescaped, as Vector writes them.
fn loki_snappy(streams: &[LokiStream]) -> Vec<u8> {
    let request = loki_proto::PushRequest {
        streams: streams
            .iter()
            .map(|stream| {
                let labels: Vec<String> = stream
                    .labels
                    .iter()
                    .map(|(name, value)| format!("{name}=\"{value}\""))
                    .collect();
                loki_proto::Stream {
                    labels: format!("{{{}}}", labels.join(", ")),
                    entries: stream
                        .entries
                        .iter()
                        .map(|(time, line, metadata)| loki_proto::Entry {
                            timestamp: Some(loki_proto::Timestamp {
                                seconds: time.div_euclid(1000),
                                nanos: (time.rem_euclid(1000) * 1_000_000) as i32,
                            }),
                            line: line.clone(),
                            structured_metadata: metadata
                                .iter()
                                .map(|level| loki_proto::LabelPair {
                                    name: "detected_level".into(),
                                    value: level.to_string(),
                                })
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

/// The streams as Loki's JSON push (Fluent Bit's `loki` output).
fn loki_json(streams: &[LokiStream]) -> Vec<u8> {
    let streams: Vec<Value> = streams
        .iter()
        .map(|stream| {
            let labels: serde_json::Map<String, Value> = stream
                .labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_str().into()))
                .collect();
            let values: Vec<Value> = stream
                .entries
                .iter()
                .map(|(time, line, metadata)| match metadata {
                    Some(level) => json!([(time * 1_000_000).to_string(), line, { "detected_level": level }]),
                    None => json!([(time * 1_000_000).to_string(), line]),
                })
                .collect();
            json!({ "stream": labels, "values": values })
        })
        .collect();
    serde_json::to_vec(&json!({ "streams": streams })).unwrap()
}

#[test]
fn loki_snappy_protobuf_and_json_are_counted_by_labels_metadata_and_lines() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let (status, text) = app.get_text("/ready");
    assert_eq!((status, text.as_str()), (200, "ready\n"));
    let mut truth = Truth::default();
    let streams = loki_streams(1_500, 11, &mut truth);
    let reply = app.post_with(
        "/loki/api/v1/push",
        &[("Content-Type", PROTOBUF)],
        &loki_snappy(&streams),
    );
    assert_eq!(reply.status, 204, "{:?}", String::from_utf8_lossy(&reply.body));
    let streams = loki_streams(1_500, 12, &mut truth);
    let reply = app.post_with("/loki/api/v1/push", &[("Content-Type", JSON)], &loki_json(&streams));
    assert_eq!(reply.status, 204, "{:?}", String::from_utf8_lossy(&reply.body));
    let streams = loki_streams(1_500, 13, &mut truth);
    let reply = app.post_with(
        "/loki/api/v1/push",
        &[("Content-Type", JSON), ("Content-Encoding", "gzip")],
        &gzip(&loki_json(&streams)),
    );
    assert_eq!(reply.status, 204);
    assert_eq!(app.stats(), truth.stats());
    let (_, payments) = app.get("/stats/payments?minutes=60");
    assert_eq!(payments, truth.service("payments", 60));

    // Refused whole: snappy that is not, protobuf that is not, JSON that
    // is not Loki's, snappy that decompresses past the limit.
    let counted = app.stats();
    let not_protobuf = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff plain").unwrap();
    for (content_type, body, status) in [
        (PROTOBUF, b"not snappy at all".to_vec(), 400),
        (PROTOBUF, not_protobuf, 400),
        (
            JSON,
            br#"{"streams":[{"stream":{},"values":[["soon","x"]]}]}"#.to_vec(),
            400,
        ),
        (
            PROTOBUF,
            snap::raw::Encoder::new().compress_vec(&vec![0; 17 << 20]).unwrap(),
            413,
        ),
    ] {
        let reply = app.post_with("/loki/api/v1/push", &[("Content-Type", content_type)], &body);
        assert_eq!(reply.status, status, "{:?}", String::from_utf8_lossy(&reply.body));
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(app.stats(), counted);
}

#[test]
fn ingest_reads_the_record_shapes_fluent_bit_and_vector_send() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::auto();
    let json_line =
        |level: &str, service: &str| format!(r#"{{"level":"{level}","service":"{service}","ts":{BASE_MS}}}"#);
    // Vector's http sink (codec json): one array of events, the line under
    // `message`, names beside it; strings; a record that is itself a log
    // line; a number, which is no record.
    let array = json!([
        { "message": json_line("warn", "orders"), "host": "h1", "timestamp": "2025-01-01T12:00:00Z", "source_type": "file" },
        { "message": json_line("error", "orders"), "service": "billing", "component": "db" },
        json_line("info", "auth"),
        { "level": "fatal", "service": "payments", "component": "api", "message": "a structured line", "ts": BASE_MS },
        { "message": "a text line without structure", "app": "cart" },
        7,
    ]);
    truth.parsed("orders", "unknown", "WARN", BASE_MS);
    truth.parsed("billing", "db", "ERROR", BASE_MS);
    truth.parsed("auth", "unknown", "INFO", BASE_MS);
    truth.parsed("payments", "api", "FATAL", BASE_MS);
    truth.parsed_untimed("cart", "unknown", "UNKNOWN");
    truth.invalid();
    let reply = app.post_with(
        "/ingest",
        &[("Content-Type", JSON), ("Content-Encoding", "gzip")],
        &gzip(array.to_string().as_bytes()),
    );
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({ "accepted": 5, "invalid": 1 }))
    );

    // Fluent Bit's http output, json_lines: the line under `log` (as tail
    // or Docker read it, with its newline), the time under `date`.
    let mut lines = String::new();
    for i in 0..300 {
        let (spelling, level) = SPELLINGS[i % SPELLINGS.len()];
        let service = SERVICES[i % SERVICES.len()];
        let line = json!({ "date": 1_735_732_800.5, "log": format!("{}\n", json_line(spelling, service)), "stream": "stdout" });
        lines.push_str(&line.to_string());
        lines.push('\n');
        truth.parsed(service, "unknown", level, BASE_MS);
    }
    let reply = app.post_with("/ingest", &[("Content-Encoding", "gzip")], &gzip(lines.as_bytes()));
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({ "accepted": 300, "invalid": 0 }))
    );
    assert_eq!(app.stats(), truth.stats());
}

#[test]
fn otlp_records_acknowledged_before_a_sigterm_are_counted_after_restart() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let addr = app.addr;
    // Every request 200 records of one service, level by severity number.
    let request = |seed: u64| {
        let records = (0..200)
            .map(|i| LogRecord {
                time_unix_nano: (BASE_MS as u64 + seed * 1000 + i) * 1_000_000,
                severity_number: 9,
                ..LogRecord::default()
            })
            .collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: string_value("steady"),
                        ..KeyValue::default()
                    }],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec()
    };
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let senders: Vec<_> = (0..4u64)
        .map(|sender| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(std::time::Duration::from_secs(30)))
                    .build()
                    .into();
                let mut sent = 0u64;
                for seed in 0.. {
                    let response = agent
                        .post(format!("http://{addr}/v1/logs"))
                        .header("Content-Type", PROTOBUF)
                        .send(&request(sender * 1_000_000 + seed)[..]);
                    sent += 200;
                    match response {
                        Ok(response) if response.status() == 200 => {
                            acked.fetch_add(200, std::sync::atomic::Ordering::SeqCst);
                        }
                        // Refused while shutting down (503), or no answer.
                        _ => break,
                    }
                }
                sent
            })
        })
        .collect();
    crate::helpers::wait_for("records acknowledged", || {
        (acked.load(std::sync::atomic::Ordering::SeqCst) >= 20_000).then_some(())
    });
    assert!(app.terminate().success());
    let sent: u64 = senders.into_iter().map(|sender| sender.join().unwrap()).sum();
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    let app = App::spawn(&dirs, &[]);
    let counted = app.stats()["lines"].as_u64().unwrap();
    // Every acknowledged record; of those not acknowledged, whole requests
    // or none (a shipper sends them again).
    assert!(
        acked <= counted && counted <= sent,
        "acked {acked}, counted {counted}, sent {sent}"
    );
    assert_eq!(counted % 200, 0, "{counted}");
}
