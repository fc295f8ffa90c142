//! The statistics API over a real socket.

use crate::helpers::{App, Dirs};
use crate::truth::{Truth, json_lines};

#[test]
fn service_stats_have_components_and_minutes() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("svc");
    let file = dirs.watched("svc.jsonl");
    std::fs::write(&file, json_lines(4_000, 20, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &[]);
    app.wait_until_read(&file);

    // Lines that name no service count under the file's name.
    for service in ["orders", "payments", "svc"] {
        let (status, body) = app.get(&format!("/stats/{service}"));
        assert_eq!(status, 200);
        assert_eq!(body, truth.service(service, 60), "service {service}");
    }
    // The data spans 10 minutes; ask for the last 3.
    let (status, body) = app.get("/stats/auth?minutes=3");
    assert_eq!(status, 200);
    assert_eq!(body, truth.service("auth", 3));
    // Percent-encoded non-ASCII names work.
    let (status, body) = app.get("/stats/zahlungsdienst-%C3%BC");
    assert_eq!(status, 200);
    assert_eq!(body, truth.service("zahlungsdienst-ü", 60));
}

#[test]
fn errors_are_json_with_the_right_status() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let (status, body) = app.get("/stats/nosuch");
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (404, "no lines counted for service `nosuch`")
    );
    for bad in ["0", "abc", "10081", "-1"] {
        let (status, body) = app.get(&format!("/stats/orders?minutes={bad}"));
        assert_eq!(status, 400);
        assert_eq!(
            body["error"],
            format!("minutes must be an integer between 1 and 10080, got `{bad}`")
        );
    }
    let (status, body) = app.get("/stats/orders?minute=5");
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("unknown field `minute`"),
        "{body}"
    );
    let (status, body) = app.get("/nope");
    assert_eq!(status, 404);
    let message = body["error"].as_str().unwrap();
    for endpoint in [
        "GET /stats",
        "GET /sources",
        "GET /plugins",
        "PUT and DELETE /plugins/{name}",
        "POST /ingest",
    ] {
        assert!(message.contains(endpoint), "{endpoint}: {message}");
    }
    // A wrong method gets JSON too.
    for (method, path) in [("DELETE", "/stats"), ("POST", "/healthz"), ("GET", "/ingest")] {
        let (status, body) = app.request(method, path, None, b"");
        assert_eq!(status, 405, "{method} {path}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{method} is not allowed on {path}; the endpoints are")),
            "{message}"
        );
    }
    assert_eq!(app.get("/healthz"), (200, serde_json::json!({ "status": "ok" })));
    // An empty store has an all-zero document.
    assert_eq!(app.stats(), Truth::default().stats());
}

#[test]
fn a_line_without_timestamp_counts_in_the_minute_it_was_read() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = now_ms() / 60_000 * 60_000;
    let file = dirs.watched("no-time.jsonl");
    std::fs::write(
        &file,
        "{\"level\":\"ERROR\",\"service\":\"clockless\",\"component\":\"api\"}\n",
    )
    .unwrap();
    app.wait_until_read(&file);
    let after = now_ms() / 60_000 * 60_000;
    let (status, body) = app.get("/stats/clockless");
    assert_eq!(status, 200);
    let minutes = body["per_minute"].as_array().unwrap();
    assert_eq!(minutes.len(), 1, "{body}");
    let start = minutes[0]["start_ms"].as_i64().unwrap();
    assert!((before..=after).contains(&start), "{start} not in {before}..={after}");
    assert_eq!(
        (minutes[0]["lines"].as_u64(), minutes[0]["errors"].as_u64()),
        (Some(1), Some(1))
    );
}
