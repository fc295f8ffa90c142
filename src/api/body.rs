//! Request bodies, read only once the request is allowed: within a size
//! limit, a time limit (`server.body_timeout_ms`: a body trickled in byte
//! by byte is cut off), and a memory budget shared by every request
//! (`server.max_body_bytes_in_flight`: 20 clients sending 16 MiB at once
//! wait their turn instead of taking 320 MiB).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;

/// A body refused for its size is still read, up to this much, and thrown
/// away: the client then reads the 413, rather than a connection reset in
/// the middle of its send, which shippers take for a network failure and
/// send again.
const DRAIN_MAX_BYTES: u64 = 64 << 20;

/// The room for bodies, shared by every request.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    room: Arc<Semaphore>,
    room_bytes: usize,
    timeout: Duration,
}

/// A body read, and its share of the room, held while the request is
/// handled.
pub struct ReadBody {
    pub bytes: Bytes,
    pub room: OwnedSemaphorePermit,
}

impl BodyBudget {
    pub fn new(room_bytes: usize, timeout: Duration) -> BodyBudget {
        BodyBudget {
            // A semaphore counts in u32 units: bytes in KiB.
            room: Arc::new(Semaphore::new(room_bytes.div_ceil(1024))),
            room_bytes,
            timeout,
        }
    }

    /// Reads `body` of at most `limit` bytes (`too_large` says which
    /// setting that is), holding room for its `Content-Length` (or the
    /// limit, when it has none) plus `extra` bytes (what it decompresses
    /// to, say).
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
        extra: usize,
        too_large: impl Fn() -> String,
    ) -> Result<ReadBody, ApiError> {
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if let Some(length) = length.filter(|length| *length > limit as u64) {
            // A client that asked first (`Expect: 100-continue`) has sent
            // nothing, and sends nothing once told.
            let waits_for_leave = headers
                .get(header::EXPECT)
                .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            if length <= DRAIN_MAX_BYTES && !waits_for_leave {
                let _ = tokio::time::timeout(self.timeout, drain(body.into_data_stream(), 0)).await;
            }
            return Err(ApiError::TooLarge(too_large()));
        }
        let wanted = length.map_or(limit, |length| length as usize).saturating_add(extra);
        let units = wanted.min(self.room_bytes).div_ceil(1024).max(1) as u32;
        // Half the time for a place in line, half for the body (at least).
        let room = tokio::time::timeout(self.timeout / 2, self.room.clone().acquire_many_owned(units))
            .await
            .map_err(|_| {
                ApiError::Unavailable(
                    "too many request bodies are being received at once (server.max_body_bytes_in_flight); retry shortly"
                        .into(),
                )
            })?
            .expect("never closed");
        let bytes = tokio::time::timeout(self.timeout, collect(body, length, limit))
            .await
            .map_err(|_| {
                ApiError::RequestTimeout(format!(
                    "the body did not arrive within server.body_timeout_ms ({} ms)",
                    self.timeout.as_millis()
                ))
            })?
            .map_err(|error| match error {
                Collect::TooLarge => ApiError::TooLarge(too_large()),
                Collect::Failed(error) => ApiError::BadRequest(format!("cannot read the body: {error}")),
            })?;
        Ok(ReadBody { bytes, room })
    }
}

enum Collect {
    TooLarge,
    Failed(axum::Error),
}

/// The whole of `body`, if it is at most `limit` bytes.
async fn collect(body: Body, length: Option<u64>, limit: usize) -> Result<Bytes, Collect> {
    use futures_util::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let mut bytes = Vec::with_capacity(length.map_or(0, |length| length as usize));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(Collect::Failed)?;
        if bytes.len() + chunk.len() > limit {
            let seen = (bytes.len() + chunk.len()) as u64;
            drop(bytes);
            drain(chunks, seen).await;
            return Err(Collect::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// Reads and throws away the rest of a body, `seen` bytes of it read
/// already, up to [`DRAIN_MAX_BYTES`] in all.
async fn drain(mut chunks: axum::body::BodyDataStream, mut seen: u64) {
    use futures_util::StreamExt as _;
    while seen <= DRAIN_MAX_BYTES
        && let Some(Ok(chunk)) = chunks.next().await
    {
        seen += chunk.len() as u64;
    }
}
