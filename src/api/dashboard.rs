//! `GET /`: the dashboard, one page embedded in the binary (its script and
//! styles inline, no build step). It reads the same endpoints any client
//! does, with the read token from the address's fragment (`/#token=...`),
//! so the page itself holds no data and is served to anyone.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("dashboard.html");

pub async fn get_dashboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Its own inline script and styles, and requests to this
            // service only.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
            ),
        ],
        PAGE,
    )
}
