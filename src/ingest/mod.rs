//! Sources of lines: the watched directory (with its file readers) and
//! WebSocket streams, and the decoders of what log shippers send (OTLP,
//! Loki push) into batches. (HTTP ingest is a handler: `api::ingest`.)

pub mod file;
pub mod loki;
pub mod otlp;
pub mod records;
pub mod shipped;
pub mod watch;
pub mod websocket;

use crate::pipeline::route::Sniffer;
use crate::pipeline::{BatchBuilder, Parser, SourceContext};

/// Offers a stream's batch to its sniffer, which chooses the stream's
/// format (plugin code: run off the async runtime). `sniffer` is `None`
/// while it is lent out, and after the blocking task failed.
pub async fn sniff(
    sniffer: &mut Option<Sniffer>,
    parser: &Parser,
    builder: &BatchBuilder,
    context: &mut SourceContext,
) {
    let Some(mut sniffing) = sniffer.take().filter(|sniffer| !sniffer.is_done()) else {
        return;
    };
    let (parser, sample) = (parser.clone(), builder.text().to_owned());
    let offered = tokio::task::spawn_blocking(move || {
        let format = sniffing.offer(&parser, &sample);
        (sniffing, format)
    })
    .await;
    if let Ok((sniffing, format)) = offered {
        if let Some(format) = format {
            context.format = format;
        }
        *sniffer = Some(sniffing);
    }
}
