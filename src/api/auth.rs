//! Bearer tokens: `server.read_token` for the read endpoints,
//! `server.ingest_token` for ingest, `plugins.upload_token` for changing
//! plugins.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState};

/// The configured tokens; `None` leaves that group of endpoints open.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub read: Option<String>,
    pub ingest: Option<String>,
}

/// Checks the request's bearer token against `token`, the value of the
/// setting `key`: a missing or wrong one is a 401.
pub fn check(token: &str, key: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer);
    match given {
        Some(given) if same_secret(given.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("wrong bearer token".into())),
        None => Err(ApiError::Unauthorized(format!(
            "missing `Authorization: Bearer <{key}>` header"
        ))),
    }
}

/// The token of an `Authorization` value of the Bearer scheme, whose name
/// is case-insensitive (RFC 9110 §11.1), after one or more spaces.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Layer of the read endpoints.
pub async fn require_read(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(token) = &state.tokens.read {
        check(token, "server.read_token", request.headers())?;
    }
    Ok(next.run(request).await)
}

/// Layer of the ingest endpoints.
pub async fn require_ingest(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(token) = &state.tokens.ingest {
        check(token, "server.ingest_token", request.headers())?;
    }
    Ok(next.run(request).await)
}

/// Compares in time that does not depend on where the bytes differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc"] {
            assert_eq!(bearer(value), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearerabc", "Bearer", "Bear abc"] {
            assert_eq!(bearer(value), None, "{value}");
        }
    }
}
