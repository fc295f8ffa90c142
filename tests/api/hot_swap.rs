//! Plugins replaced, refused and removed while the service runs and files
//! keep coming: every line is counted once, by exactly one version.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::helpers::{App, Dirs, append, build_component, wait_for};
use crate::sandbox::plugin;
use crate::truth::Truth;

/// Puts `component` in the plugin dir as `hostile.wasm` the atomic way:
/// copied next to it, then renamed over it.
fn install(component: &Path, plugin_dir: &Path) {
    let staging = plugin_dir.join("hostile.wasm.part");
    std::fs::copy(component, &staging).unwrap();
    std::fs::rename(&staging, plugin_dir.join("hostile.wasm")).unwrap();
}

/// `count` lines the hostile plugin parses, tallied in `truth`.
fn lines(count: usize, truth: &mut Truth) -> String {
    let mut text = String::new();
    for i in 0..count {
        let level = ["INFO", "WARN", "ERROR"][i % 3];
        text.push_str(&format!("{level} stock worker\n"));
        truth.parsed("stock", "worker", level, 1_735_732_800_000);
    }
    text
}

struct Setup {
    dirs: Dirs,
    plugin_dir: std::path::PathBuf,
    versions: [std::path::PathBuf; 2],
    config: String,
}

/// Two versions of the hostile plugin (1.0.0 and 2.0.0; they parse alike),
/// the first installed, and a config routing `*.hostile` to it.
fn setup() -> Setup {
    let dirs = Dirs::new();
    let plugin_dir = dirs.plugin_dir();
    let versions = ["1.0.0", "2.0.0"].map(|version| {
        let path = dirs.root.path().join(format!("hostile-{version}.wasm"));
        build_component(
            "tests/fixtures/hostile",
            "hostile",
            &[("FIXTURE_VERSION", version)],
            &path,
        );
        path
    });
    install(&versions[0], &plugin_dir);
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "plugins:\n  call_timeout_ms: 1000\nwatch:\n  poll_interval_ms: 100\npipeline:\n  batch_lines: 40\n\
             routes:\n  - {glob: \"*.hostile\", parser: hostile}\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    Setup {
        dirs,
        plugin_dir,
        versions,
        config,
    }
}

fn wait_for_version(app: &App, version: &str) {
    wait_for(&format!("hostile {version} loaded"), || {
        let (_, plugins) = app.get("/plugins");
        let loaded = plugins["plugins"]
            .as_array()?
            .iter()
            .any(|plugin| plugin["name"] == "hostile" && plugin["version"] == version);
        loaded.then_some(())
    });
}

#[test]
fn plugins_swapped_under_load_lose_and_double_count_nothing() {
    let setup = setup();
    let app = App::spawn(&setup.dirs, &["--config", &setup.config]);
    wait_for_version(&app, "1.0.0");

    // A writer appends to a routed file all along.
    let file = setup.dirs.watched("load.hostile");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (file, stop) = (file.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut truth = Truth::default();
            while !stop.load(Ordering::Relaxed) {
                append(&file, &lines(25, &mut truth));
                std::thread::sleep(Duration::from_millis(5));
            }
            truth
        })
    };
    for round in 0..6 {
        let version = ["2.0.0", "1.0.0"][round % 2];
        install(&setup.versions[(round + 1) % 2], &setup.plugin_dir);
        wait_for_version(&app, version);
    }
    stop.store(true, Ordering::Relaxed);
    let truth = writer.join().unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());
    assert!(truth.lines() > 1_000, "the load ran through the swaps");
    let hostile = plugin(&app, "hostile");
    assert_eq!(hostile["version"], "1.0.0");
}

#[test]
fn a_refused_version_leaves_the_old_one_serving_and_a_removed_plugin_counts_lines_invalid() {
    let setup = setup();
    let app = App::spawn(&setup.dirs, &["--config", &setup.config]);
    let mut truth = Truth::default();
    let file = setup.dirs.watched("a.hostile");
    std::fs::write(&file, lines(100, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());

    // Not a plugin: refused, and 1.0.0 serves on.
    std::fs::write(setup.plugin_dir.join("hostile.wasm"), b"garbage").unwrap();
    wait_for("the refusal", || {
        let (_, plugins) = app.get("/plugins");
        (plugins["refused"][0]["name"] == "hostile").then_some(())
    });
    assert_eq!(plugin(&app, "hostile")["version"], "1.0.0");
    append(&file, &lines(10, &mut truth));
    assert_eq!(app.wait_until_read(&file), truth.stats());

    // Removed: its lines are counted invalid, and the service runs on.
    std::fs::remove_file(setup.plugin_dir.join("hostile.wasm")).unwrap();
    wait_for("the plugin to go", || {
        let (_, plugins) = app.get("/plugins");
        let names = plugins["plugins"]
            .as_array()?
            .iter()
            .map(|p| p["name"].clone())
            .collect::<Vec<_>>();
        (!names.contains(&"hostile".into()) && plugins["refused"].as_array()?.is_empty()).then_some(())
    });
    let mut lost = Truth::default();
    append(&file, &lines(10, &mut lost));
    (0..10).for_each(|_| truth.invalid());
    assert_eq!(app.wait_until_read(&file), truth.stats());

    // Back, as 2.0.0.
    install(&setup.versions[1], &setup.plugin_dir);
    wait_for_version(&app, "2.0.0");
    append(&file, &lines(10, &mut truth));
    assert_eq!(app.wait_until_read(&file), truth.stats());
}

#[test]
fn uploads_need_the_token_are_checked_and_swap_the_plugin() {
    let setup = setup();
    // Without a token configured, changing plugins over HTTP is disabled.
    let app = App::spawn(&setup.dirs, &["--config", &setup.config]);
    let v2 = std::fs::read(&setup.versions[1]).unwrap();
    let (status, body) = app.put("/plugins/hostile", Some("anything"), &v2);
    assert_eq!(
        (status, body["error"].as_str().unwrap().contains("disabled")),
        (403, true),
        "{body}"
    );
    assert!(app.terminate().success());

    let config = format!("{}.token.yaml", setup.config);
    let yaml = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &config,
        yaml.replace(
            "plugins:\n",
            "plugins:\n  upload_token: s3cret\n  max_upload_bytes: 1000000\n",
        ),
    )
    .unwrap();
    let app = App::spawn(&setup.dirs, &["--config", &config]);
    // (A refusal comes before the body is read: these bodies are small,
    // so that the client has sent them whole by then.)
    let cases: [(Option<&str>, &[u8], u16, &str); 3] = [
        (None, b"\0asm", 401, "missing `Authorization: Bearer"),
        (Some("guess"), b"\0asm", 401, "wrong bearer token"),
        (Some("s3cret"), b"garbage", 400, "not a WebAssembly file"),
    ];
    for (token, body, status, message) in cases {
        let (got, answer) = app.put("/plugins/hostile", token, body);
        assert_eq!(got, status, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(message), "{answer}");
    }
    // Too large, by its length: refused before a byte of it is sent.
    let response = app.raw(
        b"PUT /plugins/hostile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\
          Content-Length: 1000001\r\nExpect: 100-continue\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("larger than plugins.max_upload_bytes"), "{response}");
    // Nothing changed.
    assert_eq!(plugin(&app, "hostile")["version"], "1.0.0");

    let (status, answer) = app.put("/plugins/hostile", Some("s3cret"), &v2);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["version"].as_str(), answer["source"].as_str()),
        (Some("2.0.0"), Some("upload"))
    );
    assert_eq!(plugin(&app, "hostile")["version"], "2.0.0");
    // Kept in the plugin directory, byte for byte.
    assert_eq!(std::fs::read(setup.plugin_dir.join("hostile.wasm")).unwrap(), v2);
    let mut truth = Truth::default();
    let file = setup.dirs.watched("after.hostile");
    std::fs::write(&file, lines(30, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());

    // Removed; built-ins cannot be, unknown plugins are not found.
    assert_eq!(app.delete("/plugins/hostile", None).0, 401);
    assert_eq!(app.delete("/plugins/hostile", Some("s3cret")).0, 200);
    let (_, plugins) = app.get("/plugins");
    assert!(
        !plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "hostile"),
        "{plugins}"
    );
    let (status, answer) = app.delete("/plugins/json", Some("s3cret"));
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("built in"), "{answer}");
    assert_eq!(app.delete("/plugins/nosuch", Some("s3cret")).0, 404);
    assert_eq!(app.put("/plugins/..%2Fescape", Some("s3cret"), &v2).0, 400);
}
