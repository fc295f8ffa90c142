//! A hostile plugin (tests/fixtures/hostile, built from source) loops, eats
//! memory, panics, sleeps, exits and asks for too much through WASI, and
//! breaks the contract (outcome counts, name indexes, names and formats);
//! plugins written in the text format (wat_plugin.rs) grow memories and
//! tables and hold host memory in globals and imports:
//! only the lines they fail on are counted invalid, every other line is
//! counted, the service stays up and within its memory.

use crate::helpers::{App, Dirs, build_component, peak_resident_kb, wait_for};
use crate::truth::{Truth, json_lines};
use crate::wat_plugin::wat_plugin;

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
    let bads = [
        "LOOP", "BOMB", "PANIC", "EXTRA", "BADNAME", "SLEEP", "RANDOM", "HANDLES", "EXIT", "RECURSE",
    ];
    for bad in bads {
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

    // Each bad line failed three times: in its batch, alone on the
    // instance that had parsed the lines before it, alone on a fresh one.
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["version"], "6.6.6");
    assert_eq!(
        hostile["counters"],
        serde_json::json!({
            "batches": 10, "lines_parsed": 800, "lines_invalid": 10,
            "traps": 21, "timeouts": 3, "wrong_outcome_counts": 6,
        })
    );
    assert_eq!(hostile["degraded"], true, "every batch failed");

    // A clean batch: no longer degraded.
    let clean = dirs.watched("clean.hostile");
    std::fs::write(&clean, hostile_file("", 10, 0, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&clean), truth.stats());
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["degraded"], false);
    assert_eq!(hostile["counters"]["batches"], 11);
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

/// The reasons of the plugins refused, by name, once there are `count`;
/// the service must answer `/healthz` meanwhile.
fn refusals(app: &App, count: usize) -> std::collections::BTreeMap<String, String> {
    wait_for(&format!("{count} plugins refused"), || {
        assert_eq!(app.get("/healthz").0, 200);
        let (_, plugins) = app.get("/plugins");
        let refused = plugins["refused"].as_array().unwrap();
        let reasons = refused.iter().map(|entry| {
            let reason = entry["reason"].as_str().unwrap().to_owned();
            (entry["name"].as_str().unwrap().to_owned(), reason)
        });
        (refused.len() == count).then(|| reasons.collect())
    })
}

/// Routes `*.hostile` to the hostile plugin, `*.jsonl` to json.
const ROUTES: &str = "routes:\n  - {glob: \"*.hostile\", parser: hostile}\n  - {glob: \"*.jsonl\", parser: json}\n";

/// The hostile plugin, built with `env`, as `hostile.wasm` in a new plugin
/// dir, and a config file of `config`.
fn hostile_setup(env: &[(&str, &str)], config: &str) -> (Dirs, std::path::PathBuf) {
    let dirs = Dirs::new();
    build_component(
        "tests/fixtures/hostile",
        "hostile",
        env,
        &dirs.plugin_dir().join("hostile.wasm"),
    );
    let path = dirs.root.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    (dirs, path)
}

#[test]
fn what_a_plugin_keeps_between_calls_costs_no_line_and_overlong_names_are_invalid() {
    // Each LEAK line keeps 1 MiB: a 40-line batch traps at the 16 MiB cap,
    // and so does every instance some lines later.
    let (dirs, config) = hostile_setup(&[], &format!("plugins:\n  memory_limit_mib: 16\n{ROUTES}"));
    let mut truth = Truth::default();
    let mut text = String::new();
    for i in 0..40 {
        text.push_str("LEAK\n");
        truth.parsed("leak", "leak", "INFO", 1_735_732_800_000);
        if i == 20 {
            text.push_str("LONGNAME\n");
            truth.invalid();
        }
    }
    let file = dirs.watched("leak.hostile");
    std::fs::write(&file, text).unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    assert_eq!(app.wait_until_read(&file), truth.stats());
    assert!(plugin(&app, "hostile")["counters"]["traps"].as_u64().unwrap() >= 2);
}

#[test]
fn a_batch_gets_a_bounded_time_then_its_other_lines_are_invalid_and_the_plugin_degraded() {
    let (dirs, config) = hostile_setup(
        &[],
        &format!("plugins:\n  call_timeout_ms: 100\n  batch_timeout_ms: 500\n{ROUTES}"),
    );
    // 20 loops of 100 ms each alone: the batch's 500 ms end among them, and
    // the good lines after them are cut off too.
    let mut truth = Truth::default();
    let mut text = "LOOP\n".repeat(20);
    for _ in 0..20 {
        truth.invalid();
    }
    for _ in 0..10 {
        text.push_str("INFO inventory worker\n");
        truth.invalid();
    }
    let file = dirs.watched("loops.hostile");
    std::fs::write(&file, text).unwrap();
    let json = dirs.watched("other.jsonl");
    truth.unnamed = Some("other");
    std::fs::write(&json, json_lines(300, 3, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    app.wait_until_read(&file);
    assert_eq!(app.wait_until_read(&json), truth.stats());
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["degraded"], true);
    let timeouts = hostile["counters"]["timeouts"].as_u64().unwrap();
    assert!(
        (2..=10).contains(&timeouts),
        "{timeouts} calls of 100 ms in a 500 ms budget"
    );
    app.wait_for_log(&["batch_timeout_ms", "remaining lines are counted invalid"]);
}

#[test]
fn a_plugin_whose_configure_panics_fails_its_requests_only() {
    // Its `configure` panics (writing to stderr through WASI on the way).
    // No route may name it: the service would not start.
    let (dirs, config) = hostile_setup(&[("FIXTURE_CONFIGURE", "panic")], "plugins:\n  call_timeout_ms: 500\n");
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    for _ in 0..3 {
        let (status, body) = app.post("/ingest?parser=hostile", b"INFO a b\n");
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains("unreachable"), "{body}");
        // The lock the choice was made under is not poisoned.
        let (status, body) = app.post("/ingest?parser=json", b"{\"level\":\"INFO\",\"service\":\"s\"}\n");
        assert_eq!((status, &body["accepted"]), (200, &serde_json::json!(1)), "{body}");
    }
    assert_eq!(app.get("/healthz").0, 200);
}

#[test]
fn hostile_describes_are_refused_with_a_reason_and_the_service_answers_meanwhile() {
    let dirs = Dirs::new();
    let plugin_dir = dirs.plugin_dir();
    std::fs::create_dir_all(&plugin_dir).unwrap();
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "plugins:\n  call_timeout_ms: 300\n  max_upload_bytes: 4000000\n",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let expected = [
        ("loop", "ran past its time limit"),
        ("panic", "unreachable"),
        ("sleep", "tried to wait"),
        ("long-version", "a version of 10485760 bytes"),
    ];
    for (misbehaviour, _) in expected {
        let to = plugin_dir.join(format!("{misbehaviour}.wasm"));
        build_component(
            "tests/fixtures/hostile",
            "hostile",
            &[("FIXTURE_DESCRIBE", misbehaviour)],
            &to,
        );
    }
    std::fs::write(plugin_dir.join("huge.wasm"), vec![0u8; 4_000_001]).unwrap();
    // A file name no route could name, with a line break to forge log lines.
    std::fs::copy(plugin_dir.join("loop.wasm"), plugin_dir.join("bad\nname.wasm")).unwrap();
    let refused = refusals(&app, 6);
    let reason = |name: &str| refused[name].clone();
    for (misbehaviour, why) in expected {
        let reason = reason(misbehaviour);
        assert!(reason.contains(why), "{misbehaviour}: {reason}");
        assert!(
            reason.len() < 1000 && !reason.contains('\n'),
            "{misbehaviour}: {reason}"
        );
    }
    assert!(
        reason("huge").contains("larger than plugins.max_upload_bytes"),
        "{}",
        reason("huge")
    );
    assert!(
        reason("bad\nname").contains("`bad\\nname` is not a plugin name"),
        "{}",
        reason("bad\nname")
    );
    // `plugin check` says the same, and exits 1.
    for (misbehaviour, why) in expected {
        let output = crate::helpers::logproc()
            .args(["plugin", "check"])
            .arg(plugin_dir.join(format!("{misbehaviour}.wasm")))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{misbehaviour}: {stderr}");
        assert!(
            stderr.contains(why) && !stderr.contains("panicked"),
            "{misbehaviour}: {stderr}"
        );
    }
}

#[test]
fn sigterm_ends_the_service_in_time_while_a_plugin_loops() {
    // One line a batch and a queue of one: the file's reader waits on the
    // full queue too.
    let (dirs, config) = hostile_setup(
        &[],
        &format!(
            "server:\n  shutdown_timeout_ms: 1000\npipeline:\n  batch_lines: 1\n  queue_batches: 1\n  workers: 1\n\
             plugins:\n  call_timeout_ms: 1000\n  batch_timeout_ms: 600000\n{ROUTES}"
        ),
    );
    // 100 loops: about 100 s of calls.
    let file = dirs.watched("loops.hostile");
    std::fs::write(&file, "LOOP\n".repeat(100)).unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    app.wait_for_log(&["Plugin failed on a batch"]);
    let started = std::time::Instant::now();
    let status = app.terminate();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "SIGTERM took {took:?}");
    assert!(!status.success(), "the shutdown did not finish in time: {status}");
}

#[test]
fn a_plugin_that_takes_too_long_to_compile_is_refused() {
    // No route names it: it is refused, not a reason not to start.
    let (dirs, config) = hostile_setup(&[], "plugins:\n  compile_timeout_ms: 1\n  compile_cache: false\n");
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let reason = &refusals(&app, 1)["hostile"];
    assert!(
        reason.contains("longer than plugins.compile_timeout_ms (1 ms)"),
        "{reason}"
    );
    // The built-in plugins are not held to it.
    let (status, body) = app.post("/ingest?parser=json", b"{\"level\":\"INFO\",\"service\":\"s\"}\n");
    assert_eq!((status, &body["accepted"]), (200, &serde_json::json!(1)), "{body}");
}

/// A component whose one core function is `body` (a function of no
/// parameters returning an i32, with no locals), written out in binary.
fn component_of_one_function(body: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                return out.push(byte);
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(content.len(), out);
        out.extend_from_slice(content);
    }
    let mut code = vec![1]; // one body: its size, no locals, the body
    leb(body.len() + 1, &mut code);
    code.push(0);
    code.extend_from_slice(body);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 1, 0x7f], &mut module); // type () -> i32
    section(3, &[1, 0], &mut module); // one function of that type
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component); // a core module
    component
}

/// The processes `pid` has started and not yet reaped.
fn children(pid: u32) -> String {
    let mut children = String::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        children += &std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
    }
    children
}

#[test]
fn components_made_to_exhaust_the_compiler_are_refused_at_no_cost_to_the_service() {
    // One function of 2 MB of arithmetic: Cranelift needs about 400 MB for
    // it (190 MB measured for 750 KB). 200,000 nested blocks: minutes. The
    // time limit leaves the first room to reach its memory limit on a busy
    // machine (at 3 s it sometimes did not).
    let mut arithmetic = vec![0x41, 1]; // i32.const 1
    for _ in 0..700_000 {
        arithmetic.extend([0x41, 3, 0x6c]); // i32.const 3, i32.mul
    }
    arithmetic.push(0x0b);
    let mut nested = [0x02, 0x40].repeat(200_000); // block
    nested.extend(std::iter::repeat_n(0x0b, 200_000)); // end
    nested.extend([0x41, 0, 0x0b]);

    let dirs = Dirs::new();
    let plugin_dir = dirs.plugin_dir();
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::fs::write(plugin_dir.join("big.wasm"), component_of_one_function(&arithmetic)).unwrap();
    std::fs::write(plugin_dir.join("nested.wasm"), component_of_one_function(&nested)).unwrap();
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "plugins:\n  compile_timeout_ms: 10000\n  compile_memory_mib: 128\n  compile_cache: false\n",
    )
    .unwrap();
    let mut truth = Truth::default();
    let json = dirs.watched("good.jsonl");
    truth.unnamed = Some("good");
    std::fs::write(&json, json_lines(2000, 5, &mut truth)).unwrap();

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    assert_eq!(app.wait_until_read(&json), truth.stats());
    let refused = refusals(&app, 2);
    let reason = |name: &str| refused[name].clone();
    assert!(
        reason("big").contains("needed more than plugins.compile_memory_mib (128 MiB)"),
        "{}",
        reason("big")
    );
    assert!(
        reason("nested").contains("longer than plugins.compile_timeout_ms (10000 ms)"),
        "{}",
        reason("nested")
    );
    // The compiler that ran out of time is gone, and neither one's memory
    // was the service's.
    wait_for("no compiler left", || {
        children(app.pid()).trim().is_empty().then_some(())
    });
    let peak_kb = peak_resident_kb(app.pid());
    assert!(peak_kb < 200_000, "the service peaked at {peak_kb} kB");
    assert_eq!(app.stats(), truth.stats());

    // `plugin check` says the same, and exits 1.
    let output = crate::helpers::logproc()
        .args(["plugin", "check"])
        .arg(plugin_dir.join("big.wasm"))
        .env("LOGPROC_PLUGINS__COMPILE_MEMORY_MIB", "128")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needed more than plugins.compile_memory_mib"),
        "{stderr}"
    );
}

#[test]
fn plugins_made_to_hoard_memory_cost_the_service_a_bounded_amount_and_no_good_line() {
    let routes = ["hostile", "memories", "tables", "names", "json"]
        .map(|parser| format!("  - {{glob: \"*.{parser}\", parser: {parser}}}\n"))
        .concat();
    let (dirs, config) = hostile_setup(
        &[],
        &format!(
            "plugins:\n  memory_limit_mib: 64\n  upload_token: s3cret\n  max_upload_bytes: 40000000\nroutes:\n{routes}"
        ),
    );
    let plugin_dir = dirs.plugin_dir();
    // Grows two more memories by 32.5 MiB each and writes all of them:
    // each fits a cap per memory, together they pass the 64 MiB cap.
    let hoard = |memory: &str| {
        format!(
            "(drop (memory.grow {memory} (i32.const 520)))
             (memory.fill {memory} (i32.const 0) (i32.const 1) (i32.shl (memory.size {memory}) (i32.const 16)))"
        )
    };
    let memories = wat_plugin(
        "(memory $hoard 0) (memory $more 0)",
        &(hoard("$hoard") + &hoard("$more")),
        "",
    );
    std::fs::write(plugin_dir.join("memories.wasm"), memories).unwrap();
    let tables = wat_plugin(
        "(table $hoard 0 funcref)",
        "(drop (table.grow $hoard (ref.null func) (i32.const 2000000)))",
        "",
    );
    std::fs::write(plugin_dir.join("tables.wasm"), tables).unwrap();
    // Returns 3M empty names (24 MiB in its memory, 72 MiB as host strings).
    let names = wat_plugin(
        "",
        "(drop (memory.grow (i32.const 400)))
         (i32.store (i32.const 128) (i32.const 65536))
         (i32.store (i32.const 132) (i32.const 3000000))
         (i32.store (i32.const 136) (i32.const 0))
         (i32.store (i32.const 140) (i32.const 0))
         (return (i32.const 128))",
        "",
    );
    std::fs::write(plugin_dir.join("names.wasm"), names).unwrap();
    // Refused before they run: 15 instances of 100,000 globals, 20,000
    // imports, three memories of 25 MiB.
    let globals: String = (0..100_000).map(|_| "(global i32 (i32.const 0))").collect();
    let instances = "(core instance (instantiate $globals))".repeat(15);
    let globals = wat_plugin("", "", &format!("(core module $globals {globals}) {instances}"));
    let imports: String = (0..20_000).map(|_| "(import \"one\" \"f\" (func))").collect();
    let imports = wat_plugin(
        "",
        "",
        &format!(
            "(core module $one (func (export \"f\"))) (core instance $one (instantiate $one))
             (core module $imports {imports}) (core instance (instantiate $imports (with \"one\" (instance $one))))"
        ),
    );
    let many_memories: String = (0..3)
        .map(|i| format!("(core module $memory{i} (memory 400)) (core instance (instantiate $memory{i}))"))
        .collect();
    let many_memories = wat_plugin("", "", &many_memories);
    // Its start function never returns.
    let spin = wat_plugin("(func $spin (loop $spin (br $spin))) (start $spin)", "", "");
    std::fs::write(plugin_dir.join("spin.wasm"), spin).unwrap();
    std::fs::write(plugin_dir.join("globals.wasm"), &globals).unwrap();
    std::fs::write(plugin_dir.join("imports.wasm"), &imports).unwrap();
    std::fs::write(plugin_dir.join("instances.wasm"), &many_memories).unwrap();

    let mut truth = Truth::default();
    let mut bombs = String::new();
    for _ in 0..5 {
        bombs += &hostile_file("BOMB", 10, 10, &mut truth);
    }
    let bomb_file = dirs.watched("bombs.hostile");
    std::fs::write(&bomb_file, bombs).unwrap();
    let mut hoarding = Vec::new();
    for parser in ["memories", "tables", "names"] {
        let file = dirs.watched(&format!("lines.{parser}"));
        std::fs::write(&file, "a line\n".repeat(50)).unwrap();
        (0..50).for_each(|_| truth.invalid());
        hoarding.push(file);
    }
    let json = dirs.watched("good.json");
    truth.unnamed = Some("good");
    std::fs::write(&json, json_lines(3000, 7, &mut truth)).unwrap();

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let refused = refusals(&app, 4);
    let reason = |name: &str| refused[name].clone();
    assert!(
        reason("globals").contains("more than 10000 globals (100000)"),
        "{}",
        reason("globals")
    );
    assert!(
        reason("imports").contains("more than 10000 imports (20000)"),
        "{}",
        reason("imports")
    );
    assert!(
        reason("instances").contains("past its cap of 64 MiB"),
        "{}",
        reason("instances")
    );
    assert!(reason("spin").contains("ran past its time limit"), "{}", reason("spin"));
    for (name, bytes) in [("globals2", &globals), ("imports2", &imports)] {
        let (status, body) = app.put(&format!("/plugins/{name}"), Some("s3cret"), bytes);
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains("more than 10000"), "{body}");
    }
    for file in hoarding.iter().chain([&bomb_file, &json]) {
        app.wait_until_read(file);
    }
    // One batch each: it traps, then each line alone on a fresh instance.
    for name in ["memories", "tables", "names"] {
        let counters = &plugin(&app, name)["counters"];
        assert_eq!(
            (&counters["traps"], &counters["lines_invalid"]),
            (&51.into(), &50.into()),
            "{name}"
        );
    }
    // Plugins that load are used by ingest requests too.
    let (status, body) = app.post("/ingest?parser=memories", b"one\ntwo\n");
    assert_eq!(
        (status, &body["accepted"], &body["invalid"]),
        (200, &0.into(), &2.into()),
        "{body}"
    );
    truth.invalid();
    truth.invalid();
    assert_eq!(app.stats(), truth.stats());
    // About 100 MB at rest (the built-in plugins compiled), and two
    // workers' instances of at most 64 MiB each (measured: 130 MB).
    let peak_kb = peak_resident_kb(app.pid());
    assert!(peak_kb < 300_000, "the service peaked at {peak_kb} kB");
    let status = app.terminate();
    assert!(status.success(), "{status}");

    // `plugin check` says the same, and exits 1.
    for (name, why) in [("globals", "more than 10000 globals"), ("instances", "past its cap")] {
        let output = crate::helpers::logproc()
            .args(["plugin", "check"])
            .arg(plugin_dir.join(format!("{name}.wasm")))
            .env("LOGPROC_PLUGINS__MEMORY_LIMIT_MIB", "64")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(why), "{name}: {stderr}");
    }
}

#[test]
fn a_format_a_plugin_detects_is_a_short_name_or_none() {
    let (dirs, config) = hostile_setup(&[], &format!("plugins:\n  call_timeout_ms: 1000\n{ROUTES}"));
    let mut truth = Truth::default();
    let mut files = Vec::new();
    for first in ["LONGFORMAT", "BADFORMAT"] {
        let file = dirs.watched(&format!("{}.hostile", first.to_lowercase()));
        std::fs::write(&file, format!("{first}\nINFO inventory worker\n")).unwrap();
        truth.invalid();
        truth.parsed("inventory", "worker", "INFO", 1_735_732_800_000);
        files.push(file);
    }
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    for file in &files {
        app.wait_until_read(file);
    }
    assert_eq!(app.stats(), truth.stats());
    let (_, sources) = app.get("/sources");
    for source in sources.as_array().unwrap() {
        assert!(source.get("format").is_none(), "{source}");
    }
    app.wait_for_log(&["detect named a format of 1048576 bytes", "at most 64"]);
    let forged = app.wait_for_log(&["detect named a format of 22 bytes"]);
    assert!(forged.contains("syslog\\nFORGED log line"), "{forged}");
    assert_eq!(app.log_lines(&["FORGED"]), app.log_lines(&["syslog\\nFORGED"]));
}

#[test]
fn times_a_plugin_gives_outside_years_0000_to_9999_count_at_the_time_of_reading() {
    let (dirs, _) = hostile_setup(&[], "");
    // The first and last milliseconds of years 0000 to 9999, one past each,
    // the ends of i64, and an ordinary time.
    let (first, last) = (-62_167_219_200_000_i64, 253_402_300_799_999_i64);
    let times = [first, last, first - 1, last + 1, i64::MIN, i64::MAX, 1_735_732_800_000];
    let file = dirs.watched("times.hostile");
    let text: String = times.iter().map(|ms| format!("INFO clock tick {ms}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let before = std::time::SystemTime::now();
    let output = crate::helpers::logproc()
        .args([
            "process",
            "--parser",
            "hostile",
            "--format",
            "json",
            "--detailed",
            "--plugin-dir",
        ])
        .arg(dirs.plugin_dir())
        .arg(&file)
        .output()
        .unwrap();
    let now_ms = |time: std::time::SystemTime| time.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (from, to) = (now_ms(before), now_ms(std::time::SystemTime::now()));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((&stats["parsed"], &stats["invalid"]), (&7.into(), &0.into()), "{stats}");
    let minutes: Vec<(i64, u64)> = stats["services"]["clock"]["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|minute| (minute["start_ms"].as_i64().unwrap(), minute["lines"].as_u64().unwrap()))
        .collect();
    let minute = |ms: i64| ms.div_euclid(60_000) * 60_000;
    let (kept, read_at): (Vec<_>, Vec<_>) = minutes
        .iter()
        .partition(|(start, _)| [first, last, 1_735_732_800_000].map(minute).contains(start));
    assert_eq!(
        kept,
        [(minute(first), 1), (minute(1_735_732_800_000), 1), (minute(last), 1)],
        "{minutes:?}"
    );
    // The other four count in the minute they were read in.
    assert_eq!(read_at.iter().map(|(_, lines)| lines).sum::<u64>(), 4, "{minutes:?}");
    assert!(
        read_at
            .iter()
            .all(|(start, _)| (minute(from)..=minute(to)).contains(start)),
        "{minutes:?}"
    );
}
