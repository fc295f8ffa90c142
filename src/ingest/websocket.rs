//! A WebSocket stream as a source: each text message is a log line. A stream
//! has no offsets, so what arrives while the service is down is not seen
//! (at most once); reconnects back off exponentially up to a cap.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::file::ReadLimits;
use crate::pipeline::route::Sniffer;
use crate::pipeline::{Batch, BatchBuilder, ParserHandle, Progress, SourceContext, SourceId};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Lines wait at most this long for their batch to fill.
const LINGER: Duration = Duration::from_millis(100);

/// Subscribes to `url` until cancelled, reconnecting after every failure.
pub async fn follow_websocket(
    url: String,
    parser: ParserHandle,
    batches: async_channel::Sender<Batch>,
    limits: ReadLimits,
    cancel: CancellationToken,
) {
    let source: SourceId = format!("ws:{url}").into();
    let mut backoff = FIRST_BACKOFF;
    let mut seq = 0;
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            connected = tokio_tungstenite::connect_async(url.as_str()) => connected,
        };
        match connected {
            Ok((mut socket, _)) => {
                info!(%url, "Connected to WebSocket source.");
                backoff = FIRST_BACKOFF;
                let mut builder = BatchBuilder::default();
                let mut linger = tokio::time::interval(LINGER);
                // The format is chosen once per connection, from its first batch.
                let mut context = SourceContext::default();
                let mut sniffer = Some(Sniffer::default());
                let reason = loop {
                    let flush = tokio::select! {
                        _ = cancel.cancelled() => {
                            let _ = socket.close(None).await;
                            break None;
                        }
                        message = socket.next() => match message {
                            Some(Ok(Message::Text(text))) => {
                                builder.push_lines(text.as_bytes(), limits.max_line_bytes);
                                builder.is_full(limits.batch_lines, limits.batch_bytes)
                            }
                            Some(Ok(Message::Binary(bytes))) => {
                                builder.push_lines(&bytes, limits.max_line_bytes);
                                builder.is_full(limits.batch_lines, limits.batch_bytes)
                            }
                            Some(Ok(Message::Close(frame))) => break Some(close_reason(frame.as_ref())),
                            Some(Ok(_)) => false,
                            Some(Err(error)) => break Some(error.to_string()),
                            None => break Some("stream ended".to_owned()),
                        },
                        _ = linger.tick() => !builder.is_empty(),
                    };
                    if flush {
                        let batch = take(&mut builder, &source, seq, &parser, &mut context, &mut sniffer).await;
                        if batches.send(batch).await.is_err() {
                            return;
                        }
                        seq += 1;
                    }
                };
                if !builder.is_empty() {
                    let batch = take(&mut builder, &source, seq, &parser, &mut context, &mut sniffer).await;
                    if batches.send(batch).await.is_ok() {
                        seq += 1;
                    }
                }
                match reason {
                    None => return,
                    Some(reason) => warn!(%url, %reason, "WebSocket source disconnected; reconnecting."),
                }
            }
            Err(error) => {
                warn!(%url, %error, retry_in_ms = backoff.as_millis() as u64, "Cannot connect to WebSocket source.")
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The builder's lines as a batch, of the parser's current version; the
/// first of a connection chooses its format.
async fn take(
    builder: &mut BatchBuilder,
    source: &SourceId,
    seq: u64,
    parser: &ParserHandle,
    context: &mut SourceContext,
    sniffer: &mut Option<Sniffer>,
) -> Batch {
    let current = parser.current().ok();
    context.reference_ms = Some(crate::time::now_ms());
    if let Some(current) = &current {
        super::sniff(sniffer, current, builder, context).await;
    }
    builder.take(source, seq, Progress::Untracked, current, context)
}

/// "closed by the server (1001 going away: restarting)", from a close frame.
fn close_reason(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    let Some(frame) = frame else {
        return "closed by the server".to_owned();
    };
    let code = u16::from(frame.code);
    let name = match code {
        1000 => "normal",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1008 => "policy violation",
        1009 => "message too big",
        1011 => "server error",
        1012 => "service restart",
        1013 => "try again later",
        _ => "",
    };
    let mut reason = format!("closed by the server ({code}");
    if !name.is_empty() {
        reason += &format!(" {name}");
    }
    if !frame.reason.is_empty() {
        reason += &format!(": {}", frame.reason.as_str());
    }
    reason + ")"
}
