//! Bearer tokens for reads and ingest (`server.read_token`,
//! `server.ingest_token`); `/healthz` stays open.

use crate::helpers::{App, Dirs};

#[test]
fn read_and_ingest_tokens_guard_their_endpoints_and_nothing_else() {
    let dirs = Dirs::new();
    let config = dirs.root.path().join("tokens.yaml");
    std::fs::write(
        &config,
        "server:\n  read_token: reader-secret\n  ingest_token: ingester-secret\n",
    )
    .unwrap();
    let app = App::spawn(&dirs, &["--config", config.to_str().unwrap()]);

    assert_eq!(app.request("GET", "/healthz", None, b"").0, 200);
    for path in ["/stats", "/stats/auth", "/sources", "/plugins", "/ws/logs"] {
        let (status, body) = app.request("GET", path, None, b"");
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            body["error"], "missing `Authorization: Bearer <server.read_token>` header",
            "{path}"
        );
        // The ingest token is not a read token.
        let (status, body) = app.request("GET", path, Some("ingester-secret"), b"");
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("wrong bearer token")),
            "{path}"
        );
    }
    assert_eq!(app.request("GET", "/stats", Some("reader-secret"), b"").0, 200);
    // The scheme's name is case-insensitive.
    for scheme in ["bearer", "BEARER"] {
        let request = format!(
            "GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: {scheme} reader-secret\r\nConnection: close\r\n\r\n"
        );
        let response = app.raw(request.as_bytes());
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    let line = b"{\"level\":\"ERROR\",\"service\":\"auth\"}\n";
    let (status, body) = app.request("POST", "/ingest", None, line);
    assert_eq!(status, 401);
    assert_eq!(
        body["error"],
        "missing `Authorization: Bearer <server.ingest_token>` header"
    );
    let (status, _) = app.request("POST", "/ingest", Some("reader-secret"), line);
    assert_eq!(status, 401);
    let (status, body) = app.request("POST", "/ingest", Some("ingester-secret"), line);
    assert_eq!((status, body), (200, serde_json::json!({"accepted": 1, "invalid": 0})));

    // Refused requests counted nothing.
    let (status, stats) = app.request("GET", "/stats", Some("reader-secret"), b"");
    assert_eq!(status, 200);
    assert_eq!(
        (stats["lines"].as_u64(), stats["levels"]["ERROR"].as_u64()),
        (Some(1), Some(1))
    );
    // The upload token is its own: unset, uploads stay disabled.
    let (status, _) = app.request("PUT", "/plugins/x", Some("reader-secret"), b"\0asm");
    assert_eq!(status, 403);
}
