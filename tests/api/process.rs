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
    // Written twice: as two files, and as one (whose name is the service
    // of lines that name none).
    let write = |truth: &mut Truth, stems: [&'static str; 2]| {
        truth.unnamed = Some(stems[0]);
        let json = json_lines(3_000, 10, truth);
        truth.unnamed = Some(stems[1]);
        // The last line has no newline: the file is complete, so it counts.
        let mut text = text_lines(3_000, 11, truth);
        text.push_str("1735732800000 WARN [orders/api] no newline at the end");
        truth.parsed("orders", "api", "WARN", 1_735_732_800_000);
        (json, text)
    };
    let mut truth = Truth::default();
    let (json_body, text_body) = write(&mut truth, ["a", "b"]);
    let json = dir.path().join("a.jsonl");
    let text = dir.path().join("b.log");
    std::fs::write(&json, &json_body).unwrap();
    std::fs::write(&text, &text_body).unwrap();
    let (json, text) = (json.to_str().unwrap(), text.to_str().unwrap());

    assert_eq!(stats_of(&process(&["--format", "json", json, text])), truth.stats());

    // auto sends `{` lines to json and the rest to regex, whatever the file name.
    let mut mixed_truth = Truth::auto();
    write(&mut mixed_truth, ["mixed.data", "mixed.data"]);
    let mixed = dir.path().join("mixed.data");
    std::fs::write(&mixed, [json_body, text_body].concat()).unwrap();
    let output = process(&["--parser", "auto", "--format", "json", mixed.to_str().unwrap()]);
    assert_eq!(stats_of(&output), mixed_truth.stats());
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

#[test]
fn json_edge_cases_follow_the_documented_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edge.jsonl");
    let lines = [
        // A numeric level is on Bunyan's scale (30 INFO); a non-string
        // service and component count as missing.
        r#"{"level":30,"service":["x"],"component":{"a":1},"timestamp":1735732800000}"#,
        // Spelling, empty service, null component, timestamp as a numeric string.
        r#"{"level":"Warning","service":"","component":null,"timestamp":"1735732800000"}"#,
        // Whitespace around the object; a NUL in a name.
        "  {\"level\":\"ERR\",\"service\":\"a\\u0000b\",\"component\":\"api\"}  ",
        // Duplicate field: invalid.
        r#"{"level":"INFO","level":"ERROR"}"#,
        // A timestamp of a type no time has: no timestamp.
        r#"{"timestamp": true, "level": "INFO"}"#,
        // A float timestamp; fatal.
        r#"{"timestamp": 1.5e12, "level": "fatal", "service": "orders", "component": "api"}"#,
        // No fields at all.
        "{}",
        // Not an object.
        "\"just a string\"",
        // Blank lines are skipped, not counted.
        "",
        " \t",
    ];
    let mut body = lines.join("\n").into_bytes();
    // Invalid UTF-8 is invalid; CRLF is a line end.
    body.extend_from_slice(
        b"\n{\"level\":\"\xff\"}\r\n{\"level\":\"debug\",\"service\":\"orders\",\"component\":\"db\"}\r\n",
    );
    std::fs::write(&file, body).unwrap();
    let stats = stats_of(&process(&["--format", "json", file.to_str().unwrap()]));
    let expected = serde_json::json!({
        "lines": 10, "parsed": 7, "invalid": 3,
        "levels": {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 1, "ERROR": 1, "FATAL": 1, "UNKNOWN": 1},
        "services": {
            "a\u{FFFD}b": {"lines": 1, "levels": {"TRACE": 0, "DEBUG": 0, "INFO": 0, "WARN": 0, "ERROR": 1, "FATAL": 0, "UNKNOWN": 0}},
            "orders": {"lines": 2, "levels": {"TRACE": 0, "DEBUG": 1, "INFO": 0, "WARN": 0, "ERROR": 0, "FATAL": 1, "UNKNOWN": 0}},
            // Lines that name no service (or an empty one): the file's name.
            "edge": {"lines": 4, "levels": {"TRACE": 0, "DEBUG": 0, "INFO": 2, "WARN": 1, "ERROR": 0, "FATAL": 0, "UNKNOWN": 1}},
        },
    });
    assert_eq!(stats, expected);
}

#[test]
fn a_route_can_give_the_regex_plugin_its_own_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.yaml");
    std::fs::write(
        &config,
        r#"routes:
  - glob: "*.app"
    parser: regex
    settings:
      pattern: '^(?P<level>\w+) (?P<service>[\w-]+): (?P<message>.*)$'
"#,
    )
    .unwrap();
    let file = dir.path().join("custom.app");
    std::fs::write(
        &file,
        "error billing: disk full\nINFO billing: ok\nWARNING mail-out: slow\nno colon here\n",
    )
    .unwrap();
    let output = process(&[
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    let stats = stats_of(&output);
    assert_eq!((stats["lines"].as_u64(), stats["invalid"].as_u64()), (Some(4), Some(1)));
    assert_eq!(stats["services"]["billing"]["levels"]["ERROR"], 1);
    assert_eq!(stats["services"]["billing"]["levels"]["INFO"], 1);
    assert_eq!(stats["services"]["mail-out"]["levels"]["WARN"], 1);
}

#[test]
fn a_route_can_fix_the_service_and_component_of_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fixed.yaml");
    std::fs::write(
        &config,
        r#"routes:
  - glob: "*.app"
    parser: regex
    service: billing
    component: batch
    settings:
      pattern: '^(?P<level>\w+) (?P<service>[\w-]+): '
  - glob: "*.jsonl"
    parser: json
    service: edge
"#,
    )
    .unwrap();
    let app = dir.path().join("jobs.app");
    std::fs::write(&app, "error mail-out: disk full\nINFO billing: ok\nno match\n").unwrap();
    let json = dir.path().join("edge.jsonl");
    std::fs::write(
        &json,
        "{\"level\":\"WARN\",\"service\":\"gateway\",\"component\":\"tls\"}\n{\"level\":\"INFO\"}\n",
    )
    .unwrap();
    let output = logproc()
        .args(["process", "--format", "json", "--detailed", "--config"])
        .arg(&config)
        .arg(&app)
        .arg(&json)
        .output()
        .unwrap();
    let stats = stats_of(&output);
    assert_eq!((stats["lines"].as_u64(), stats["invalid"].as_u64()), (Some(5), Some(1)));
    let services: Vec<&String> = stats["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["billing", "edge"], "the lines' own services give way");
    let billing = &stats["services"]["billing"];
    let components: Vec<&String> = billing["components"].as_object().unwrap().keys().collect();
    assert_eq!(components, ["batch"]);
    assert_eq!(
        (billing["levels"]["ERROR"].as_u64(), billing["levels"]["INFO"].as_u64()),
        (Some(1), Some(1))
    );
    // Without a fixed component, the line's own stays.
    let edge = &stats["services"]["edge"]["components"];
    assert_eq!(edge["tls"]["levels"]["WARN"], 1);
    assert_eq!(edge["unknown"]["levels"]["INFO"], 1);
}

#[test]
fn bad_routes_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.app");
    std::fs::write(&file, "x\n").unwrap();
    let cases = [
        (
            "parser: regex\n    settings:\n      pattern: '(unclosed'",
            "route `*.app`: parser `regex` refused its settings: invalid pattern",
        ),
        (
            "parser: regex\n    settings:\n      patern: 'x'",
            "unknown setting `patern`",
        ),
        ("parser: nginx", "route `*.app`: unknown parser `nginx`"),
    ];
    for (route, message) in cases {
        let config = dir.path().join("bad.yaml");
        std::fs::write(&config, format!("routes:\n  - glob: \"*.app\"\n    {route}\n")).unwrap();
        let output = process(&["--config", config.to_str().unwrap(), file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "expected `{message}` in: {stderr}");
    }
}

#[test]
fn gzip_files_are_read_decompressed_and_a_cut_one_is_an_error() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut truth = Truth::for_files("a");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(json_lines(2_000, 13, &mut truth).as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    // Routed as a.jsonl would be.
    let file = dir.path().join("a.jsonl.gz");
    std::fs::write(&file, &compressed).unwrap();
    assert_eq!(
        stats_of(&process(&["--format", "json", file.to_str().unwrap()])),
        truth.stats()
    );

    let cut = dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &compressed[..compressed.len() / 2]).unwrap();
    let output = process(&[cut.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cut.jsonl.gz") && stderr.contains("ends in the middle of the gzip data"),
        "{stderr}"
    );
}

/// `logproc process` with `args` under a pseudo-terminal (util-linux's
/// `script`), as a person at a terminal runs it: all it wrote.
fn process_on_a_terminal(args: &str) -> String {
    let binary = env!("CARGO_BIN_EXE_logproc");
    // The environment `logproc()` gives, through `script`.
    let scratch = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let output = std::process::Command::new("script")
        .args(["-qfec", &format!("{binary} process {args}"), "/dev/null"])
        .env("COLUMNS", "120")
        .env("LOGPROC_PLUGINS__DIR", scratch.join("no-plugins"))
        .env("LOGPROC_PLUGINS__CACHE_DIR", scratch.join("compile-cache"))
        .output()
        .expect("run script (util-linux)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_terminal_shows_progress_and_a_pipe_or_quiet_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let mut truth = Truth::default();
    std::fs::write(&file, json_lines(100_000, 12, &mut truth)).unwrap();
    let path = file.to_str().unwrap();
    let shown = process_on_a_terminal(&format!("--parser json {path}"));
    for part in ["ETA", "lines/s", "MiB"] {
        assert!(shown.contains(part), "no `{part}` in {shown:?}");
    }
    // The statistics follow, as without a terminal.
    assert!(shown.contains("(all)"), "{shown}");
    let quiet = process_on_a_terminal(&format!("--quiet --parser json {path}"));
    assert!(!quiet.contains("lines/s"), "{quiet}");
    let piped = process(&["--parser", "json", path]);
    assert!(piped.status.success());
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("lines/s"));
}
