//! The endpoints log shippers already speak: OTLP/HTTP logs
//! (`POST /v1/logs`), Loki push (`POST /loki/api/v1/push`) and Loki's
//! `GET /ready`. Each answers once what it acknowledges is committed; every
//! refusal a shipper should retry is a 503 with `Retry-After`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};

use super::ingest::{committing, decoded, read_body, send_groups, shipment_limits};
use super::{ApiError, AppState};
use crate::config::{LokiSettings, OtlpSettings};
use crate::ingest::shipped::Shipment;
use crate::ingest::{loki, otlp};
use crate::pipeline::{Parser, ParserHandle};

/// What the shipper endpoints read records with.
pub struct Shippers {
    pub otlp: OtlpSettings,
    pub loki: LokiSettings,
    /// The parsers of records that carry only a line.
    pub otlp_parser: ParserHandle,
    pub loki_parser: ParserHandle,
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `POST /v1/logs`: an `ExportLogsServiceRequest`, answered in its own
/// content type; errors are a `google.rpc.Status`, as OTLP/HTTP says.
pub async fn otlp_logs(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let encoding = match media_type(&headers).as_deref() {
        // The second is what some clients send.
        Some(PROTOBUF | "application/protobuf") => otlp::Encoding::Protobuf,
        Some(JSON) => otlp::Encoding::Json,
        other => {
            let error = ApiError::UnsupportedMediaType(format!(
                "Content-Type `{}` is not OTLP/HTTP: send {PROTOBUF} or {JSON}",
                crate::plugin::shown(other.unwrap_or("none"), 64)
            ));
            return otlp_error(error, otlp::Encoding::Protobuf);
        }
    };
    match export(&state, headers, body, encoding).await {
        Ok(response) => otlp_body(StatusCode::OK, &response, encoding),
        Err(error) => otlp_error(error, encoding),
    }
}

async fn export(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
    encoding: otlp::Encoding,
) -> Result<ExportLogsServiceResponse, ApiError> {
    committing(state)?;
    let (body, _room) = read_body(state, headers, body, false).await?;
    let (limits, shippers) = (shipment_limits(state), state.shippers.clone());
    let parser = state.shippers.otlp_parser.current().ok();
    let envelopes = matches!(parser, Some(Parser::Auto { .. }));
    let shipment = decoded(move || {
        let mut shipment = Shipment::new(limits);
        shipment.envelopes = envelopes;
        otlp::decode(&body, encoding, &shippers.otlp, &mut shipment).map_err(ApiError::BadRequest)?;
        Ok(shipment)
    })
    .await?;
    let first_refusal = shipment.first_refusal.clone();
    let counted = send_groups(state, shipment.into_groups(), parser.as_ref()).await?;
    let partial_success = (counted.invalid > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: counted.invalid as i64,
        error_message: first_refusal.unwrap_or_else(|| {
            format!(
                "{} records have no severity and a body the parser `{}` cannot read; they are counted as invalid",
                counted.invalid, state.shippers.otlp.parser
            )
        }),
    });
    Ok(ExportLogsServiceResponse { partial_success })
}

/// `POST /loki/api/v1/push`: a `PushRequest` in snappy-compressed protobuf
/// (Promtail, Alloy) or JSON (`Content-Type: application/json`); 204 once
/// committed.
pub async fn loki_push(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<StatusCode, ApiError> {
    let encoding = match media_type(&headers).as_deref() {
        Some(JSON) => loki::Encoding::Json,
        // Loki reads every other type as protobuf.
        _ => loki::Encoding::SnappyProtobuf,
    };
    committing(&state)?;
    let compressed = encoding == loki::Encoding::SnappyProtobuf;
    let (body, _room) = read_body(&state, headers, body, compressed).await?;
    let limit = state.ingest_limits.max_body_bytes;
    let (limits, shippers) = (shipment_limits(&state), state.shippers.clone());
    let parser = state.shippers.loki_parser.current().ok();
    let envelopes = matches!(parser, Some(Parser::Auto { .. }));
    let shipment = decoded(move || {
        let mut shipment = Shipment::new(limits);
        shipment.envelopes = envelopes;
        loki::decode(&body, encoding, limit, &shippers.loki, &mut shipment).map_err(|refused| match refused {
            loki::Refused::Invalid(message) => ApiError::BadRequest(message),
            loki::Refused::TooLarge(length) => ApiError::TooLarge(format!(
                "the body decompresses to {length} bytes, more than ingest.max_body_bytes ({limit} bytes); send it in parts"
            )),
        })?;
        Ok(shipment)
    })
    .await?;
    send_groups(&state, shipment.into_groups(), parser.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /ready`, as Loki has it: 200 while lines can be committed.
pub async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    committing(&state)?;
    Ok("ready\n")
}

/// The request's media type, lowercased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// `google.rpc.Status`, the body of OTLP/HTTP's errors.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn otlp_error(error: ApiError, encoding: otlp::Encoding) -> Response {
    error.log();
    let status = error.status();
    // gRPC's codes for the same conditions (google.rpc.Code).
    let code = match status {
        StatusCode::BAD_REQUEST => 3,
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::FORBIDDEN => 7,
        StatusCode::REQUEST_TIMEOUT => 4,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        _ => 13,
    };
    let body = Status {
        code,
        message: error.to_string(),
    };
    let mut response = otlp_body(status, &body, encoding);
    for (name, value) in error.headers() {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

fn otlp_body<M: prost::Message + serde::Serialize>(
    status: StatusCode,
    message: &M,
    encoding: otlp::Encoding,
) -> Response {
    let (content_type, bytes) = match encoding {
        otlp::Encoding::Protobuf => (PROTOBUF, message.encode_to_vec()),
        otlp::Encoding::Json => (JSON, serde_json::to_vec(message).expect("a message serializes")),
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Bytes::from(bytes),
    )
        .into_response()
}
