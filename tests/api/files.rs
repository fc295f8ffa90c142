//! Files in the watch directory, counted exactly once.

use crate::helpers::{App, Dirs, append, on_every_backend};
use crate::truth::{Truth, json_lines, text_lines};

#[test]
fn json_and_text_files_are_counted_exactly() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("app");
    let json = dirs.watched("app.jsonl");
    let text = dirs.watched("app.log");
    std::fs::write(&json, json_lines(5_000, 1, &mut truth)).unwrap();
    std::fs::write(&text, text_lines(5_000, 2, &mut truth)).unwrap();
    // A file no route matches is not read.
    std::fs::write(dirs.watched("notes.md"), "ERROR [x/y] not a log\n").unwrap();

    let app = App::spawn(&dirs, &[]);
    app.wait_until_read(&json);
    let stats = app.wait_until_read(&text);
    assert_eq!(stats, truth.stats());
    let (_, sources) = app.get("/sources");
    let read: Vec<_> = sources
        .as_array()
        .unwrap()
        .iter()
        .filter(|source| source.get("ignored").is_none())
        .collect();
    assert_eq!(read.len(), 2, "only routed files are read: {sources}");
    // Read to its end: its size is the file's, nothing left to count.
    for source in read {
        let len = std::fs::metadata(source["source"].as_str().unwrap()).unwrap().len();
        assert_eq!(
            (&source["size"], &source["lag_bytes"]),
            (&len.into(), &0.into()),
            "{source}"
        );
    }
}

#[test]
fn a_relative_watch_dir_reads_each_file_once() {
    let dirs = Dirs::new();
    let mut truth = Truth::default();
    let json = dirs.watched("a.jsonl");
    let text = dirs.watched("b.log");
    truth.unnamed = Some("a");
    std::fs::write(&json, json_lines(2_000, 7, &mut truth)).unwrap();
    truth.unnamed = Some("b");
    std::fs::write(&text, text_lines(2_000, 8, &mut truth)).unwrap();
    let app = App::spawn_relative(&dirs);
    app.wait_until_read(&json);
    assert_eq!(app.wait_until_read(&text), truth.stats());
    // File events name files one way and directory scans another; both must
    // lead to the same source. Appending raises events for the file.
    truth.unnamed = Some("a");
    append(&json, &json_lines(10, 9, &mut truth));
    assert_eq!(app.wait_until_read(&json), truth.stats());
    let (_, sources) = app.get("/sources");
    let names: Vec<&str> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, [json.to_str().unwrap(), text.to_str().unwrap()]);
}

#[test]
fn lines_appended_later_are_counted() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("growing");
    let file = dirs.watched("growing.jsonl");
    std::fs::write(&file, json_lines(300, 3, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.wait_until_read(&file), truth.stats());

    append(&file, &json_lines(700, 4, &mut truth));
    assert_eq!(app.wait_until_read(&file), truth.stats());
    // A new file dropped while running is picked up too.
    let second = dirs.watched("second.log");
    truth.unnamed = Some("second");
    std::fs::write(&second, text_lines(250, 5, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&second), truth.stats());
}

#[test]
fn partial_last_line_waits_for_its_newline() {
    let dirs = Dirs::new();
    let file = dirs.watched("partial.log");
    let complete = "1735732800000 INFO [orders/api] first\n";
    std::fs::write(&file, format!("{complete}1735732801000 ERROR [orders/db] sec")).unwrap();
    let app = App::spawn(&dirs, &[]);

    // Only the complete line is counted; the checkpoint stops before the partial one.
    let stats = app.wait_for_stats("first line", |stats| stats["lines"] == 1);
    assert_eq!(stats["levels"]["INFO"], 1);
    crate::helpers::wait_for("checkpoint at the first newline", || {
        let (_, sources) = app.get("/sources");
        (sources[0]["offset"] == complete.len()).then_some(())
    });
    assert_eq!(app.stats()["lines"], 1);

    append(&file, "ond\n");
    let stats = app.wait_until_read(&file);
    assert_eq!(stats["lines"], 2);
    assert_eq!(stats["levels"]["ERROR"], 1);
    assert_eq!(stats["services"]["orders"]["lines"], 2);
}

on_every_backend!(restart_after_sigterm_mid_file_counts_every_line_once => restart_after_sigterm_mid_file_counts_every_line_once);

fn restart_after_sigterm_mid_file_counts_every_line_once(dirs: Dirs) {
    let mut truth = Truth::for_files("big");
    let file = dirs.watched("big.jsonl");
    std::fs::write(&file, json_lines(400_000, 6, &mut truth)).unwrap();
    let total = truth.lines();

    // Small batches and frequent commits, so that SIGTERM lands mid-file.
    let config = dirs.root.path().join("small-batches.yaml");
    std::fs::write(
        &config,
        "pipeline:\n  batch_lines: 64\n  workers: 1\nstorage:\n  commit_interval_ms: 20\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let app = App::spawn(&dirs, &["--config", config]);
    let seen = app.wait_for_stats("some lines counted", |stats| stats["lines"].as_u64().unwrap() > 0);
    let status = app.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    assert!(
        seen["lines"].as_u64().unwrap() < total,
        "SIGTERM must land mid-file for this test to mean anything"
    );

    let app = App::spawn(&dirs, &["--config", config]);
    assert_eq!(app.wait_until_read(&file), truth.stats());
    // Once more, with everything already counted: nothing is read again.
    let status = app.terminate();
    assert!(status.success());
    let app = App::spawn(&dirs, &["--config", config]);
    assert_eq!(app.wait_until_read(&file), truth.stats());
}

#[test]
fn bad_content_is_counted_invalid_and_never_stops_a_file() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("short-lines.yaml");
    std::fs::write(&config, "pipeline:\n  max_line_bytes: 1000\n").unwrap();
    let mut truth = Truth::default();
    let file = dirs.watched("bad.log");
    let mut body = Vec::new();
    body.extend_from_slice(b"1735732800000 INFO [orders/api] fine\r\n"); // CRLF: one line
    truth.parsed("orders", "api", "INFO", 1_735_732_800_000);
    body.extend_from_slice(b"1735732800000 ERROR [orders/api] bad \xff\xfe bytes\n"); // not UTF-8
    truth.invalid();
    body.extend_from_slice(b"1735732800000 WARN [orders/a\x00pi] nul\n"); // NUL inside a name
    truth.parsed("orders", "a\u{0}pi", "WARN", 1_735_732_800_000);
    body.extend_from_slice(&[b'x'; 5_000]); // longer than max_line_bytes
    body.push(b'\n');
    truth.invalid();
    body.extend_from_slice(&[b'y'; 3_000_000]); // longer than a read, too
    body.push(b'\n');
    truth.invalid();
    body.extend_from_slice(b"1735732800000 ERROR [orders/db] after the long lines\n");
    truth.parsed("orders", "db", "ERROR", 1_735_732_800_000);
    std::fs::write(&file, body).unwrap();
    let empty = dirs.watched("empty.log");
    std::fs::write(&empty, b"").unwrap();

    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let stats = app.wait_until_read(&file);
    assert_eq!(stats, truth.stats());
    let (status, orders) = app.get("/stats/orders");
    assert_eq!(status, 200);
    let components: Vec<&str> = orders["components"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // The NUL is stored as U+FFFD (NUL separates storage keys).
    assert_eq!(components, ["api", "a\u{FFFD}pi", "db"]);

    // The empty file is followed: lines written to it later are counted.
    append(&empty, "1735732800000 INFO [auth/api] now it has a line\n");
    let stats = app.wait_until_read(&empty);
    assert_eq!(stats["services"]["auth"]["lines"], 1);
}

#[test]
fn a_last_line_without_newline_counts_once_the_file_is_idle() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("idle.yaml");
    std::fs::write(&config, "watch:\n  poll_interval_ms: 50\n  final_line_idle_ms: 300\n").unwrap();
    let file = dirs.watched("unterminated.log");
    std::fs::write(
        &file,
        "1735732800000 INFO [orders/api] first\n1735732801000 ERROR [orders/db] never ends",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let stats = app.wait_until_read(&file);
    assert_eq!(
        (stats["lines"].as_u64(), stats["levels"]["ERROR"].as_u64()),
        (Some(2), Some(1))
    );

    // What comes after it starts a new line.
    append(&file, "\n1735732802000 WARN [orders/api] third\n");
    let stats = app.wait_until_read(&file);
    assert_eq!((stats["lines"].as_u64(), stats["invalid"].as_u64()), (Some(3), Some(0)));
}

#[test]
fn an_unterminated_last_line_over_max_line_bytes_counts_once_invalid() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("long.yaml");
    std::fs::write(
        &config,
        "watch:\n  poll_interval_ms: 20\n  final_line_idle_ms: 1500\npipeline:\n  max_line_bytes: 1048576\n",
    )
    .unwrap();
    // Over the limit by whole reads (an even number of MiB), and not.
    let mut files = Vec::new();
    for (name, long) in [("even.log", 2 << 20), ("odd.log", (2 << 20) + 12_345)] {
        let file = dirs.watched(name);
        let text = format!("1735732800000 INFO [orders/api] first\n{}", "x".repeat(long));
        std::fs::write(&file, text).unwrap();
        files.push(file);
    }
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    for file in &files {
        app.wait_until_read(file);
    }
    let stats = app.stats();
    assert_eq!((&stats["parsed"], &stats["invalid"]), (&2.into(), &2.into()), "{stats}");
    // Each long line was read once while the files were idle, not at each
    // of the ~75 polls (4 MiB each: 300 MiB).
    // Bytes it read so far (files, pipes, sockets).
    let read = crate::helpers::proc_number(app.pid(), "io", "rchar:");
    assert!(read < 40 << 20, "the service read {read} bytes");

    // `process` counts the even one too.
    let output = crate::helpers::logproc()
        .args(["process", "--format", "json"])
        .arg(&files[0])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((&stats["parsed"], &stats["invalid"]), (&1.into(), &1.into()), "{stats}");
}

#[test]
fn a_file_renamed_into_the_watch_dir_is_read_once() {
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &[]);
    let mut truth = Truth::for_files("dropped");
    // Written elsewhere, then moved in: the watcher sees only a rename.
    let outside = dirs.root.path().join("staging.jsonl");
    std::fs::write(&outside, json_lines(1_500, 50, &mut truth)).unwrap();
    let inside = dirs.watched("dropped.jsonl");
    std::fs::rename(&outside, &inside).unwrap();
    assert_eq!(app.wait_until_read(&inside), truth.stats());
    let (_, sources) = app.get("/sources");
    assert_eq!(sources.as_array().unwrap().len(), 1, "{sources}");
}

#[test]
fn a_truncated_file_is_read_again_from_its_start() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("copytruncate");
    let file = dirs.watched("copytruncate.log");
    std::fs::write(&file, text_lines(1_000, 60, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.wait_until_read(&file), truth.stats());

    // copytruncate: the file is cut to nothing and written again, shorter.
    std::fs::write(&file, text_lines(200, 61, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());
}

#[test]
fn rotation_by_rename_loses_nothing_and_reads_nothing_twice() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("app");
    let file = dirs.watched("app.log");
    std::fs::write(&file, text_lines(500, 70, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.wait_until_read(&file), truth.stats());

    for round in 0..3 {
        // Lines written just before the rotation, then app.log -> app.log.N
        // (no route matches it) and a new app.log.
        append(&file, &text_lines(50, 71 + round, &mut truth));
        std::fs::rename(&file, dirs.watched(&format!("app.log.{}", round + 1))).unwrap();
        std::fs::write(&file, text_lines(100 + round as usize, 80 + round, &mut truth)).unwrap();
        assert_eq!(app.wait_until_read(&file), truth.stats(), "round {round}");
    }
}

#[test]
fn a_deleted_and_recreated_file_is_a_new_file() {
    let dirs = Dirs::new();
    let mut truth = Truth::for_files("again");
    let file = dirs.watched("again.jsonl");
    std::fs::write(&file, json_lines(800, 90, &mut truth)).unwrap();
    let app = App::spawn(&dirs, &[]);
    assert_eq!(app.wait_until_read(&file), truth.stats());
    // The new file is longer than the old offset: only its identity tells
    // that it must be read from its start (its inode may well be reused).
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, json_lines(1_600, 91, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());
    // And across a restart, the checkpoint knows which file it belongs to.
    assert!(app.terminate().success());
    let app = App::spawn(&dirs, &[]);
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, json_lines(2_000, 92, &mut truth)).unwrap();
    assert_eq!(app.wait_until_read(&file), truth.stats());
}

#[test]
fn odd_file_names_are_escaped_in_the_log_and_given_whole_by_the_api() {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let dirs = Dirs::new();
    let line = "1735732800000 INFO [orders/api] one\n";
    // A line break that would forge a log line, and two names that are not
    // UTF-8 and differ only where they are not.
    let names: [&[u8]; 4] = [b"a\nFORGED.log", b"x\xff.log", b"x\xfe.log", b"y\xff.unrouted"];
    let paths: Vec<std::path::PathBuf> = names
        .iter()
        .map(|name| dirs.watch().join(std::ffi::OsString::from_vec(name.to_vec())))
        .collect();
    for path in &paths {
        std::fs::write(path, line).unwrap();
    }
    let app = App::spawn(&dirs, &[]);
    for path in &paths[..3] {
        app.wait_until_read(path);
    }
    app.wait_for_log(&["File ignored"]);
    app.wait_for_log(&["Reading file", "FORGED"]);
    // Every log line that names the file shows its line break escaped.
    assert_eq!(app.log_lines(&["FORGED"]), app.log_lines(&["a\\nFORGED.log"]));
    let (_, sources) = app.get("/sources");
    let sources = sources.as_array().unwrap();
    assert_eq!(sources.len(), 4, "{sources:?}");
    for path in &paths {
        let bytes = path.as_os_str().as_bytes();
        let source = sources
            .iter()
            .find(|source| match source.get("source_bytes") {
                Some(given) => given == &serde_json::json!(bytes),
                None => source["source"] == path.to_str().unwrap_or_default(),
            })
            .unwrap_or_else(|| panic!("{path:?} in {sources:?}"));
        // Only names that are not UTF-8 need their bytes given.
        assert_eq!(
            source.get("source_bytes").is_some(),
            path.to_str().is_none(),
            "{source}"
        );
        assert_eq!(source["source"], String::from_utf8_lossy(bytes).as_ref(), "{source}");
    }
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt as _;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
}

/// The reason `/sources` gives for not reading `path`, once it gives one.
fn ignored_reason(app: &App, path: &std::path::Path) -> String {
    crate::helpers::wait_for(&format!("{} ignored", path.display()), || {
        let (_, sources) = app.get("/sources");
        let source = sources
            .as_array()?
            .iter()
            .find(|source| source["source"] == path.to_str().unwrap())?;
        Some(source["ignored"].as_str()?.to_owned())
    })
}

#[test]
fn fifos_never_block_reading_or_shutdown() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("fifo.yaml");
    std::fs::write(&config, "watch:\n  poll_interval_ms: 50\npipeline:\n  workers: 2\n").unwrap();
    let line = "1735732800000 INFO [orders/api] one\n";
    let mut truth = Truth::default();
    let followed: Vec<_> = ["a", "b", "c", "d"]
        .map(|name| dirs.watched(&format!("{name}.log")))
        .into();
    for path in &followed {
        std::fs::write(path, line).unwrap();
        truth.parsed("orders", "api", "INFO", 1_735_732_800_000);
    }
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    for path in &followed {
        app.wait_until_read(path);
    }
    // Each file followed (as many as files are read at once) is replaced by
    // a FIFO, and one more FIFO appears.
    for path in &followed {
        std::fs::remove_file(path).unwrap();
        mkfifo(path);
    }
    // Their readers looked at them and let them go.
    crate::helpers::wait_for("the readers to stop", || {
        (app.log_lines(&["no longer followed"]) == followed.len()).then_some(())
    });
    let fifo = dirs.watched("e.log");
    mkfifo(&fifo);
    assert_eq!(
        ignored_reason(&app, &fifo),
        "not a regular file (a FIFO, socket or device)"
    );
    // Files are still read.
    let later = dirs.watched("later.log");
    std::fs::write(&later, line).unwrap();
    truth.parsed("orders", "api", "INFO", 1_735_732_800_000);
    assert_eq!(app.wait_until_read(&later), truth.stats());
    let started = std::time::Instant::now();
    let status = app.terminate();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn links_out_of_the_watch_dir_are_read_only_if_asked() {
    use std::os::unix::fs::symlink;
    let dirs = Dirs::new();
    let line = "1735732800000 INFO [orders/api] one\n";
    let outside = dirs.root.path().join("outside.log");
    std::fs::write(&outside, line.repeat(2)).unwrap();
    symlink(&outside, dirs.watched("outside.log")).unwrap();
    symlink("/etc/passwd", dirs.watched("passwd.log")).unwrap();
    // A link to a file in the directory is that file: read once.
    let real = dirs.watched("real.log");
    std::fs::write(&real, line.repeat(3)).unwrap();
    symlink("real.log", dirs.watched("current.log")).unwrap();

    let app = App::spawn(&dirs, &[]);
    for (name, target) in [("outside.log", outside.clone()), ("passwd.log", "/etc/passwd".into())] {
        let reason = ignored_reason(&app, &dirs.watched(name));
        assert_eq!(
            reason,
            format!(
                "a symbolic link to {}, outside the watch directory (set watch.follow_symlinks: true to read it)",
                std::fs::canonicalize(target).unwrap().display()
            )
        );
    }
    let stats = app.wait_until_read(&real);
    assert_eq!(
        (&stats["lines"], &stats["services"]["orders"]["lines"]),
        (&3.into(), &3.into()),
        "{stats}"
    );
    app.terminate();

    std::fs::remove_file(dirs.watched("passwd.log")).unwrap();
    let config = dirs.root.path().join("follow.yaml");
    std::fs::write(&config, "watch:\n  follow_symlinks: true\n").unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);
    let stats = app.wait_until_read(&outside);
    assert_eq!(stats["lines"], 5, "{stats}");
}
