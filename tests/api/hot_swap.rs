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
    let plugin_dir = dirs.root.path().join("plugins-runtime");
    std::fs::create_dir(&plugin_dir).unwrap();
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
        format!(
            "plugins:\n  dir: {}\nwatch:\n  poll_interval_ms: 100\npipeline:\n  batch_lines: 40\n\
             routes:\n  - {{glob: \"*.hostile\", parser: hostile}}\n",
            plugin_dir.display()
        ),
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
