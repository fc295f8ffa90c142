//! Configuration precedence: defaults < file < environment < flags.

use serde_json::Value;

use crate::helpers::logproc;

fn print_config(args: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    let output = logproc()
        .args(["serve", "--print-config"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "log_level: warn\nserver:\n  listen: 127.0.0.1:9001\nstorage:\n  data_dir: /from/file\n  commit_interval_ms: 120\nwatch:\n  dir: /from/file/logs\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let defaults = print_config(&[], &[]).unwrap();
    assert_eq!(defaults["server"]["listen"], "127.0.0.1:8080");
    assert_eq!(defaults["storage"]["data_dir"], "./data");
    assert_eq!(defaults["watch"]["dir"], "./logs");
    assert_eq!(defaults["log_level"], "info");

    let from_file = print_config(&["--config", file], &[]).unwrap();
    assert_eq!(from_file["server"]["listen"], "127.0.0.1:9001");
    assert_eq!(from_file["storage"]["commit_interval_ms"], 120);
    assert_eq!(from_file["log_level"], "warn");
    // Keys the file does not name keep their defaults.
    assert_eq!(from_file["storage"]["data_dir"], "/from/file");
    assert_eq!(from_file["pipeline"]["batch_lines"], 1024);

    // Environment beats the file, for a top-level and a nested key.
    let env = [
        ("LOGPROC_LOG_LEVEL", "debug"),
        ("LOGPROC_STORAGE__COMMIT_INTERVAL_MS", "75"),
        ("LOGPROC_WATCH__DIR", "/from/env"),
    ];
    let from_env = print_config(&["--config", file], &env).unwrap();
    assert_eq!(from_env["log_level"], "debug");
    assert_eq!(from_env["storage"]["commit_interval_ms"], 75);
    assert_eq!(from_env["watch"]["dir"], "/from/env");
    assert_eq!(from_env["server"]["listen"], "127.0.0.1:9001");

    // Flags beat both.
    let flags = [
        "--config",
        file,
        "--listen",
        "127.0.0.1:9002",
        "--watch-dir",
        "/from/flag",
        "--data-dir",
        "/from/flag/data",
    ];
    let from_flags = print_config(&flags, &env).unwrap();
    assert_eq!(from_flags["server"]["listen"], "127.0.0.1:9002");
    assert_eq!(from_flags["watch"]["dir"], "/from/flag");
    assert_eq!(from_flags["storage"]["data_dir"], "/from/flag/data");
    assert_eq!(from_flags["log_level"], "debug");
}

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(&file, "storage:\n  data_dri: /tmp/x\n").unwrap();
    let error = print_config(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
    assert!(error.contains("data_dri"), "{error}");

    let error = print_config(&[], &[("LOGPROC_SERVER__LISTN", "127.0.0.1:1")]).unwrap_err();
    assert!(error.contains("listn"), "{error}");
}

#[test]
fn bad_values_are_refused() {
    let error = print_config(&[], &[("LOGPROC_PIPELINE__BATCH_LINES", "0")]).unwrap_err();
    assert!(error.contains("pipeline.batch_lines must be greater than 0"), "{error}");
    let error = print_config(&["--ws-source", "http://example.invalid/"], &[]).unwrap_err();
    assert!(
        error.contains("WebSocket source `http://example.invalid/` must start with ws://"),
        "{error}"
    );
    let error = print_config(&["--config", "/no/such/config.yaml"], &[]).unwrap_err();
    assert!(
        error.contains("config file /no/such/config.yaml does not exist"),
        "{error}"
    );
}
