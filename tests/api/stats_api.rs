//! The statistics API over a real socket.

use crate::helpers::{App, Dirs, on_every_backend, peak_resident_kb};
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

/// One JSON line of `service` and `component` at `level`.
fn line(service: &str, component: &str, level: &str) -> String {
    format!(
        "{{\"level\":\"{level}\",\"service\":\"{service}\",\"component\":\"{component}\",\"timestamp\":1735732800000}}\n"
    )
}

on_every_backend!(names_past_the_caps_count_under_other_across_restarts => names_past_the_caps_count_under_other_across_restarts);

fn names_past_the_caps_count_under_other_across_restarts(dirs: Dirs) {
    let config = dirs.root.path().join("caps.yaml");
    std::fs::write(
        &config,
        "pipeline:\n  max_services: 3\n  max_components_per_service: 2\n",
    )
    .unwrap();
    let spawn = || App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let app = spawn();
    let post = |app: &App, lines: &[(&str, &str)]| {
        let body: String = lines
            .iter()
            .map(|(service, component)| line(service, component, "INFO"))
            .collect();
        assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    };
    post(&app, &[("s1", "c1"), ("s2", "c1"), ("s3", "c1"), ("s1", "c2")]);
    post(&app, &[("s4", "c1"), ("s5", "c9"), ("s1", "c3"), ("s2", "c2")]);
    app.wait_for_log(&["pipeline.max_services (3)", "_other"]);
    app.wait_for_log(&["service `s1` has more components than pipeline.max_components_per_service (2)"]);
    assert!(app.terminate().success());
    let app = spawn();
    post(&app, &[("s6", "c1"), ("s1", "c1"), ("_other", "c1")]);
    let summary = |stats: &serde_json::Value| -> Vec<(String, u64)> {
        let services = stats["services"].as_object().unwrap();
        services
            .iter()
            .map(|(name, s)| (name.clone(), s["lines"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(
        summary(&app.stats()),
        [("_other", 4), ("s1", 4), ("s2", 2), ("s3", 1)].map(|(name, lines)| (name.to_owned(), lines))
    );
    let (_, s1) = app.get("/stats/s1");
    let components: Vec<_> = s1["components"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(components, ["_other", "c1", "c2"]);
    let (_, other) = app.get("/stats/_other");
    let components: Vec<_> = other["components"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(components, ["c1", "c9"]);
}

#[test]
fn services_and_components_can_be_sorted_and_paged() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    // a: 3 lines (1 error), b: 5 (3 errors), c: 4 (no error, 2 warnings)
    let mut body = String::new();
    for (service, component, level, times) in [
        ("a", "x", "INFO", 2),
        ("a", "y", "ERROR", 1),
        ("b", "x", "ERROR", 3),
        ("b", "z", "INFO", 2),
        ("c", "x", "WARN", 2),
        ("c", "x", "INFO", 2),
    ] {
        body += &line(service, component, level).repeat(times);
    }
    assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    // A page is a list, in its order.
    let names = |path: &str, key: &str| -> (Vec<String>, serde_json::Value) {
        let (status, doc) = app.get(path);
        assert_eq!(status, 200, "{path}: {doc}");
        let name = &key[..key.len() - 1];
        let list = doc[key].as_array().unwrap();
        (
            list.iter()
                .map(|entry| entry[name].as_str().unwrap().to_owned())
                .collect(),
            doc,
        )
    };
    let (order, doc) = names("/stats?sort=lines", "services");
    assert_eq!(
        (order, &doc["services_total"], &doc["lines"]),
        (vec!["b".into(), "c".into(), "a".into()], &3.into(), &12.into())
    );
    let (order, _) = names("/stats?sort=errors&limit=2", "services");
    assert_eq!(order, ["b", "a"]);
    let (order, _) = names("/stats?sort=warnings&offset=1&limit=1", "services");
    assert_eq!(order, ["a"]);
    let (order, _) = names("/stats?limit=2&offset=2", "services");
    assert_eq!(order, ["c"]);
    let (order, doc) = names("/stats/b?sort=errors&limit=1", "components");
    assert_eq!((order, &doc["components_total"]), (vec!["x".to_owned()], &2.into()));
    // Without parameters, the documents are as before: no totals.
    assert!(app.stats().get("services_total").is_none());
    for (path, message) in [
        (
            "/stats?sort=size",
            "sort must be one of name, lines, errors, warnings, got `size`",
        ),
        ("/stats?limit=0", "limit must be an integer of at least 1"),
        ("/stats/a?offset=-1", "offset must be an integer of at least 0"),
    ] {
        let (status, body) = app.get(path);
        assert_eq!(status, 400, "{path}");
        assert!(body["error"].as_str().unwrap().contains(message), "{path}: {body}");
    }
}

#[test]
fn concurrent_readers_of_many_services_share_one_document() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    const SERVICES: usize = 50_000;
    let body: String = (0..SERVICES)
        .map(|i| line(&format!("service-{i:05}"), "api", "INFO"))
        .collect();
    assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    let size = app.get_text("/stats").1.len();
    let before = peak_resident_kb(app.pid());
    std::thread::scope(|scope| {
        for _ in 0..20 {
            scope.spawn(|| {
                let (status, text) = app.get_text("/stats");
                assert_eq!((status, text.len()), (200, size));
            });
        }
    });
    // One document of ~8 MB is shared; 20 built apart took 20 times as
    // much (measured: 1 GB for 100,000 services).
    let grown_kb = peak_resident_kb(app.pid()) - before;
    assert!(
        grown_kb < 4 * size as u64 / 1024,
        "{grown_kb} kB for a {size}-byte document"
    );
    // Paging reads from the same document.
    let (_, page) = app.get("/stats?sort=name&limit=2&offset=49998");
    let names: Vec<_> = page["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].clone())
        .collect();
    assert_eq!(names, ["service-49998", "service-49999"]);
    assert_eq!(page["services_total"], SERVICES);
}
