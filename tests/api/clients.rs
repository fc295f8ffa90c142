//! Slow, idle and greedy HTTP clients: a request's head must arrive in
//! time, idle connections are closed, connections are limited, bodies are
//! read only once allowed and share a bounded room, and the open-files
//! limit is raised at start.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{App, Dirs};

fn app_with(config: &str) -> (Dirs, App) {
    let dirs = Dirs::new();
    let path = dirs.root.path().join("clients.yaml");
    std::fs::write(&path, config).unwrap();
    let app = App::spawn(&dirs, &["--config", path.to_str().unwrap()]);
    (dirs, app)
}

/// Reads from `stream` until the service closes it; what it sent.
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn slow_heads_and_idle_connections_are_cut_off_and_connections_limited() {
    let (_dirs, app) = app_with("server:\n  header_timeout_ms: 500\n  max_connections: 4\n");
    // A header line every 100 ms, for 10 s unless cut off: the head must be
    // whole within 500 ms.
    let mut slow = TcpStream::connect(app.addr).unwrap();
    slow.write_all(b"GET /stats HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut cut_off = false;
    for i in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        if slow.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).is_err() {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "a head trickled for 10 s was not cut off");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // A kept-alive connection is closed after 500 ms idle.
    let mut idle = TcpStream::connect(app.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let started = Instant::now();
    let response = read_until_closed(&mut idle);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let idle_for = started.elapsed();
    assert!(
        idle_for >= Duration::from_millis(400) && idle_for < Duration::from_secs(5),
        "{idle_for:?}"
    );

    // Four connections that send nothing take every slot: a fifth is
    // served once they are cut off, not before.
    let silent: Vec<_> = (0..4).map(|_| TcpStream::connect(app.addr).unwrap()).collect();
    let started = Instant::now();
    let response = app.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    drop(silent);

    // WebSocket streams keep their connection's slot once upgraded.
    let streams: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(app.addr).unwrap();
            stream
                .write_all(
                    b"GET /ws/logs?interval_ms=1000 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                      Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                      Sec-WebSocket-Version: 13\r\n\r\n",
                )
                .unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 101");
            stream
        })
        .collect();
    let mut waiting = TcpStream::connect(app.addr).unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert!(waiting.read(&mut [0; 1]).is_err(), "served past the limit");
    drop(streams);
    waiting.set_read_timeout(None).unwrap();
    let response = read_until_closed(&mut waiting);
    assert!(response.contains("200 OK"), "{response}");
}

#[test]
fn the_open_files_limit_is_raised_to_its_hard_limit() {
    let dirs = Dirs::new();
    let mut command = App::serve_command(&dirs, &["--listen", "127.0.0.1:0"]);
    // SAFETY: getrlimit and setrlimit only touch the struct passed.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = limit.rlim_max.min(256);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let app = App::start(command);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", app.pid())).unwrap();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "{line}");
}

#[test]
fn bodies_are_read_only_once_allowed_and_share_a_bounded_room() {
    let (_dirs, app) = app_with(
        "server:\n  body_timeout_ms: 1000\n  max_body_bytes_in_flight: 2000000\n  ingest_token: in\n\
         ingest:\n  max_body_bytes: 1000000\nplugins:\n  max_upload_bytes: 1000000\n",
    );
    // Refused by their heads: no `100 Continue`, not a byte of the body
    // read (uploads are disabled; the ingest token is missing).
    for (request, status) in [
        ("PUT /plugins/big HTTP/1.1\r\nContent-Length: 31457280\r\n", "403"),
        ("POST /ingest HTTP/1.1\r\nContent-Length: 900000\r\n", "401"),
        (
            "POST /ingest HTTP/1.1\r\nAuthorization: Bearer in\r\nContent-Length: 1000001\r\n",
            "413",
        ),
    ] {
        let response = app.raw(format!("{request}Host: x\r\nExpect: 100-continue\r\n\r\n").as_bytes());
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status}")),
            "{request}: {response}"
        );
        assert!(!response.contains("100 Continue"), "{response}");
    }

    // Two bodies of 1 MB on their way hold all the room: a third waits,
    // then is told to come back; the two, never finished, time out.
    let head = "POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer in\r\nContent-Length: 1000000\r\n\r\n";
    let mut slow: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(app.addr).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&[b'\n'; 1000]).unwrap();
            stream
        })
        .collect();
    // Their heads are read when the service takes their room.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(app.addr).unwrap();
    third.write_all(head.as_bytes()).unwrap();
    let response = read_until_closed(&mut third);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.to_ascii_lowercase().contains("retry-after: 2"), "{response}");
    assert!(response.contains("server.max_body_bytes_in_flight"), "{response}");
    for stream in &mut slow {
        let response = read_until_closed(stream);
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    }
    // The room is free again.
    let (status, body) = app.request("POST", "/ingest", Some("in"), b"{\"level\":\"INFO\"}\n");
    assert_eq!((status, &body["accepted"]), (200, &1.into()), "{body}");
}
