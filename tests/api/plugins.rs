//! Custom plugins: the example built from source as its README says, checked
//! with `logproc plugin check`, and loaded from the plugin directory.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::{App, Dirs, build_component, logproc};
use crate::truth::{Rng, Truth};

/// The example plugin, built from source as its README says.
fn logfmt_plugin() -> PathBuf {
    static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let to = std::env::temp_dir().join(format!("logproc-test-logfmt-{}-{n}.wasm", std::process::id()));
    build_component("examples/logfmt", "logfmt", &[], &to);
    to
}

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let output = logproc().args(["plugin", "check"]).args(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn plugin_check_shows_how_a_plugin_parses_each_sample_line() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample.logfmt");
    std::fs::write(
        &sample,
        "time=2025-01-01T12:00:00.123Z level=error service=payments component=api msg=\"card declined\" trace_id=4bf9\r\n\
         ts=1735732800000 lvl=WARNING app=orders logger=db message=\"slow \\\"query\\\"\"\n\
         \n\
         just words\n\
         level=info msg=\"unterminated\n",
    )
    .unwrap();
    let plugin = logfmt_plugin();
    let plugin = plugin.to_str().unwrap();
    let (code, stdout, stderr) = check(&[
        plugin,
        "--sample",
        sample.to_str().unwrap(),
        "--set",
        "service=fallback",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("version   0.1.0\ncontract  ok"), "{stdout}");
    assert!(stdout.contains("settings  accepted: service=fallback"), "{stdout}");
    assert!(stdout.contains(": 5 lines: 2 parsed, 2 invalid, 1 skipped"), "{stdout}");
    let outcomes: Vec<&str> = stdout.lines().skip_while(|line| !line.is_empty()).skip(1).collect();
    assert_eq!(
        outcomes,
        [
            "     1  parsed   level=ERROR time=2025-01-01T12:00:00.123Z service=payments component=api",
            "     2  parsed   level=WARN time=2025-01-01T12:00:00.000Z service=orders component=db",
            "     3  skipped",
            "     4  invalid  no key=value pair",
            "     5  invalid  unterminated quoted value at `\"unterminated`",
        ]
    );
}

#[test]
fn plugin_check_takes_a_built_in_plugin_by_name_with_settings() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("pipes.txt");
    std::fs::write(
        &sample,
        "SEVERE|billing|charge failed\nnotice|billing|started\nno pipes here\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&[
        "regex",
        "--sample",
        sample.to_str().unwrap(),
        "--set",
        r"pattern=^(?P<level>\w+)\|(?P<service>\w+)\|",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("plugin    regex (built-in) ("), "{stdout}");
    assert!(stdout.contains(": 3 lines: 2 parsed, 1 invalid, 0 skipped"), "{stdout}");
    let outcomes: Vec<&str> = stdout.lines().skip_while(|line| !line.is_empty()).skip(1).collect();
    assert_eq!(outcomes[0], "     1  parsed   level=ERROR service=billing");
    assert_eq!(outcomes[1], "     2  parsed   level=INFO service=billing");
    assert!(outcomes[2].starts_with("     3  invalid  "), "{}", outcomes[2]);

    // A name that is neither a file nor a built-in says what would do.
    let (code, _, stderr) = check(&["nosuch"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot read nosuch (to check a built-in plugin, name it: json, regex)"),
        "{stderr}"
    );
}

#[test]
fn plugin_check_explains_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let cases = [
        (
            write("random.wasm", b"\x12\xc8 not wasm at all"),
            "not a WebAssembly file",
        ),
        // The header of a core module, as wasm32-unknown-unknown builds make.
        (
            write("core.wasm", b"\0asm\x01\0\0\0"),
            "a core WebAssembly module, not a component",
        ),
        (
            write("cut.wasm", &std::fs::read(logfmt_plugin()).unwrap()[..5_000]),
            "not a valid WebAssembly component",
        ),
        // A component of another world (tests/fixtures/wrong-world).
        (
            {
                let path = dir.path().join("wrong_world.wasm");
                build_component("tests/fixtures/wrong-world", "wrong_world", &[], &path);
                path.to_str().unwrap().to_owned()
            },
            "it does not implement the world `log-parser` of wit/parser.wit",
        ),
    ];
    for (path, expected) in cases {
        let (code, _, stderr) = check(&[&path]);
        assert_eq!(code, Some(1), "{path}");
        assert!(stderr.contains(expected), "{path}: {stderr}");
    }
    let (code, _, stderr) = check(&[logfmt_plugin().to_str().unwrap(), "--set", "colour=blue"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("refused its settings: unknown setting `colour`"),
        "{stderr}"
    );
}

/// `count` logfmt lines in the example plugin's format, tallied in `truth`.
fn logfmt_lines(count: usize, truth: &mut Truth) -> String {
    let mut rng = Rng::new(31);
    let mut text = String::new();
    for i in 0..count {
        let timestamp = 1_735_732_800_000 + i as i64 * 1_700;
        let level = rng.pick(&["INFO", "WARN", "ERROR", "DEBUG"]);
        let service = rng.pick(&["billing", "search"]);
        match rng.below(10) {
            0 => {
                text.push_str("no pairs on this line\n");
                truth.invalid();
            }
            1 => {
                // No service: the route's setting names it.
                text.push_str(&format!("ts={timestamp} level={level} msg=\"from the setting\"\n"));
                truth.parsed("fallback", "unknown", level, timestamp);
            }
            _ => {
                text.push_str(&format!(
                    "ts={timestamp} level={} service={service} component=web msg=\"request {i}\"\n",
                    level.to_lowercase()
                ));
                truth.parsed(service, "web", level, timestamp);
            }
        }
    }
    text
}

#[test]
fn a_plugin_dropped_in_the_plugin_dir_parses_the_files_routed_to_it() {
    let dirs = Dirs::new();
    let plugin_dir = dirs.plugin_dir();
    std::fs::copy(logfmt_plugin(), plugin_dir.join("logfmt.wasm")).unwrap();
    // A broken file next to it is refused and logged; the service runs on.
    std::fs::write(plugin_dir.join("broken.wasm"), b"not a plugin").unwrap();
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "routes:\n  - glob: \"*.logfmt\"\n    parser: logfmt\n    settings:\n      service: fallback\n",
    )
    .unwrap();
    let mut truth = Truth::default();
    let file = dirs.watched("app.logfmt");
    std::fs::write(&file, logfmt_lines(3_000, &mut truth)).unwrap();

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    assert_eq!(app.wait_until_read(&file), truth.stats());

    let (status, plugins) = app.get("/plugins");
    assert_eq!(status, 200);
    // The broken file is refused, with the reason.
    assert_eq!(plugins["refused"][0]["name"], "broken");
    assert!(
        plugins["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );
    let plugins = &plugins["plugins"];
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["json", "logfmt", "regex"]);
    let logfmt = &plugins[1];
    assert_eq!(logfmt["source"], "file");
    assert_eq!(logfmt["version"], "0.1.0");
    assert_eq!(logfmt["path"], plugin_dir.join("logfmt.wasm").to_str().unwrap());
    // sha256sum, not our code, says what the hash is.
    let sha256sum = Command::new("sha256sum")
        .arg(plugin_dir.join("logfmt.wasm"))
        .output()
        .unwrap();
    let expected = String::from_utf8(sha256sum.stdout).unwrap();
    assert_eq!(logfmt["sha256"], expected.split_whitespace().next().unwrap());
    assert_eq!(plugins[0]["source"], "built-in");
}

#[test]
fn a_plugin_built_for_contract_0_2_still_parses() {
    let dirs = Dirs::new();
    build_component(
        "tests/fixtures/contract-0.2",
        "contract_0_2",
        &[],
        &dirs.plugin_dir().join("old.wasm"),
    );
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(&config, "routes:\n  - {glob: \"*.old\", parser: old}\n").unwrap();
    let file = dirs.watched("a.old");
    std::fs::write(&file, "INFO billing\nERROR billing\nnonsense\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let stats = app.wait_until_read(&file);
    assert_eq!(
        (stats["parsed"].as_u64(), stats["invalid"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(stats["services"]["billing"]["levels"]["ERROR"], 1);
    let (_, plugins) = app.get("/plugins");
    let old = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "old")
        .cloned();
    assert_eq!(old.map(|p| p["version"].clone()), Some("0.2.0".into()));
}
