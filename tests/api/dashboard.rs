//! The dashboard (`GET /`) in a real browser: headless Chromium driven by
//! playwright-core (`tests/clients/dashboard.mjs`), its numbers checked
//! against the API and against counts tallied here, a screenshot saved to
//! the target dir.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::json;

use crate::helpers::{App, Dirs, debian_tool};
use crate::shipper_clients::{clients, run_client};
use crate::truth::Rng;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, from Debian's package (installed when missing).
fn chromium() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| debian_tool("chromium", "REQUIRE_BROWSER", || Path::new(CHROMIUM).exists()))
}

#[test]
fn the_dashboard_shows_what_the_api_counts_and_updates_live() {
    let Some(clients) = clients() else { return };
    if !chromium() {
        return;
    }
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut rng = Rng::new(91);
    let (mut body, mut lines) = (String::new(), 0u64);
    let (mut hour, mut quarter) = ([0u64; 3], [0u64; 3]);
    let mut errors_by_service = [0u64; 3];
    let mut components_of = [
        std::collections::BTreeSet::new(),
        Default::default(),
        Default::default(),
    ];
    let services = ["checkout", "search", "billing"];
    for i in 0..1_200 {
        // `checkout` gets more errors than any other.
        let service = match i % 4 {
            0 | 1 => 0,
            n => n - 1,
        };
        let component = ["api", "db", "cache"][rng.below(3)];
        let level = match (service, rng.below(10)) {
            (0, 0..=3) | (_, 0) => "ERROR",
            (_, 1 | 2) => "WARN",
            (_, 3) => "DEBUG",
            _ => "INFO",
        };
        // Recent lines 2 to 10 minutes ago, older ones 20 to 40: clear of
        // the windows' edges however long the page takes.
        let recent = rng.below(2) == 0;
        let ago_ms = match recent {
            true => 120_000 + rng.below(480_000),
            false => 1_200_000 + rng.below(1_200_000),
        } as i64;
        let line = json!({ "timestamp": now_ms - ago_ms, "level": level, "service": services[service], "component": component });
        body.push_str(&line.to_string());
        body.push('\n');
        lines += 1;
        components_of[service].insert(component);
        let at = match level {
            "ERROR" => Some(0),
            "WARN" => Some(1),
            "INFO" => Some(2),
            _ => None,
        };
        if let Some(at) = at {
            hour[at] += 1;
            if recent {
                quarter[at] += 1;
            }
        }
        if level == "ERROR" {
            errors_by_service[service] += 1;
        }
    }
    // Lines no parser reads count too.
    body.push_str("{\"level\": broken\nnot json\n");
    lines += 2;
    assert_eq!(app.post("/ingest?parser=json", body.as_bytes()).0, 200);
    assert!(errors_by_service[0] > errors_by_service[1].max(errors_by_service[2]));

    let more: String = (0..25)
        .map(|i| {
            format!(
                "{{\"timestamp\":{},\"level\":\"INFO\",\"service\":\"search\"}}\n",
                now_ms - 60_000 + i
            )
        })
        .collect();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    // Not the last run's.
    let _ = std::fs::remove_file(&screenshot);
    let counts = |[errors, warnings, info]: [u64; 3]| json!({ "errors": errors, "warnings": warnings, "info": info });
    let plan = json!({
        "url": format!("http://{}", app.addr),
        "screenshot": screenshot,
        "truth": {
            "lines": lines,
            "hour": counts(hour),
            "quarter": counts(quarter),
            "top": "checkout",
            "components_of_top": components_of[0].iter().collect::<Vec<_>>(),
        },
        "more": { "body": more, "lines": 25 },
    });
    run_client(clients, "dashboard.mjs", &plan);
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a screenshot of the page"
    );
    eprintln!("The dashboard's screenshot: {}", screenshot.display());
}
