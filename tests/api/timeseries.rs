//! Counts over time: `/stats/timeseries` and `/stats/top`, on every
//! backend, against per-minute counts tallied as the lines are written.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{App, Dirs, on_every_backend};
use crate::truth::{BASE_MS, LEVELS, Rng};

const SERVICES: [&str; 3] = ["orders", "payments", "auth"];
const MINUTE: i64 = 60_000;

/// (service, minute start) -> lines per level, in `LEVELS` order.
type Minutes = BTreeMap<(&'static str, i64), [u64; 7]>;

/// `count` JSON lines over three hours from `BASE_MS`, tallied by minute.
fn lines(count: usize, seed: u64) -> (String, Minutes) {
    let mut rng = Rng::new(seed);
    let (mut body, mut minutes) = (String::new(), Minutes::new());
    for _ in 0..count {
        let service = SERVICES[rng.below(SERVICES.len())];
        let level = rng.below(LEVELS.len());
        let time = BASE_MS + rng.below(3 * 3_600_000) as i64;
        let line = json!({ "timestamp": time, "level": LEVELS[level], "service": service, "message": "m" });
        body.push_str(&line.to_string());
        body.push('\n');
        minutes.entry((service, time.div_euclid(MINUTE) * MINUTE)).or_default()[level] += 1;
    }
    (body, minutes)
}

/// The buckets `/stats/timeseries` must answer, from the tally.
fn expected_buckets(
    minutes: &Minutes,
    service: Option<&str>,
    levels: &[usize],
    first: i64,
    end: i64,
    step: i64,
) -> Value {
    let mut buckets = Vec::new();
    let mut start = first;
    while start < end {
        let mut counts = [0u64; 7];
        for ((name, minute), per_level) in minutes {
            if service.is_none_or(|service| service == *name) && (start..start + step).contains(minute) {
                for (at, n) in per_level.iter().enumerate() {
                    counts[at] += n;
                }
            }
        }
        let chosen: serde_json::Map<String, Value> = levels
            .iter()
            .map(|&at| (LEVELS[at].to_owned(), counts[at].into()))
            .collect();
        buckets.push(json!({
            "start_ms": start,
            "lines": levels.iter().map(|&at| counts[at]).sum::<u64>(),
            "levels": chosen,
        }));
        start += step;
    }
    Value::Array(buckets)
}

/// The buckets of an answer without their `time` (checked apart).
fn buckets_of(answer: &Value) -> Value {
    let mut buckets = answer["buckets"].clone();
    for bucket in buckets.as_array_mut().unwrap() {
        bucket.as_object_mut().unwrap().remove("time");
    }
    buckets
}

on_every_backend!(counts_over_time_are_bucketed_zero_filled_and_ranked => counts_over_time_are_bucketed_zero_filled_and_ranked);

fn counts_over_time_are_bucketed_zero_filled_and_ranked(dirs: Dirs) {
    let app = App::spawn(&dirs, &[]);
    let (body, minutes) = lines(3_000, 71);
    let (status, answer) = app.post("/ingest?parser=json", body.as_bytes());
    assert_eq!((status, &answer["invalid"]), (200, &json!(0)), "{answer}");
    let hours = |n: i64| BASE_MS + n * 3_600_000;

    // One service, two levels, 5-minute steps over the three hours.
    let (status, answer) = app.get(&format!(
        "/stats/timeseries?service=orders&level=error&level=WARN&from={}&to={}&step=5m",
        BASE_MS,
        hours(3)
    ));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        buckets_of(&answer),
        expected_buckets(&minutes, Some("orders"), &[4, 3], BASE_MS, hours(3), 5 * MINUTE)
    );
    assert_eq!(answer["buckets"][0]["time"], "2025-01-01T12:00:00Z");
    assert_eq!(answer["levels"], json!(["ERROR", "WARN"]));

    // Every service and level, a day in hours (RFC 3339 bounds): the hours
    // without lines are there, at zero.
    let (status, answer) = app.get("/stats/timeseries?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z&step=1h");
    assert_eq!(status, 200, "{answer}");
    let day = BASE_MS - 12 * 3_600_000;
    let all: Vec<usize> = (0..7).collect();
    assert_eq!(
        buckets_of(&answer),
        expected_buckets(&minutes, None, &all, day, day + 24 * 3_600_000, 3_600_000)
    );
    assert_eq!(answer["buckets"].as_array().unwrap().len(), 24);

    // An unaligned window: the buckets are aligned to the step all the same.
    let from = BASE_MS + 7 * MINUTE + 30_000;
    let (_, answer) = app.get(&format!(
        "/stats/timeseries?service=auth&from={from}&to={}&step=15m",
        hours(1)
    ));
    assert_eq!(answer["from_ms"], BASE_MS);
    assert_eq!(
        buckets_of(&answer),
        expected_buckets(&minutes, Some("auth"), &all, BASE_MS, hours(1), 15 * MINUTE)
    );

    // Top services by errors (ERROR and FATAL) in the second hour.
    let mut errors: Vec<(u64, &str)> = SERVICES
        .iter()
        .map(|service| {
            let n = minutes
                .iter()
                .filter(|((name, minute), _)| name == service && (hours(1)..hours(2)).contains(minute))
                .map(|(_, levels)| levels[4] + levels[5])
                .sum();
            (n, *service)
        })
        .collect();
    errors.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let (status, answer) = app.get(&format!(
        "/stats/top?by=errors&from={}&to={}&limit=2",
        hours(1),
        hours(2)
    ));
    assert_eq!(status, 200, "{answer}");
    let ranked: Vec<(u64, &str)> = answer["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["count"].as_u64().unwrap(), entry["service"].as_str().unwrap()))
        .collect();
    assert_eq!(ranked, errors[..2]);

    // Bad parameters: 400 with a message that names the fault.
    for (query, says) in [
        ("/stats/timeseries?step=7s", "`step` must be whole minutes"),
        ("/stats/timeseries?level=LOUD", "unknown level `LOUD`"),
        ("/stats/timeseries?from=-1h&to=-2h", "must be before `to`"),
        ("/stats/timeseries?from=yesterday", "`from` must be `now`"),
        ("/stats/timeseries?service=a&service=b", "more than once"),
        ("/stats/timeseries?servise=orders", "unknown parameter `servise`"),
        ("/stats/timeseries?component=db", "kept per service"),
        ("/stats/timeseries?from=-30d&step=1m", "at most 10080"),
        ("/stats/top?by=loudest", "`by` must be errors"),
        ("/stats/top?limit=0", "`limit` must be an integer"),
    ] {
        let (status, answer) = app.get(query);
        assert_eq!(status, 400, "{query}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(says), "{query}: {error}");
    }
}

on_every_backend!(minutes_past_the_retention_are_dropped_and_totals_kept => minutes_past_the_retention_are_dropped_and_totals_kept);

fn minutes_past_the_retention_are_dropped_and_totals_kept(dirs: Dirs) {
    let spawn = || {
        let mut command = App::serve_command(&dirs, &["--listen", "127.0.0.1:0"]);
        command.env("LOGPROC_STORAGE__RETENTION", "1d");
        App::start(command)
    };
    let app = spawn();
    // Old lines (2025, far past a day) and lines of ten minutes ago.
    let (old, old_minutes) = lines(500, 72);
    let recent_ms = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64)
        - 10 * MINUTE;
    let recent: String = (0..40)
        .map(|i| {
            format!(
                "{{\"timestamp\":{},\"level\":\"ERROR\",\"service\":\"orders\"}}\n",
                recent_ms + i
            )
        })
        .collect();
    for body in [&old, &recent] {
        assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    }
    let old_window = format!(
        "/stats/timeseries?from={BASE_MS}&to={}&step=1h",
        BASE_MS + 3 * 3_600_000
    );
    let lines_in = |answer: &Value| -> u64 {
        answer["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|bucket| bucket["lines"].as_u64().unwrap())
            .sum()
    };
    let old_total: u64 = old_minutes.values().flatten().sum();
    assert_eq!(lines_in(&app.get(&old_window).1), old_total);
    let stats = app.stats();

    // A start runs a pass: the old minutes go, the recent ones and every
    // total stay.
    assert!(app.terminate().success());
    let app = spawn();
    app.wait_for_log(&["Dropped per-minute counts past storage.retention"]);
    assert_eq!(lines_in(&app.get(&old_window).1), 0);
    let (_, recent_window) = app.get("/stats/timeseries?service=orders&level=ERROR&from=-1h");
    assert_eq!(lines_in(&recent_window), 40);
    assert_eq!(app.stats(), stats);
}

#[test]
fn a_retention_under_an_hour_is_refused_with_the_setting_named() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("retention.yaml");
    std::fs::write(&config, "storage:\n  retention: 5m\n").unwrap();
    let output = crate::helpers::logproc()
        .env_remove("LOGPROC_STORAGE__RETENTION")
        .args(["serve", "--print-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("storage.retention `5m` must be a duration of an hour or more"),
        "{error}"
    );
}
