//! Stream ingest: `POST /ingest` and WebSocket sources.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{App, Dirs, on_every_backend, wait_for};
use crate::truth::{Truth, json_lines, text_lines};

on_every_backend!(ingested_lines_are_counted_exactly_and_survive_a_crash => ingested_lines_are_counted_exactly_and_survive_a_crash);

fn ingested_lines_are_counted_exactly_and_survive_a_crash(dirs: Dirs) {
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::default();
    let json = json_lines(3_000, 30, &mut truth);
    let (status, body) = app.post("/ingest?parser=json", json.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({ "accepted": truth.parsed, "invalid": truth.invalid })
    );

    // auto: JSON and text lines mixed in one body, the last without a newline.
    let mut mixed = Truth::auto();
    let mut body = [json_lines(500, 31, &mut mixed), text_lines(500, 32, &mut mixed)].concat();
    body.push_str("1735732800000 ERROR [orders/api] last line");
    mixed.parsed("orders", "api", "ERROR", 1_735_732_800_000);
    let (status, answer) = app.post("/ingest", body.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        serde_json::json!({ "accepted": mixed.parsed, "invalid": mixed.invalid })
    );

    let mut all = Truth::default();
    json_lines(3_000, 30, &mut all);
    all.auto = true;
    json_lines(500, 31, &mut all);
    text_lines(500, 32, &mut all);
    all.parsed("orders", "api", "ERROR", 1_735_732_800_000);
    assert_eq!(app.stats(), all.stats());

    // Acknowledged means committed: a crash right after loses nothing.
    assert!(!app.kill().success());
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.stats(), all.stats());
}

#[test]
fn bad_ingest_requests_are_refused() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("small-body.yaml");
    std::fs::write(&config, "ingest:\n  max_body_bytes: 1000\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let (status, body) = app.post("/ingest?parser=yaml", b"x\n");
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "unknown parser `yaml`; known: auto, json, regex")
    );
    let (status, body) = app.post("/ingest", &[b'x'; 1001]);
    assert_eq!(status, 413);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("larger than ingest.max_body_bytes (1000 bytes)")
    );
    let (status, body) = app.post("/ingest?parsers=json", b"x\n");
    assert_eq!(status, 400, "{body}");
    // Nothing of the refused requests was counted.
    assert_eq!(app.stats(), Truth::default().stats());
}

/// A WebSocket server of the test's own: sends `batches[i]` on the i-th
/// connection, then closes it; keeps accepting until every batch is sent.
async fn serve_lines(listener: tokio::net::TcpListener, batches: Vec<Vec<String>>) {
    for lines in batches {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        for line in lines {
            socket.send(Message::Text(line.into())).await.unwrap();
        }
        socket.close(None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_source_counts_what_arrived_across_reconnects() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/stream", listener.local_addr().unwrap());
    let mut truth = Truth::auto();
    let batches: Vec<Vec<String>> = (0..3)
        .map(|i| json_lines(400, 40 + i, &mut truth).lines().map(str::to_owned).collect())
        .collect();
    let server = tokio::spawn(serve_lines(listener, batches));

    let dirs = Dirs::new();
    let app = tokio::task::block_in_place(|| App::spawn(&dirs, &["--ws-source", &url]));
    server.await.unwrap();
    let expected = truth.stats();
    let stats = tokio::task::block_in_place(|| {
        app.wait_for_stats("all streamed lines", |stats| stats["lines"] == expected["lines"])
    });
    assert_eq!(stats, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_over_max_line_bytes_are_invalid_from_every_stream() {
    let long = format!(
        "{{\"level\":\"INFO\",\"service\":\"s\",\"message\":\"{}\"}}",
        "x".repeat(2000)
    );
    let good = "{\"level\":\"INFO\",\"service\":\"s\"}".to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/stream", listener.local_addr().unwrap());
    let server = tokio::spawn(serve_lines(
        listener,
        vec![vec![good.clone(), long.clone(), format!("{good}\n{long}\n{good}")]],
    ));
    let dirs = Dirs::new();
    let config = dirs.root.path().join("short-lines.yaml");
    std::fs::write(&config, "pipeline:\n  max_line_bytes: 1000\n").unwrap();
    let app =
        tokio::task::block_in_place(|| App::spawn(&dirs, &["--config", config.to_str().unwrap(), "--ws-source", &url]));
    server.await.unwrap();
    let stats = tokio::task::block_in_place(|| app.wait_for_stats("the streamed lines", |stats| stats["lines"] == 5));
    assert_eq!((&stats["parsed"], &stats["invalid"]), (&3.into(), &2.into()), "{stats}");
    let body = format!("{good}\n{long}\n{good}");
    let (status, answer) = tokio::task::block_in_place(|| app.post("/ingest?parser=json", body.as_bytes()));
    assert_eq!(
        (status, answer),
        (200, serde_json::json!({ "accepted": 2, "invalid": 1 }))
    );
}

/// A POST of `body` to `/ingest` with `Content-Encoding: coding`: the
/// response's status and body.
fn post_encoded(app: &App, coding: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut request = format!(
        "POST /ingest?parser=json HTTP/1.1\r\nHost: x\r\nContent-Encoding: {coding}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let response = app.raw(&request);
    let status = response[9..12].parse().unwrap();
    let json = response.split("\r\n\r\n").nth(1).unwrap();
    (status, serde_json::from_str(json).unwrap())
}

#[test]
fn compressed_bodies_are_decoded_within_the_body_limit_and_other_codings_refused() {
    use std::io::Write as _;
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let dirs = Dirs::new();
    let config = dirs.root.path().join("limit.yaml");
    std::fs::write(&config, "ingest:\n  max_body_bytes: 1000000\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let mut truth = Truth::default();
    let lines = json_lines(2_000, 45, &mut truth);
    let (status, body) = post_encoded(&app, "gzip", &gzip(lines.as_bytes()));
    assert_eq!((status, &body["accepted"]), (200, &truth.parsed.into()), "{body}");
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let parsed_before = truth.parsed;
    zlib.write_all(json_lines(100, 46, &mut truth).as_bytes()).unwrap();
    let (status, body) = post_encoded(&app, "deflate", &zlib.finish().unwrap());
    let parsed = truth.parsed - parsed_before;
    assert_eq!((status, &body["accepted"]), (200, &parsed.into()), "{body}");

    // zstd in two frames, as a streaming encoder may write it.
    let parsed_before = truth.parsed;
    let zstd_lines = json_lines(300, 47, &mut truth);
    let (first, second) = zstd_lines.split_at(zstd_lines.len() / 2);
    let frames = [first, second]
        .map(|part| ruzstd::encoding::compress_to_vec(part.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest))
        .concat();
    let (status, body) = post_encoded(&app, "zstd", &frames);
    let parsed = truth.parsed - parsed_before;
    assert_eq!((status, &body["accepted"]), (200, &parsed.into()), "{body}");

    let (status, body) = post_encoded(&app, "br", b"\x0b\x02\x80");
    assert_eq!(status, 415, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("`br` is not supported"),
        "{body}"
    );
    // 2 MB of newlines in 2 KB: past the 1 MB limit once decoded.
    let (status, body) = post_encoded(&app, "gzip", &gzip(&[b'\n'; 2_000_000]));
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("decompresses to more than ingest.max_body_bytes")
    );
    let (status, _) = post_encoded(&app, "gzip", b"plain text, not gzip");
    assert_eq!(status, 400);
    assert_eq!(app.stats(), truth.stats());
}

#[test]
fn serve_can_follow_its_own_generator() {
    // Find a free port, then point the service at its own /ws/logs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dirs = Dirs::new();
    let url = format!("ws://127.0.0.1:{port}/ws/logs?interval_ms=10&service=loopback&level=WARN");
    let config = dirs.root.path().join("listen.yaml");
    std::fs::write(&config, format!("server:\n  listen: 127.0.0.1:{port}\n")).unwrap();
    let app = App::spawn_listening(&dirs, &["--config", config.to_str().unwrap(), "--ws-source", &url]);
    let stats = app.wait_for_stats("lines from the generator", |stats| {
        stats["lines"].as_u64().unwrap() >= 50
    });
    let services: Vec<&String> = stats["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["loopback"]);
    assert_eq!(
        stats["services"]["loopback"]["levels"]["WARN"],
        stats["services"]["loopback"]["lines"]
    );
    assert_eq!(stats["invalid"], 0);
    wait_for("the service to keep counting", || {
        (app.stats()["lines"].as_u64().unwrap() > stats["lines"].as_u64().unwrap()).then_some(())
    });
}

#[test]
fn a_named_http_source_parses_with_its_configured_plugin_and_settings() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("http-sources.yaml");
    // A format of its own, parsed by the regex plugin with this route's pattern.
    std::fs::write(
        &config,
        "sources:\n  http:\n    - name: legacy\n      parser: regex\n      settings:\n        \
         pattern: '^(?P<level>[A-Z]+)\\|(?P<service>\\w+)\\|(?P<message>.*)$'\n    \
         - name: kiosk\n      parser: json\n      service: kiosk\n      component: screen\n",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let (status, body) = app.post(
        "/ingest?source=legacy",
        b"ERROR|billing|card declined\nWARN|billing|slow\nnot it\n",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["invalid"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, billing) = app.get("/stats/billing");
    assert_eq!(
        (billing["levels"]["ERROR"].as_u64(), billing["levels"]["WARN"].as_u64()),
        (Some(1), Some(1))
    );

    // A source that names the service and component of its lines.
    let (status, body) = app.post("/ingest?source=kiosk", b"{\"level\":\"ERROR\",\"service\":\"other\"}\n");
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    let (_, kiosk) = app.get("/stats/kiosk");
    assert_eq!(kiosk["components"]["screen"]["levels"]["ERROR"], 1, "{kiosk}");
    assert_eq!(app.get("/stats/other").0, 404);

    let (status, body) = app.post("/ingest?source=nosuch", b"x\n");
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "unknown source `nosuch`; configured (sources.http): kiosk, legacy")
    );
    let (status, _) = app.post("/ingest?source=legacy&parser=json", b"x\n");
    assert_eq!(status, 400);
}

#[test]
fn an_ingest_is_answered_once_the_pipeline_goes_quiet_not_at_the_next_tick() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("slow-ticks.yaml");
    // Ticks an hour apart: only the commit when batches stop can answer.
    std::fs::write(&config, "storage:\n  commit_interval_ms: 3600000\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let mut truth = Truth::default();
    let json = json_lines(2_000, 40, &mut truth);
    // Without that commit, this would time out (helpers::PATIENCE).
    let (status, body) = app.post("/ingest?parser=json", json.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({ "accepted": truth.parsed, "invalid": truth.invalid })
    );
    assert_eq!(app.stats(), truth.stats());
}
