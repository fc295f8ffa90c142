//! Configuration precedence (defaults < file < environment < flags),
//! `--print-config`, and the messages for mistakes in settings.

use serde_json::Value;

use crate::helpers::{App, Dirs, logproc};

/// `serve --print-config`: its YAML as a document, or the error.
fn print_config(args: &[&str], env: &[(&str, &str)]) -> Result<Value, String> {
    print_config_text(args, env).map(|text| yaml_to_json(&text))
}

fn print_config_text(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let output = logproc()
        .args(["serve", "--print-config"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Reads YAML with a YAML parser (not logproc's code) into JSON values.
fn yaml_to_json(text: &str) -> Value {
    use yaml_rust2::{Yaml, YamlLoader};
    fn convert(yaml: &Yaml) -> Value {
        match yaml {
            Yaml::Null => Value::Null,
            Yaml::Boolean(value) => Value::Bool(*value),
            Yaml::Integer(value) => Value::from(*value),
            Yaml::Real(text) => Value::from(text.parse::<f64>().unwrap()),
            Yaml::String(text) => Value::from(text.as_str()),
            Yaml::Array(items) => Value::Array(items.iter().map(convert).collect()),
            Yaml::Hash(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.as_str().unwrap().to_owned(), convert(value)))
                    .collect(),
            ),
            other => panic!("unexpected YAML node {other:?}"),
        }
    }
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|error| panic!("not YAML: {error}\n{text}"));
    assert_eq!(docs.len(), 1, "{text}");
    convert(&docs[0])
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

    // From the environment, the message names the variable.
    let error = print_config(&[], &[("LOGPROC_SERVER__LISTN", "127.0.0.1:1")]).unwrap_err();
    assert!(
        error.contains("invalid configuration from the environment (LOGPROC_SERVER__LISTN)")
            && error.contains("unknown field `listn`"),
        "{error}"
    );
    let env = [("LOGPROC_STORAGE__CACHE_MIB", "lots"), ("LOGPROC_LOG_LEVEL", "warn")];
    let error = print_config(&[], &env).unwrap_err();
    assert!(
        error.contains("from the environment (LOGPROC_STORAGE__CACHE_MIB)"),
        "{error}"
    );
}

#[test]
fn bad_values_are_refused() {
    let error = print_config(&[], &[("LOGPROC_PIPELINE__BATCH_LINES", "0")]).unwrap_err();
    assert!(error.contains("pipeline.batch_lines must be greater than 0"), "{error}");
    let error = print_config(&["--ws-source", "http://example.invalid/"], &[]).unwrap_err();
    assert!(
        error.contains("WebSocket source `http://example.invalid/` is not a WebSocket URL: it must start with ws://"),
        "{error}"
    );
    let error = print_config(&["--ws-source", "wss://example.invalid/"], &[]).unwrap_err();
    assert!(error.contains("wss:// (TLS) is not supported"), "{error}");
    let error = print_config(&["--config", "/no/such/config.yaml"], &[]).unwrap_err();
    assert!(
        error.contains("config file /no/such/config.yaml does not exist"),
        "{error}"
    );
}

#[test]
fn print_config_round_trips_and_never_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.yaml");
    std::fs::write(
        &file,
        "routes:\n  - glob: \"*.app\"\n    parser: regex\n    settings:\n      pattern: '^(?P<level>\\w+): (?P<message>.*)$'\n\
         sources:\n  http:\n    - {name: legacy, parser: json}\n",
    )
    .unwrap();
    let secrets = [
        ("LOGPROC_PLUGINS__UPLOAD_TOKEN", "upload-s3cret"),
        ("LOGPROC_SERVER__READ_TOKEN", "read-s3cret"),
        ("LOGPROC_SERVER__INGEST_TOKEN", "ingest-s3cret"),
    ];
    let printed = print_config_text(&["--config", file.to_str().unwrap()], &secrets).unwrap();
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(!printed.contains("token:"), "{printed}");
    assert!(
        printed.contains(
            "# plugins.upload_token is set but not shown: set it again here or as LOGPROC_PLUGINS__UPLOAD_TOKEN."
        ),
        "{printed}"
    );
    let document = yaml_to_json(&printed);
    assert_eq!(
        document["routes"][0]["settings"]["pattern"],
        r"^(?P<level>\w+): (?P<message>.*)$"
    );
    assert_eq!(document["sources"]["http"][0]["name"], "legacy");

    // Saved and read back, it gives the same settings, without the secrets.
    let saved = dir.path().join("saved.yaml");
    std::fs::write(&saved, &printed).unwrap();
    let again = print_config_text(&["--config", saved.to_str().unwrap()], &[]).unwrap();
    assert_eq!(yaml_to_json(&again), document);
    assert!(!again.contains("is set but not shown"), "{again}");

    // A service started from the saved copy has uploads off, whatever the
    // caller guesses as a token.
    let dirs = Dirs::new();
    let app = App::spawn(&dirs, &["--config", saved.to_str().unwrap()]);
    for token in ["(not set)", "(set)", "", "upload-s3cret"] {
        let (status, body) = app.put("/plugins/x", Some(token), b"\0asm");
        assert_eq!(status, 403, "token {token:?}: {body}");
    }
    // And reads stay open: the read token was not saved either.
    assert_eq!(app.get("/stats").0, 200);
}

#[test]
fn mistakes_in_settings_get_messages_that_say_what_to_do() {
    // A host name is resolved.
    let config = print_config(&["--listen", "localhost:8080"], &[]).unwrap();
    assert_eq!(config["server"]["listen"], "localhost:8080");
    let error = print_config(&["--listen", "no-such-host.invalid:80"], &[]).unwrap_err();
    assert!(
        error.contains("server.listen `no-such-host.invalid:80` is not a HOST:PORT address that resolves"),
        "{error}"
    );
    let error = print_config(&["--listen", "127.0.0.1"], &[]).unwrap_err();
    assert!(error.contains("server.listen `127.0.0.1`"), "{error}");

    // A config file of another name says which names are read.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("logproc.conf");
    std::fs::write(&conf, "log_level: warn\n").unwrap();
    let error = print_config(&["--config", conf.to_str().unwrap()], &[]).unwrap_err();
    assert!(error.contains("the name must end in .yaml or .yml"), "{error}");

    // A log level that is none.
    let error = print_config(&[], &[("LOGPROC_LOG_LEVEL", "verbose")]).unwrap_err();
    assert!(
        error
            .contains("log_level `verbose`: `verbose` is not a level; use one of trace, debug, info, warn, error, off"),
        "{error}"
    );
    for good in ["debug", "WARN", "info,logproc::ingest=debug", "off"] {
        print_config(&[], &[("LOGPROC_LOG_LEVEL", good)]).unwrap_or_else(|error| panic!("{good}: {error}"));
    }

    // An empty token would let anyone in with an empty one.
    let error = print_config(&[], &[("LOGPROC_SERVER__INGEST_TOKEN", " ")]).unwrap_err();
    assert!(error.contains("server.ingest_token is empty"), "{error}");
}
