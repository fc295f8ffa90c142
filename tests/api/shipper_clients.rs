//! Real shipper libraries from the registries send to logproc: the
//! OpenTelemetry SDKs for Python (OTLP/HTTP protobuf) and JavaScript
//! (OTLP/HTTP JSON), winston-loki (Loki protobuf + snappy) and
//! python-logging-loki (Loki JSON). `tests/clients/install.sh` installs
//! them, pinned, into the target dir; where they cannot be installed the
//! tests are skipped loudly, unless `REQUIRE_CLIENT_TESTS` is set (CI).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::helpers::{App, Dirs};
use crate::truth::{LEVELS, Truth};

/// Where the clients are installed; `None` (after a loud message) when they
/// cannot be and no one requires them.
pub(crate) fn clients() -> Option<&'static Path> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/install.sh");
        let why = match Command::new("bash").arg(&script).arg(&dir).output() {
            Ok(output) if output.status.success() => return Some(dir),
            Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
            Err(error) => error.to_string(),
        };
        let message = format!(
            "the shipper clients could not be installed ({}): it needs python3 with venv, node with npm, \
             and the PyPI and npm registries; {why}",
            script.display()
        );
        assert!(std::env::var_os("REQUIRE_CLIENT_TESTS").is_none(), "{message}");
        eprintln!("SKIPPED: {message}");
        None
    });
    installed.as_deref()
}

/// Runs `script` (in `tests/clients`) with `plan` as its argument, by the
/// interpreter of the installed clients; fails the test if it fails.
pub(crate) fn run_client(clients: &Path, script: &str, plan: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(script);
    let mut command = match script.ends_with(".py") {
        true => Command::new(clients.join("venv/bin/python")),
        false => Command::new("node"),
    };
    // Node resolves an ES module's imports from the module's directory up
    // (NODE_PATH does not apply): the script runs from a copy beside
    // node_modules.
    let path = match script.ends_with(".mjs") {
        true => {
            let copy = clients.join("node").join(script);
            std::fs::copy(&path, &copy).unwrap();
            copy
        }
        false => path,
    };
    let output = command.arg(&path).arg(plan.to_string()).output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Python logging's levels, and the level each counts as (by the severity
/// numbers the SDK gives them: 5, 9, 13, 17, 21).
const PYTHON_LEVELS: [(&str, &str); 5] = [
    ("DEBUG", "DEBUG"),
    ("INFO", "INFO"),
    ("WARNING", "WARN"),
    ("ERROR", "ERROR"),
    ("CRITICAL", "FATAL"),
];

#[test]
fn the_opentelemetry_python_sdk_sends_protobuf_counted_exactly() {
    let Some(clients) = clients() else { return };
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let endpoint = format!("http://{}/v1/logs", app.addr);
    let mut truth = Truth::default();
    for (service, gzip) in [("orders", true), ("payments", false)] {
        let mut steps = Vec::new();
        for (at, (python, level)) in PYTHON_LEVELS.iter().enumerate() {
            for (logger, count) in [("api", 300 + 37 * at), ("db.pool", 11 + at)] {
                steps.push(json!({ "logger": logger, "level": python, "count": count }));
                for _ in 0..count {
                    truth.parsed_untimed(service, logger, level);
                }
            }
        }
        // The logs API: a severity text alone; a body alone, a JSON line
        // the plugin reads (the resource's service wins over the line's).
        steps.push(json!({ "logger": "raw", "severity_text": "Warning", "count": 40 }));
        steps.push(json!({ "logger": "raw", "body": r#"{"level":"error","service":"other"}"#, "count": 25 }));
        steps.push(json!({ "logger": "raw", "body": "{\"level\": broken", "count": 3 }));
        for _ in 0..40 {
            truth.parsed_untimed(service, "raw", "WARN");
        }
        for _ in 0..25 {
            truth.parsed_untimed(service, "raw", "ERROR");
        }
        for _ in 0..3 {
            truth.invalid();
        }
        let plan = json!({ "endpoint": endpoint, "service": service, "gzip": gzip, "steps": steps });
        run_client(clients, "otel_sdk.py", &plan);
    }
    assert_eq!(app.stats(), truth.stats());
}

#[test]
fn the_opentelemetry_javascript_sdk_sends_json_counted_exactly() {
    let Some(clients) = clients() else { return };
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let endpoint = format!("http://{}/v1/logs", app.addr);
    let mut truth = Truth::default();
    for (service, gzip) in [("checkout", false), ("search", true)] {
        let mut steps = Vec::new();
        // Every severity number, a different count each.
        for number in 1..=24usize {
            let count = 10 + number * 7;
            steps.push(json!({ "logger": "http", "severity_number": number, "count": count }));
            for _ in 0..count {
                truth.parsed_untimed(service, "http", LEVELS[(number - 1) / 4]);
            }
        }
        steps.push(json!({ "logger": "jobs", "severity_text": "ERROR", "count": 50 }));
        steps.push(json!({ "logger": "jobs", "body": r#"{"level":"warn","msg":"slow"}"#, "count": 30 }));
        for _ in 0..50 {
            truth.parsed_untimed(service, "jobs", "ERROR");
        }
        for _ in 0..30 {
            truth.parsed_untimed(service, "jobs", "WARN");
        }
        let plan = json!({ "endpoint": endpoint, "service": service, "gzip": gzip, "steps": steps });
        run_client(clients, "otel_sdk.mjs", &plan);
    }
    assert_eq!(app.stats(), truth.stats());
}

#[test]
fn loki_clients_send_protobuf_and_json_counted_exactly() {
    let Some(clients) = clients() else { return };
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::default();

    // winston's levels as `level` labels; `http` names no level, so the
    // line decides: `line 3`, no level word, is UNKNOWN.
    let winston = [
        ("error", "ERROR"),
        ("warn", "WARN"),
        ("info", "INFO"),
        ("http", "UNKNOWN"),
        ("verbose", "TRACE"),
        ("debug", "DEBUG"),
    ];
    let mut steps = Vec::new();
    for (at, (level, counted)) in winston.iter().enumerate() {
        for (component, count) in [("web", 200 + 13 * at), ("queue", 7 + at)] {
            steps.push(json!({ "level": level, "component": component, "count": count }));
            for _ in 0..count {
                truth.parsed_untimed("storefront", component, counted);
            }
        }
    }
    let host = format!("http://{}", app.addr);
    run_client(
        clients,
        "loki_winston.mjs",
        &json!({ "host": host, "service": "storefront", "steps": steps }),
    );

    // python-logging-loki: one JSON push per record, the level as a
    // `severity` label.
    let mut steps = Vec::new();
    for (at, (python, level)) in PYTHON_LEVELS.iter().enumerate() {
        let count = 20 + 5 * at;
        steps.push(json!({ "level": python, "component": "billing", "count": count }));
        for _ in 0..count {
            truth.parsed_untimed("ledger", "billing", level);
        }
    }
    let url = format!("http://{}/loki/api/v1/push", app.addr);
    run_client(
        clients,
        "loki_logging.py",
        &json!({ "url": url, "service": "ledger", "steps": steps }),
    );
    assert_eq!(app.stats(), truth.stats());
}
