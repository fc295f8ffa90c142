//! One WebSocket client's stream of generated entries, generic over the
//! socket's halves so it runs (and is tested) without a socket.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::{Generator, Profile, StreamParams};

/// WebSocket close code 1001: the server is going away.
pub const GOING_AWAY: u16 = 1001;

/// Sends one entry per message to `tx` at the requested pace until the
/// client goes away (its half `rx` ends or closes, or a send fails) or
/// `shutdown` is cancelled, which sends a close frame 1001.
pub async fn stream_logs<Tx, Rx, E>(
    mut tx: Tx,
    mut rx: Rx,
    params: StreamParams,
    seed: u64,
    shutdown: CancellationToken,
) where
    Tx: Sink<Message> + Unpin,
    Rx: Stream<Item = Result<Message, E>> + Unpin,
{
    let profiles = match &params.service {
        Some(service) => vec![Profile::for_service(service)],
        None => Profile::known(),
    };
    let mut generator = Generator::new(seed, profiles, params.levels.clone());
    let mut delay = next_delay(&params, &mut generator);
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let frame = CloseFrame { code: GOING_AWAY, reason: "server shutting down".into() };
                let _ = tx.send(Message::Close(Some(frame))).await;
                break;
            }
            incoming = rx.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                // Pings are answered by the socket itself; text from the client is ignored.
                Some(Ok(_)) => {}
            },
            _ = &mut sleep => {
                let line = generator.next_entry(crate::time::now_ms()).to_json();
                if params.debug {
                    info!(%line, "Generated.");
                }
                if tx.send(Message::Text(line.into())).await.is_err() {
                    break;
                }
                sent += 1;
                delay = next_delay(&params, &mut generator);
                sleep.as_mut().reset(Instant::now() + delay);
            }
        }
    }
    debug!(sent, "Generator stream ended.");
}

fn next_delay(params: &StreamParams, generator: &mut Generator) -> Duration {
    params
        .interval
        .unwrap_or_else(|| Duration::from_millis(generator.rng().below(1001)))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures_util::stream;

    use super::*;
    use crate::generator::{GenLevel, LevelChoice};

    /// A sink that records what it is sent.
    fn recorder() -> (impl Sink<Message, Error = ()> + Unpin, Arc<Mutex<Vec<Message>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let sink = futures_util::sink::unfold((), move |(), message| {
            log.lock().unwrap().push(message);
            async { Ok::<_, ()>(()) }
        });
        (Box::pin(sink), sent)
    }

    #[tokio::test(start_paused = true)]
    async fn sends_at_the_interval_and_closes_with_1001_on_shutdown() {
        let (tx, sent) = recorder();
        let params = StreamParams {
            interval: Some(Duration::from_millis(100)),
            service: Some("payments".into()),
            levels: LevelChoice::Fixed(GenLevel::Error),
            debug: false,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(stream_logs(
            tx,
            stream::pending::<Result<Message, ()>>(),
            params,
            1,
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(1050)).await;
        shutdown.cancel();
        task.await.unwrap();
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 11, "10 entries in 1050 ms, then the close frame");
        for message in &sent[..10] {
            let Message::Text(text) = message else {
                panic!("{message:?}")
            };
            let entry: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                (entry["service"].as_str(), entry["level"].as_str()),
                (Some("payments"), Some("ERROR"))
            );
        }
        assert!(matches!(&sent[10], Message::Close(Some(frame)) if frame.code == GOING_AWAY));
    }

    #[tokio::test(start_paused = true)]
    async fn ends_at_once_when_the_client_goes_away() {
        let (tx, sent) = recorder();
        let params = StreamParams {
            interval: Some(Duration::from_secs(10)),
            ..StreamParams::default()
        };
        let closed = stream::iter([Ok::<_, ()>(Message::Close(None))]);
        let started = Instant::now();
        stream_logs(tx, closed, params, 1, CancellationToken::new()).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(sent.lock().unwrap().is_empty());
    }
}
