//! Statistics and health handlers.

use std::os::unix::ffi::OsStrExt as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::stats::{self, Page, SortBy, SourceProgress, Stats};
use crate::store::{Store, StoreError};

/// Minute buckets returned by `/stats/{service}` unless `minutes` says otherwise.
const DEFAULT_MINUTES: usize = 60;
/// At most one week of minutes.
const MAX_MINUTES: usize = 10_080;

/// `ok`, or 503 with the reason while commits fail (a full disk, say).
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let reason = match state.health.failing() {
        Some(reason) => Some(format!("commits fail: {reason}")),
        // No commit may have been tried since a database went away.
        None => {
            let store = state.store.clone();
            match tokio::task::spawn_blocking(move || store.check()).await {
                Ok(Err(error)) => Some(error.to_string()),
                _ => None,
            }
        }
    };
    match reason {
        None => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "reason": reason })),
        ),
    }
}

/// `/stats` as of one commit, read once and shared by every request that
/// comes before the next: 20 readers of 100,000 services share one
/// document rather than build 20.
#[derive(Default)]
pub struct StatsCache {
    // An async lock: requests that come while it is built wait for it.
    latest: tokio::sync::Mutex<Option<CachedStats>>,
}

struct CachedStats {
    /// This writer's last commit, and other writers' version.
    seq: (u64, Option<u64>),
    stats: Arc<Stats>,
    json: Bytes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    sort: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

impl PageQuery {
    /// The page asked for; `None` when no parameter is given.
    fn page(&self, what: &str) -> Result<Option<Page>, ApiError> {
        if self.sort.is_none() && self.limit.is_none() && self.offset.is_none() {
            return Ok(None);
        }
        let sort = match self.sort.as_deref() {
            None => SortBy::Name,
            Some(text) => SortBy::parse(text)
                .ok_or_else(|| ApiError::BadRequest(format!("sort must be one of {}, got `{text}`", SortBy::NAMES)))?,
        };
        let number = |name: &str, text: &Option<String>, min: usize| -> Result<Option<usize>, ApiError> {
            text.as_deref()
                .map(|text| {
                    text.parse::<usize>().ok().filter(|n| *n >= min).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "{name} must be an integer of at least {min} ({what} to return or skip), got `{text}`"
                        ))
                    })
                })
                .transpose()
        };
        Ok(Some(Page {
            sort,
            limit: number("limit", &self.limit, 1)?,
            offset: number("offset", &self.offset, 0)?.unwrap_or(0),
        }))
    }
}

pub async fn get_stats(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let page = query.page("services")?;
    let (stats, json) = current_stats(&state).await?;
    Ok(match page {
        None => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Some(page) => Json(stats.page(page)).into_response(),
    })
}

/// `/stats` as of the last commit, and its JSON: from the cache while no
/// commit came since.
pub(super) async fn current_stats(state: &AppState) -> Result<(Arc<Stats>, Bytes), ApiError> {
    // What the store holds, read from it: a reader that has seen a commit
    // elsewhere (a checkpoint in /sources) sees it here too.
    let seq = read(state, |store| Ok((store.last_commit_seq()?, store.others_version()?))).await?;
    let mut latest = state.stats_cache.latest.lock().await;
    if let Some(cached) = &*latest
        && cached.seq == seq
    {
        return Ok((cached.stats.clone(), cached.json.clone()));
    }
    let stats = Arc::new(read(state, stats::read_stats).await?);
    let json = Bytes::from(serde_json::to_vec(&*stats).map_err(anyhow::Error::from)?);
    *latest = Some(CachedStats {
        seq,
        stats: stats.clone(),
        json: json.clone(),
    });
    Ok((stats, json))
}

/// Checkpoints, and the files of the watch directory that are not read.
pub async fn get_sources(State(state): State<AppState>) -> Result<Json<Vec<SourceProgress>>, ApiError> {
    let mut sources = read(&state, stats::read_sources).await?;
    let ignored = state.ignored.lock().expect("ignored lock poisoned").clone();
    sources.extend(ignored.into_iter().map(|(key, file)| {
        SourceProgress {
            source: stats::path_text(file.path.as_os_str().as_bytes()),
            source_bytes: file
                .path
                .to_str()
                .is_none()
                .then(|| file.path.as_os_str().as_bytes().to_vec()),
            file: key.source(),
            offset: 0,
            format: None,
            parsed: 0,
            invalid: 0,
            untimed: 0,
            size: None,
            lag_bytes: None,
            ignored: Some(file.reason),
        }
    }));
    sources.sort_by(|a, b| (&a.source, &a.file).cmp(&(&b.source, &b.file)));
    Ok(Json(sources))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceQuery {
    minutes: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

pub async fn get_service(
    State(state): State<AppState>,
    Path(service): Path<String>,
    query: Result<Query<ServiceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let page = PageQuery {
        sort: query.sort,
        limit: query.limit,
        offset: query.offset,
    }
    .page("components")?;
    let minutes = match query.minutes.as_deref() {
        None => DEFAULT_MINUTES,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_MINUTES).contains(n))
            .ok_or_else(|| bad_minutes(text))?,
    };
    let name = service.clone();
    let stats = read(&state, move |store| stats::read_service(store, &name, minutes))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no lines counted for service `{service}`")))?;
    Ok(match page {
        None => Json(stats).into_response(),
        Some(page) => Json(stats.page(page)).into_response(),
    })
}

/// Runs a store read off the async threads.
pub(super) async fn read<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || query(store.as_ref()))
        .await
        .map_err(anyhow::Error::from)?;
    result.map_err(|error| match error {
        // Counts that a restart could lose are not shown.
        StoreError::Unavailable { .. } | StoreError::Unreachable { .. } => ApiError::Unavailable(error.to_string()),
        error => ApiError::Internal(error.into()),
    })
}

fn bad_minutes(got: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "minutes must be an integer between 1 and {MAX_MINUTES}, got `{got}`"
    ))
}

/// The endpoints, for the answers to a wrong path or method.
const ENDPOINTS: &str = "GET /stats, GET /stats/{service}, GET /sources, GET /plugins, PUT and DELETE /plugins/{name}, POST /ingest, GET /ws/logs, GET /healthz";

pub async fn not_found() -> ApiError {
    ApiError::NotFound(format!("no such endpoint; the endpoints are {ENDPOINTS}"))
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; the endpoints are {ENDPOINTS}",
        uri.path()
    ))
}
