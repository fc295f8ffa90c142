//! `logproc store copy`: a node moves from sled to another backend with
//! its counts and checkpoints, and reads no file again.

use std::process::Command;

use crate::helpers::{App, Dirs, append, logproc};
use crate::truth::{Truth, json_lines};

/// Counts a file on sled, copies the store into `to` (the store `dirs`
/// names, `env` setting the service to it), and goes on there.
fn moves_without_reading_again(dirs: Dirs, to: &str, env: &[(&str, String)]) {
    let file = dirs.watched("app.jsonl");
    let mut truth = Truth::for_files("app");
    append(&file, &json_lines(3000, 1, &mut truth));
    let mut on_sled = App::serve_command(&dirs, &["--listen", "127.0.0.1:0"]);
    on_sled.env("LOGPROC_STORAGE__BACKEND", "sled");
    let app = App::start(on_sled);
    app.wait_until_read(&file);
    assert_eq!(app.stats(), truth.stats());
    assert!(app.terminate().success());

    let copy = |to: &str| {
        let mut command: Command = logproc();
        let from = format!("sled:{}", dirs.data().display());
        command.args(["store", "copy", "--from", &from, "--to", to, "--node", "n1"]);
        command.output().unwrap()
    };
    let copied = copy(to);
    let stderr = String::from_utf8_lossy(&copied.stderr);
    assert!(copied.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Copied {} parsed and {} invalid lines",
            truth.parsed, truth.invalid
        )),
        "{stderr}"
    );

    let mut moved = App::serve_command(&dirs, &["--listen", "127.0.0.1:0"]);
    moved
        .envs(env.iter().map(|(name, value)| (name, value)))
        .env("LOGPROC_NODE__ID", "n1");
    let app = App::start(moved);
    app.wait_until_read(&file);
    assert_eq!(app.stats(), truth.stats());
    assert_eq!(
        app.log_lines(&["Reading file", "offset=0"]),
        0,
        "the file was read again"
    );
    append(&file, &json_lines(500, 2, &mut truth));
    app.wait_until_read(&file);
    assert_eq!(app.stats(), truth.stats());
    assert!(app.terminate().success());

    // Twice would count every line twice: refused.
    let again = copy(to);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds this node's counts"));
}

#[test]
fn store_copy_moves_a_node_from_sled_to_sqlite() {
    let dirs = Dirs::on("sqlite");
    let file = dirs.root.path().join("moved.sqlite");
    let to = format!("sqlite:{}", file.display());
    moves_without_reading_again(dirs, &to, &[("LOGPROC_STORAGE__PATH", file.display().to_string())]);
}

#[test]
fn store_copy_moves_a_node_from_sled_to_postgres() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let url = dirs.postgres.as_ref().unwrap().url();
    moves_without_reading_again(dirs, &url, &[]);
}

#[test]
fn store_copy_names_what_it_cannot_open() {
    let dirs = Dirs::new();
    let to = format!("sqlite:{}", dirs.root.path().join("to.sqlite").display());
    let output = logproc()
        .args(["store", "copy", "--from", "sled:/nonexistent/x", "--to", &to])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("there is no store at /nonexistent/x"), "{stderr}");
    assert!(!dirs.root.path().join("to.sqlite").exists(), "nothing is made");
    let from = format!("sled:{}", dirs.root.path().display());
    let output = logproc()
        .args(["store", "copy", "--from", &from, "--to", "mysql://u:secret@h/db"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("names no store"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}
