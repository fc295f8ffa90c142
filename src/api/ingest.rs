//! `POST /ingest`: lines in a request body, answered once they are committed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use tokio::sync::oneshot;

use crate::pipeline::{BatchBuilder, Counted, Parser, Progress, SourceId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    parser: Option<String>,
}

/// Lines parsed, and lines that could not be (blank lines are neither).
#[derive(Debug, Serialize)]
pub struct IngestResponse {
    accepted: u64,
    invalid: u64,
}

pub async fn ingest(
    State(state): State<AppState>,
    query: Result<Query<IngestQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let name = query.parser.as_deref().unwrap_or(crate::pipeline::route::AUTO);
    let parser = state.ingest_parsers.get(name).ok_or_else(|| {
        let mut known: Vec<_> = state.ingest_parsers.keys().map(String::as_str).collect();
        known.sort_unstable();
        ApiError::BadRequest(format!("unknown parser `{name}`; known: {}", known.join(", ")))
    })?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "the body is larger than ingest.max_body_bytes ({} bytes); send it in parts",
            state.ingest_limits.max_body_bytes
        )),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;

    let limits = state.ingest_limits;
    let mut acks = Vec::new();
    let mut builder = BatchBuilder::default();
    // The body is complete: a last line without a newline is a line.
    let lines = body.strip_suffix(b"\n").unwrap_or(&body);
    for line in lines.split(|&b| b == b'\n') {
        builder.push_line(line);
        if builder.is_full(limits.batch_lines, limits.batch_bytes) {
            acks.push(send(&state, &mut builder, acks.len(), parser).await?);
        }
    }
    if !builder.is_empty() {
        acks.push(send(&state, &mut builder, acks.len(), parser).await?);
    }
    let mut total = Counted::default();
    for acked in acks {
        let counted = acked.await.map_err(|_| shutting_down())?;
        total.parsed += counted.parsed;
        total.invalid += counted.invalid;
    }
    Ok(Json(IngestResponse {
        accepted: total.parsed,
        invalid: total.invalid,
    }))
}

/// Queues the builder's lines as one batch; the receiver gets its counts
/// once they are committed.
async fn send(
    state: &AppState,
    builder: &mut BatchBuilder,
    seq: usize,
    parser: &Parser,
) -> Result<oneshot::Receiver<Counted>, ApiError> {
    let (ack, acked) = oneshot::channel();
    let mut batch = builder.take(&SourceId::from("http"), seq as u64, Progress::Untracked, parser);
    batch.ack = Some(ack);
    state.batches.send(batch).await.map_err(|_| shutting_down())?;
    Ok(acked)
}

fn shutting_down() -> ApiError {
    ApiError::Unavailable(
        "the service is shutting down; this request is not acknowledged (some of its lines may have been counted)"
            .into(),
    )
}
