//! Start-up and shutdown of `logproc serve`.

use crate::helpers::{App, Dirs, append, wait_for};

#[test]
fn a_second_service_on_the_same_data_dir_stops_with_a_clear_error() {
    let dirs = Dirs::new();
    let _first = App::spawn(&dirs, &[]);
    let stderr = refused_start(&dirs, &[]);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
}

#[test]
fn sigterm_when_idle_exits_zero() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    assert!(app.terminate().success());
}

/// Runs `logproc serve` on `dirs` with `extra` arguments expecting it to
/// refuse to start; returns its stderr.
fn refused_start(dirs: &Dirs, extra: &[&str]) -> String {
    let output = App::serve_command(dirs, extra)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    stderr
}

/// A store with counts in it, written by a run of the service.
fn store_with_counts(dirs: &Dirs) {
    let file = dirs.watched("a.jsonl");
    std::fs::write(&file, "{\"level\":\"INFO\",\"service\":\"auth\",\"message\":\"hi\"}\n").unwrap();
    let app = App::spawn(dirs, &[]);
    assert_eq!(app.wait_until_read(&file)["lines"], 1);
    assert!(app.terminate().success());
}

#[test]
fn a_store_of_another_format_is_refused_with_a_clear_message() {
    let dirs = Dirs::new();
    store_with_counts(&dirs);
    {
        let db = sled::open(dirs.data()).unwrap();
        db.insert(b"v/format", &99u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let stderr = refused_start(&dirs, &[]);
    assert!(
        stderr.contains("was written by a newer logproc (store format 99); this logproc reads format 3"),
        "{stderr}"
    );
    // A store from before format numbers: data, no format key, no marker.
    {
        let db = sled::open(dirs.data()).unwrap();
        db.remove(b"v/format").unwrap();
        db.flush().unwrap();
    }
    std::fs::remove_file(dirs.data().join("logproc-store")).unwrap();
    let stderr = refused_start(&dirs, &[]);
    assert!(
        stderr.contains("was written by an older logproc (store format 1)"),
        "{stderr}"
    );
}

#[test]
fn a_damaged_store_is_refused_never_silently_emptied() {
    let dirs = Dirs::new();
    store_with_counts(&dirs);
    // Garbage over sled's whole database file: sled alone would open it
    // empty, as if a crash had torn it.
    let db = dirs.data().join("db");
    let len = std::fs::metadata(&db).unwrap().len() as usize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&db, garbage).unwrap();
    let stderr = refused_start(&dirs, &[]);
    assert!(
        stderr.contains("is damaged or was written by an incompatible version"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Restore it from a backup, or move it aside"),
        "{stderr}"
    );
}

#[test]
fn start_up_names_its_directories_and_creates_a_missing_watch_dir() {
    let dirs = Dirs::new();
    std::fs::remove_dir(dirs.watch()).unwrap();
    let app = App::spawn_relative(&dirs);
    let root = std::fs::canonicalize(dirs.root.path()).unwrap();
    let line = app.wait_for_log(&["Starting."]);
    for (key, dir) in [
        ("data_dir", "data"),
        ("watch_dir", "logs"),
        ("plugin_dir", "plugins-runtime"),
    ] {
        let expected = format!("{key}={}", root.join(dir).display());
        assert!(line.contains(&expected), "{expected} in {line}");
    }
    app.wait_for_log(&["The watch directory did not exist; created it.", "dir=./logs"]);
    assert!(dirs.watch().is_dir());
}

#[test]
fn a_watch_dir_that_is_a_file_is_refused_before_listening() {
    let dirs = Dirs::new();
    std::fs::remove_dir(dirs.watch()).unwrap();
    std::fs::write(dirs.watch(), "not a directory").unwrap();
    let stderr = refused_start(&dirs, &[]);
    assert!(
        stderr.contains(&format!(
            "the watch directory {} is not a directory",
            dirs.watch().display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Listening."), "{stderr}");
}

#[test]
fn files_no_route_matches_are_logged_once_and_listed_with_the_reason() {
    let dirs = Dirs::new();
    let line = "{\"level\":\"INFO\",\"service\":\"auth\"}\n";
    for name in ["notes.md", "app.csv"] {
        std::fs::write(dirs.watched(name), line).unwrap();
    }
    let app = App::spawn(&dirs, &[]);
    let routes = "(routes: *.jsonl, *.json, *.ndjson, *.log, *.txt, *.log.[0-9]*, *.[0-9], *.[0-9][0-9], !*.*)";
    for name in ["notes.md", "app.csv"] {
        let path = dirs.watched(name);
        app.wait_for_log(&["File ignored", &format!("path={path:?}")]);
        let sources = wait_for(&format!("{name} in /sources"), || {
            let (_, sources) = app.get("/sources");
            sources
                .as_array()
                .unwrap()
                .iter()
                .find(|source| source["source"] == path.to_str().unwrap())
                .cloned()
        });
        assert_eq!(
            sources["ignored"],
            format!("no route matches `{name}` {routes}"),
            "{sources}"
        );
        assert_eq!(sources["offset"], 0);
    }
    // Renamed to a name a route matches, the file is read and no longer ignored.
    let notes = dirs.watched("notes.md");
    let renamed = dirs.watched("notes.jsonl");
    std::fs::rename(&notes, &renamed).unwrap();
    append(&renamed, line);
    assert_eq!(app.wait_until_read(&renamed)["lines"], 2);
    let (_, sources) = app.get("/sources");
    let ignored: Vec<_> = sources
        .as_array()
        .unwrap()
        .iter()
        .filter(|source| source.get("ignored").is_some())
        .map(|source| source["source"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ignored, [dirs.watched("app.csv").to_str().unwrap()]);
    let logged = app.log_lines(&["File ignored", "app.csv"]);
    assert_eq!(logged, 1, "logged once, not at every rescan");
}

#[test]
fn a_route_naming_a_missing_plugin_says_where_plugins_go() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(&config, "routes:\n  - {glob: \"*.app\", parser: nosuch}\n").unwrap();
    let stderr = refused_start(&dirs, &["--config", config.to_str().unwrap()]);
    let expected = format!(
        "route `*.app`: unknown parser `nosuch` (known: json, regex, auto); a plugin of your own is a file nosuch.wasm in plugins.dir ({})",
        dirs.plugin_dir().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_pattern_without_known_groups_is_warned_about() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "routes:\n  - glob: \"*.app\"\n    parser: regex\n    settings:\n      pattern: '^(\\w+) (?P<msg>.*)$'\n",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    app.wait_for_log(&["WARN", "none of the named groups timestamp, level, service, component"]);
}

#[test]
fn a_websocket_source_closed_by_its_server_logs_the_close_frame_plainly() {
    let generator_dirs = Dirs::new();
    let generator = App::spawn(&generator_dirs, &[]);
    let url = format!("ws://{}/ws/logs?interval_ms=10", generator.addr);
    let dirs = Dirs::new();
    let follower = App::spawn(&dirs, &["--ws-source", &url]);
    follower.wait_for_log(&["Connected to WebSocket source."]);
    assert!(generator.terminate().success());
    let line = follower.wait_for_log(&["WebSocket source disconnected"]);
    assert!(
        line.contains("closed by the server (1001 going away: server shutting down)"),
        "{line}"
    );
    assert!(!line.contains("CloseFrame"), "{line}");
}

#[test]
fn a_file_mostly_invalid_for_its_parser_is_warned_about_once_with_a_sample() {
    let dirs = Dirs::new();
    let file = dirs.watched("auth.log");
    // syslog lines, routed to logproc's own text format.
    let config = dirs.root.path().join("config.yaml");
    std::fs::write(
        &config,
        "routes:\n  - {glob: \"*.log\", parser: auto, format: logproc}\n",
    )
    .unwrap();
    std::fs::write(
        &file,
        "Jun 14 15:16:01 combo sshd[19939]: authentication failure\n\
         Jun 14 15:16:02 combo sshd[19937]: check pass; user unknown\n\
         2025-01-01T12:00:00.000Z INFO [auth/api] fine\n",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    app.wait_until_read(&file);
    let line = app.wait_for_log(&["Most of the file's first lines are invalid"]);
    for part in [
        format!("path={file:?}"),
        "invalid=2".to_owned(),
        "lines=3".to_owned(),
        "line=Jun 14 15:16:01 combo sshd[19939]: authentication failure".to_owned(),
        "reason=".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} in {line}");
    }
    // Lines appended later are not the first batch: no second warning.
    append(&file, "not a log line\nnor this\n");
    app.wait_until_read(&file);
    assert_eq!(app.log_lines(&["Most of the file's first lines are invalid"]), 1);
}

#[test]
fn a_watch_dir_that_goes_away_is_reported_once_and_read_again_when_back() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("fast.yaml");
    std::fs::write(&config, "watch:\n  poll_interval_ms: 50\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    // The watcher starts right after the server: gone before that, the
    // directory cannot be watched at all.
    app.wait_for_log(&["Watching directory."]);
    std::fs::remove_dir(dirs.watch()).unwrap();
    app.wait_for_log(&["Cannot list the watch directory"]);
    std::fs::create_dir(dirs.watch()).unwrap();
    app.wait_for_log(&["The watch directory can be listed again."]);
    assert_eq!(app.log_lines(&["Cannot list the watch directory"]), 1);
    // Files in it are read again (found by the rescan).
    let file = dirs.watched("back.jsonl");
    std::fs::write(&file, "{\"level\":\"INFO\",\"service\":\"auth\"}\n").unwrap();
    assert_eq!(app.wait_until_read(&file)["lines"], 1);
}
