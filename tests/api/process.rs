//! `logproc process`: the pipeline once over files, no server.

use std::process::Output;

use serde_json::Value;

use crate::helpers::logproc;
use crate::truth::{Truth, json_lines, text_lines};

fn process(args: &[&str]) -> Output {
    logproc()
        .arg("process")
        .args(args)
        .output()
        .expect("run logproc process")
}

fn stats_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn counts_json_and_text_files_by_route_and_with_auto() {
    let dir = tempfile::tempdir().unwrap();
    let mut truth = Truth::default();
    let json = dir.path().join("a.jsonl");
    let text = dir.path().join("b.log");
    std::fs::write(&json, json_lines(3_000, 10, &mut truth)).unwrap();
    // The last line has no newline: the file is complete, so it counts.
    let mut text_body = text_lines(3_000, 11, &mut truth);
    text_body.push_str("1735732800000 WARN [orders/api] no newline at the end");
    truth.parsed("orders", "api", "WARN", 1_735_732_800_000);
    std::fs::write(&text, text_body).unwrap();
    let (json, text) = (json.to_str().unwrap(), text.to_str().unwrap());

    assert_eq!(stats_of(&process(&["--format", "json", json, text])), truth.stats());

    // auto sends `{` lines to json and the rest to regex, whatever the file name.
    let mixed = dir.path().join("mixed.data");
    std::fs::write(
        &mixed,
        [std::fs::read(json).unwrap(), std::fs::read(text).unwrap()].concat(),
    )
    .unwrap();
    let output = process(&["--parser", "auto", "--format", "json", mixed.to_str().unwrap()]);
    assert_eq!(stats_of(&output), truth.stats());
}

#[test]
fn a_forced_parser_counts_other_formats_as_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("text.log");
    let mut truth = Truth::default();
    std::fs::write(&file, text_lines(500, 12, &mut truth)).unwrap();
    let stats = stats_of(&process(&[
        "--parser",
        "json",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]));
    // Every non-blank text line is not JSON.
    assert_eq!(stats["invalid"], truth.lines());
    assert_eq!(stats["parsed"], 0);
}

#[test]
fn table_format_lists_services() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.jsonl");
    std::fs::write(
        &file,
        "{\"level\":\"error\",\"service\":\"orders\",\"component\":\"api\"}\nnot json\n",
    )
    .unwrap();
    let output = process(&[file.to_str().unwrap()]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("lines    2\nparsed   1\ninvalid  1\n"), "{table}");
    let orders = table
        .lines()
        .find(|line| line.starts_with("orders"))
        .expect("a row for orders");
    let columns: Vec<&str> = orders.split_whitespace().collect();
    // SERVICE LINES TRACE DEBUG INFO WARN ERROR FATAL UNKNOWN
    assert_eq!(columns, ["orders", "1", "0", "0", "0", "0", "1", "0", "0"]);
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = process(&["/no/such/file.log"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read /no/such/file.log") && stderr.contains("No such file"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unknown_parser_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.log");
    std::fs::write(&file, "x\n").unwrap();
    let output = process(&["--parser", "yaml", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown parser `yaml` (known: json, regex, auto)"),
        "{stderr}"
    );
}
