//! PostgreSQL as several nodes' shared store: nodes killed in a loop, a
//! connection cut right after COMMIT, the server stopped under load; the
//! counts stay exact on every node.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::crash::{crash_config, kills, spawn_writer};
use crate::helpers::{App, Dirs, wait_for};
use crate::truth::{Rng, Truth, json_lines};

/// `logproc serve` over `dirs` as node `node` of the database at `url`.
fn node(dirs: &Dirs, node: &str, url: &str, extra: &[&str]) -> Command {
    let mut command = App::serve_command(dirs, extra);
    command
        .env("LOGPROC_STORAGE__BACKEND", "postgres")
        .env("LOGPROC_STORAGE__URL", url)
        .env("LOGPROC_NODE__ID", node)
        .args(["--listen", "127.0.0.1:0"]);
    command
}

#[test]
fn three_nodes_count_into_one_database_exactly_across_sigkills() {
    let Some(first) = Dirs::on_postgres() else { return };
    let url = first.postgres.as_ref().unwrap().url();
    let mut nodes = vec![first];
    nodes.extend((1..3).map(|_| Dirs::on("postgres")));
    let ids = ["a", "b", "c"];
    // Each node reads its own directory; two have a file that rotates.
    let files = vec![
        nodes[0].watched("a.jsonl"),
        nodes[1].watched("b.log"),
        nodes[2].watched("c.jsonl"),
        nodes[0].watched("c.jsonl"),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let configs: Vec<String> = nodes.iter().map(crash_config).collect();
    let start = |i: usize| App::start(node(&nodes[i], ids[i], &url, &["--config", &configs[i]]));
    let writer = spawn_writer(files, 2, stop.clone());
    let mut rng = Rng::new(9);
    for _ in 0..kills() / 2 {
        let apps: Vec<App> = (0..nodes.len()).map(start).collect();
        // Random moments in every life: the crashes are the point.
        for app in apps {
            std::thread::sleep(Duration::from_millis(30 + rng.below(300) as u64));
            assert!(!app.kill().success());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let truth = writer.join().unwrap();

    let apps: Vec<App> = (0..nodes.len()).map(start).collect();
    for (app, dirs) in apps.iter().zip(&nodes) {
        for entry in std::fs::read_dir(dirs.watch()).unwrap() {
            app.wait_until_read(&entry.unwrap().path());
        }
    }
    // Counters are shared: each node shows the sum of all.
    for app in &apps {
        assert_eq!(app.stats(), truth.stats());
    }
    // Checkpoints are per node.
    let postgres = nodes[0].postgres.as_ref().unwrap();
    let with_checkpoints = postgres.psql("SELECT DISTINCT node FROM checkpoints ORDER BY node");
    assert_eq!(with_checkpoints, "a\nb\nc\n");
}

#[test]
fn a_second_live_node_with_the_same_id_is_refused() {
    let Some(first) = Dirs::on_postgres() else { return };
    let url = first.postgres.as_ref().unwrap().url();
    let running = App::start(node(&first, "twin", &url, &[]));
    let second = Dirs::on("postgres");
    let output = node(&second, "twin", &url, &[]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("node id `twin` is in use"), "{stderr}");
    // Named by who holds it; the password is never shown.
    assert!(stderr.contains(&format!("pid {}", running.pid())), "{stderr}");
    assert!(!stderr.contains("test pw") && !stderr.contains("test%20pw"), "{stderr}");
}

/// A loopback proxy to the server that, while armed, forwards a message
/// holding `COMMIT` and then cuts both connections without passing the
/// answer back: the client cannot know whether the commit happened.
struct CommitCutter {
    port: u16,
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl CommitCutter {
    fn start(server_port: u16) -> CommitCutter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (armed, cuts) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (armed_in, cuts_in) = (armed.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
                    continue;
                };
                let (armed, cuts) = (armed_in.clone(), cuts_in.clone());
                let muted = Arc::new(AtomicBool::new(false));
                let (client_out, server_in) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let answers_muted = muted.clone();
                std::thread::spawn(move || pass_answers(server_in, client_out, &answers_muted));
                std::thread::spawn(move || forward_cutting(client, server, &muted, &armed, &cuts));
            }
        });
        CommitCutter { port, armed, cuts }
    }
}

/// Passes the server's answers to the client until `muted`.
fn pass_answers(mut server: TcpStream, mut client: TcpStream, muted: &AtomicBool) {
    let mut buffer = [0; 64 * 1024];
    while let Ok(read @ 1..) = server.read(&mut buffer) {
        if muted.load(Ordering::SeqCst) || client.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Passes the client's messages to the server; once armed, a COMMIT is
/// passed with its answer muted, and both connections are cut after it.
fn forward_cutting(
    mut client: TcpStream,
    mut server: TcpStream,
    muted: &AtomicBool,
    armed: &AtomicBool,
    cuts: &AtomicUsize,
) {
    let mut buffer = [0; 64 * 1024];
    while let Ok(read @ 1..) = client.read(&mut buffer) {
        let commit = buffer[..read].windows(6).any(|window| window == b"COMMIT");
        let cut = commit && armed.swap(false, Ordering::SeqCst);
        if cut {
            muted.store(true, Ordering::SeqCst);
        }
        if server.write_all(&buffer[..read]).is_err() {
            break;
        }
        if cut {
            // Let the server commit, then lose its answer.
            std::thread::sleep(Duration::from_millis(300));
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

#[test]
fn a_commit_whose_answer_is_lost_is_not_applied_twice() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let postgres = dirs.postgres.as_ref().unwrap();
    let cutter = CommitCutter::start(postgres.port());
    let url = postgres
        .url()
        .replace(&postgres.port().to_string(), &cutter.port.to_string());
    let app = App::start(node(&dirs, "n1", &url, &[]));
    let file = dirs.watched("app.jsonl");
    let mut truth = Truth::for_files("app");
    for round in 1..=3 {
        cutter.armed.store(true, Ordering::SeqCst);
        crate::helpers::append(&file, &json_lines(500, round, &mut truth));
        wait_for("the proxy to cut a commit's answer", || {
            (cutter.cuts.load(Ordering::SeqCst) == round as usize).then_some(())
        });
        app.wait_until_read(&file);
        assert_eq!(app.stats(), truth.stats(), "round {round}");
    }
    assert!(app.log_lines(&["Commits go through again"]) >= 1);
    // The database itself holds each line once.
    let parsed = postgres.psql("SELECT sum(n) FROM counts");
    assert_eq!(parsed.trim(), truth.parsed.to_string());
}

#[test]
fn the_database_stopped_under_load_loses_and_doubles_nothing() {
    let Some(mut dirs) = Dirs::on_postgres() else { return };
    let files = vec![dirs.watched("a.jsonl"), dirs.watched("b.log")];
    let stop = Arc::new(AtomicBool::new(false));
    let config = crash_config(&dirs);
    let writer = spawn_writer(files, 1, stop.clone());
    let app = App::spawn(&dirs, &["--config", &config]);
    app.wait_for_stats("some lines", |stats| stats["lines"].as_u64() > Some(500));

    dirs.postgres.as_mut().unwrap().stop();
    wait_for("/healthz to say commits fail as the database cannot be reached", || {
        let (status, body) = app.get("/healthz");
        let reason = body.to_string();
        (status == 503 && reason.contains("commits fail") && reason.contains("cannot be reached")).then_some(())
    });
    let refused = app.raw(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after:"), "{refused}");
    let (status, _) = app.get("/stats");
    assert_eq!(status, 503, "no counts are shown that the database cannot give");
    // The outage lasts a while, as lines keep coming (what it lasts for
    // is the point, not a condition).
    std::thread::sleep(Duration::from_millis(1500));

    dirs.postgres.as_mut().unwrap().resume();
    stop.store(true, Ordering::Relaxed);
    let truth = writer.join().unwrap();
    for entry in std::fs::read_dir(dirs.watch()).unwrap() {
        app.wait_until_read(&entry.unwrap().path());
    }
    assert_eq!(app.stats(), truth.stats());
    let (status, _) = app.get("/healthz");
    assert_eq!(status, 200);
}

#[test]
fn the_password_may_come_from_pgpassword() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let postgres = dirs.postgres.as_ref().unwrap();
    let without = format!("postgres://logproc@127.0.0.1:{}/logproc", postgres.port());
    let mut command = node(&dirs, "n1", &without, &[]);
    command.env("PGPASSWORD", "test pw");
    let app = App::start(command);
    assert_eq!(app.get("/healthz").0, 200);
}

#[test]
fn a_database_with_a_newer_schema_is_refused_with_the_versions() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let postgres = dirs.postgres.as_ref().unwrap();
    let app = App::spawn(&dirs, &[]);
    assert!(app.terminate().success());
    assert_eq!(postgres.psql("SELECT version FROM logproc_schema"), "3\n");
    postgres.psql("UPDATE logproc_schema SET version = 99");
    let output = App::serve_command(&dirs, &["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("has schema version 99; this logproc knows versions up to 3"),
        "{stderr}"
    );
}

#[test]
fn a_schema_2_database_is_migrated_and_keeps_its_minutes() {
    let Some(dirs) = Dirs::on_postgres() else { return };
    let postgres = dirs.postgres.as_ref().unwrap();
    let app = App::spawn(&dirs, &[]);
    assert!(app.terminate().success());
    // What a build of schema 2 left: counts by minute one row per level.
    postgres.psql(
        "DROP VIEW minute_counts; DROP TABLE minutes;
         CREATE TABLE minute_counts (service text COLLATE \"C\" NOT NULL, minute timestamptz NOT NULL,
             level text NOT NULL, n bigint NOT NULL, PRIMARY KEY (service, minute, level));
         INSERT INTO minute_counts VALUES ('api', to_timestamp(60), 'INFO', 2),
             ('api', to_timestamp(60), 'ERROR', 1), ('api', to_timestamp(120), 'WARN', 4);
         INSERT INTO counts VALUES ('api', 'db', 'INFO', 2), ('api', 'db', 'ERROR', 1), ('api', 'db', 'WARN', 4);
         UPDATE logproc_schema SET version = 2",
    );
    let app = App::spawn(&dirs, &[]);
    let (status, detail) = app.get("/stats/api?minutes=5");
    assert_eq!(status, 200, "{detail}");
    let minutes: Vec<(i64, u64, u64, u64)> = detail["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|minute| {
            let field = |name: &str| minute[name].as_u64().unwrap();
            (
                minute["start_ms"].as_i64().unwrap(),
                field("lines"),
                field("errors"),
                field("warnings"),
            )
        })
        .collect();
    assert_eq!(minutes, [(60_000, 3, 1, 0), (120_000, 4, 0, 4)]);
    assert_eq!(postgres.psql("SELECT version FROM logproc_schema"), "3\n");
    assert_eq!(
        postgres.psql("SELECT extract(epoch FROM minute)::bigint, level, n FROM minute_counts ORDER BY minute, level"),
        "60|ERROR|1\n60|INFO|2\n120|WARN|4\n"
    );
}
