//! `GET /ws/logs`: the mock generator over WebSocket.

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::AppState;
use crate::generator::StreamParams;
use crate::generator::stream::stream_logs;

/// Parameters are checked before the upgrade: a bad one is a 400 with a
/// plain message naming it, and no socket is opened.
pub async fn ws_logs(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    slot: Option<axum::Extension<super::server::ConnectionSlot>>,
) -> Response {
    let params = match query
        .map_err(|rejection| rejection.body_text())
        .and_then(|Query(pairs)| StreamParams::parse(&pairs))
    {
        Ok(params) => params,
        Err(message) => return (StatusCode::BAD_REQUEST, message + "\n").into_response(),
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let seed = crate::time::now_ms() as u64 ^ u64::from(std::process::id()).rotate_left(32) ^ next_stream_id();
    upgrade.on_upgrade(move |socket| {
        let (tx, rx) = socket.split();
        let stream = stream_logs(tx, rx, params, seed, state.shutdown.clone());
        state.streams.track_future(async move {
            // Its connection's slot, for as long as the stream lasts.
            let _slot = slot;
            stream.await
        })
    })
}

/// Distinct seeds for streams opened in the same millisecond.
fn next_stream_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
