//! A hostile plugin (tests/fixtures/hostile, built from source) loops, eats
//! memory, panics and breaks the contract (outcome counts, name indexes):
//! only the lines it fails on are counted invalid, every other line is
//! counted, and the service stays up.

use crate::helpers::{App, Dirs, build_component};
use crate::truth::{Truth, json_lines};

/// `before` good lines, `bad`, `after` good lines, tallied in `truth`.
fn hostile_file(bad: &str, before: usize, after: usize, truth: &mut Truth) -> String {
    let mut text = String::new();
    let levels = ["INFO", "WARN", "ERROR"];
    for i in 0..before + after {
        if i == before {
            text.push_str(bad);
            text.push('\n');
            truth.invalid();
        }
        let level = levels[i % levels.len()];
        text.push_str(&format!("{level} inventory worker\n"));
        truth.parsed("inventory", "worker", level, 1_735_732_800_000);
    }
    text
}

#[test]
fn a_hostile_plugin_costs_only_the_lines_it_fails_on() {
    let dirs = Dirs::new();
    let plugin_dir = dirs.plugin_dir();
    build_component(
        "tests/fixtures/hostile",
        "hostile",
        &[],
        &plugin_dir.join("hostile.wasm"),
    );
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "plugins:\n  call_timeout_ms: 200\n  memory_limit_mib: 16\nroutes:\n  \
             - {glob: \"*.hostile\", parser: hostile}\n  - {glob: \"*.jsonl\", parser: json}\n",
    )
    .unwrap();
    // One misbehaviour per file: each file is one batch with one bad line.
    let mut truth = Truth::default();
    let mut files = Vec::new();
    for bad in ["LOOP", "BOMB", "PANIC", "EXTRA", "BADNAME"] {
        let file = dirs.watched(&format!("{}.hostile", bad.to_lowercase()));
        std::fs::write(&file, hostile_file(bad, 20, 60, &mut truth)).unwrap();
        files.push(file);
    }
    // Another plugin's lines meanwhile.
    let json = dirs.watched("other.jsonl");
    truth.unnamed = Some("other");
    std::fs::write(&json, json_lines(500, 5, &mut truth)).unwrap();
    files.push(json);

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    for file in &files {
        app.wait_until_read(file);
    }
    assert_eq!(app.stats(), truth.stats());

    // Each bad line failed twice: in its batch, then alone.
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["version"], "6.6.6");
    assert_eq!(
        hostile["counters"],
        serde_json::json!({
            "batches": 5, "lines_parsed": 400, "lines_invalid": 5,
            "traps": 4, "timeouts": 2, "wrong_outcome_counts": 4,
        })
    );
    assert_eq!(hostile["degraded"], true, "every batch failed");

    // A clean batch: no longer degraded.
    let clean = dirs.watched("clean.hostile");
    std::fs::write(&clean, hostile_file("", 10, 0, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&clean), truth.stats());
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["degraded"], false);
    assert_eq!(hostile["counters"]["batches"], 6);
}

/// `name`'s entry in `/plugins`.
pub fn plugin(app: &App, name: &str) -> serde_json::Value {
    let (_, plugins) = app.get("/plugins");
    let found = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|plugin| plugin["name"] == name);
    found.unwrap_or_else(|| panic!("no plugin {name} in {plugins}")).clone()
}
