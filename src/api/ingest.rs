//! `POST /ingest`: lines in a request body (plain, NDJSON, or a JSON array
//! of records), answered once they are committed; and what the shippers'
//! endpoints share with it: the body read and decoded, batches sent.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::ingest::shipped::{BatchLimits, Group, Shipment};
use crate::ingest::sniff;
use crate::pipeline::route::{AUTO, ParserOptions, Sniffer};
use crate::pipeline::{BatchBuilder, Counted, Parser, Progress, SourceContext, SourceId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    parser: Option<String>,
    source: Option<String>,
    /// A format of the library, or `auto` (the default: detected from the
    /// body's first lines).
    format: Option<String>,
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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    committing(&state)?;
    let parser = match (&query.source, &query.parser, &query.format) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::BadRequest(
                "give `source`, or `parser` and `format`, not both: a source names its parser and format".into(),
            ));
        }
        (Some(source), None, None) => source_parser(&state, source)?,
        (None, parser, format) => ingest_parser(&state, parser.as_deref().unwrap_or(AUTO), format.as_deref()).await?,
    };
    let (body, _room) = read_body(&state, headers, body, false).await?;
    let limits = shipment_limits(&state);
    // A parser named for the lines reads every record as it is.
    let envelopes = matches!(parser, Parser::Auto { .. });
    let shipment = decoded(move || {
        let mut shipment = Shipment::new(limits);
        shipment.envelopes = envelopes;
        crate::ingest::records::read(&body, &mut shipment);
        Ok(shipment)
    })
    .await?;
    let total = send_groups(&state, shipment.into_groups(), Some(&parser)).await?;
    Ok(Json(IngestResponse {
        accepted: total.parsed,
        invalid: total.invalid,
    }))
}

/// The size of a request's batches, as the pipeline settings say.
pub(super) fn shipment_limits(state: &AppState) -> BatchLimits {
    let limits = state.ingest_limits;
    BatchLimits {
        batch_lines: limits.batch_lines,
        batch_bytes: limits.batch_bytes,
        max_line_bytes: limits.max_line_bytes,
    }
}

/// Runs a decoder of a body (CPU work) off the async runtime's threads.
pub(super) async fn decoded(
    decode: impl FnOnce() -> Result<Shipment, ApiError> + Send + 'static,
) -> Result<Shipment, ApiError> {
    tokio::task::spawn_blocking(decode)
        .await
        .map_err(|error| match error.is_panic() {
            true => ApiError::Internal(anyhow::anyhow!("decoding a request failed: {error}")),
            false => ApiError::Unavailable("the service is shutting down".into()),
        })?
}

/// Refuses a request while lines cannot be committed: not a byte is read.
pub(super) fn committing(state: &AppState) -> Result<(), ApiError> {
    match state.health.failing() {
        Some(reason) => Err(ApiError::Unavailable(format!(
            "lines cannot be committed now ({reason}); retry later"
        ))),
        None => Ok(()),
    }
}

/// A request's body, read within `ingest.max_body_bytes` and decoded as its
/// `Content-Encoding` says, with its share of the room for bodies (held
/// while it is handled). `compressed`: the body is compressed even without
/// a coding (Loki's snappy), so room is held for what it decompresses to.
pub(super) async fn read_body(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
    compressed: bool,
) -> Result<(Bytes, OwnedSemaphorePermit), ApiError> {
    let limit = state.ingest_limits.max_body_bytes;
    let encoded = headers.contains_key(header::CONTENT_ENCODING);
    // Room for what a compressed body decompresses to, as well.
    let extra = if encoded || compressed { limit } else { 0 };
    let read = state
        .bodies
        .read(&headers, body, limit, extra, || {
            format!("the body is larger than ingest.max_body_bytes ({limit} bytes); send it in parts")
        })
        .await?;
    let body = match encoded {
        false => read.bytes,
        true => {
            let bytes = read.bytes;
            tokio::task::spawn_blocking(move || super::encoding::decode(&headers, bytes, limit))
                .await
                .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))??
        }
    };
    Ok((body, read.room))
}

/// Sends a shipment's batches, each group's lines read by `parser` in the
/// format its first lines are in (without one, its plugin removed, they are
/// invalid), and returns their counts once all are committed.
pub(super) async fn send_groups(
    state: &AppState,
    groups: Vec<Group>,
    parser: Option<&Parser>,
) -> Result<Counted, ApiError> {
    let mut acks = Vec::new();
    for Group { mut context, batches } in groups {
        let mut sniffer = Some(Sniffer::default());
        for mut builder in batches {
            if let Some(parser) = parser.filter(|_| !builder.text().is_empty()) {
                sniff(&mut sniffer, parser, &builder, &mut context).await;
            }
            acks.push(send(state, &mut builder, acks.len(), parser, &context).await?);
        }
    }
    acknowledged(acks).await
}

/// The sum of the counts of batches sent, once all are committed.
async fn acknowledged(acks: Vec<oneshot::Receiver<Counted>>) -> Result<Counted, ApiError> {
    let mut total = Counted::default();
    for acked in acks {
        let counted = acked.await.map_err(|_| shutting_down())?;
        total.parsed += counted.parsed;
        total.invalid += counted.invalid;
    }
    Ok(total)
}

/// The current parser of the configured HTTP source `name`.
fn source_parser(state: &AppState, name: &str) -> Result<Parser, ApiError> {
    let choice = state.http_sources.get(name).ok_or_else(|| {
        let mut known: Vec<_> = state.http_sources.keys().map(String::as_str).collect();
        known.sort_unstable();
        ApiError::BadRequest(format!(
            "unknown source `{name}`; configured (sources.http): {}",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ))
    })?;
    choice.current().map_err(ApiError::BadRequest)
}

/// The current parser `name` names (a plugin as loaded now, or `auto`),
/// reading `format` if given. A new choice is checked (the plugin's
/// `configure` run) off the async runtime, with no lock held.
async fn ingest_parser(state: &AppState, name: &str, format: Option<&str>) -> Result<Parser, ApiError> {
    let unknown = || {
        let mut known: Vec<_> = state.parsers.catalog().plugins().into_keys().collect();
        known.push(AUTO.to_owned());
        known.sort_unstable();
        ApiError::BadRequest(format!("unknown parser `{name}`; known: {}", known.join(", ")))
    };
    if name != AUTO && state.parsers.catalog().get(name).is_none() {
        return Err(unknown());
    }
    let key = (name.to_owned(), format.unwrap_or(AUTO).to_owned());
    let known = lock(&state.ingest_choices).get(&key).cloned();
    let choice = match known {
        Some(choice) => choice,
        None => {
            let options = ParserOptions {
                format: format.map(str::to_owned),
                ..ParserOptions::parser(name)
            };
            let parsers = state.parsers.clone();
            let chosen = tokio::task::spawn_blocking(move || parsers.choose_options(&options))
                .await
                .map_err(|error| match error.is_panic() {
                    true => ApiError::Internal(anyhow::anyhow!("choosing a parser failed: {error}")),
                    false => ApiError::Unavailable("the service is shutting down".into()),
                })?
                .map_err(|error| ApiError::BadRequest(format!("{error:#}")))?;
            // Two first requests may race: the first choice stored is kept.
            lock(&state.ingest_choices).entry(key).or_insert(chosen).clone()
        }
    };
    choice.current().map_err(|_| unknown())
}

/// The choices made so far. No plugin code runs under this lock, so a
/// panic cannot poison it; if one did, the map is still whole.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Queues the builder's lines as one batch; the receiver gets its counts
/// once they are committed.
async fn send(
    state: &AppState,
    builder: &mut BatchBuilder,
    seq: usize,
    parser: Option<&Parser>,
    context: &SourceContext,
) -> Result<oneshot::Receiver<Counted>, ApiError> {
    let (ack, acked) = oneshot::channel();
    let mut batch = builder.take(
        &SourceId::from("http"),
        seq as u64,
        Progress::Untracked,
        parser.cloned(),
        context,
    );
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
