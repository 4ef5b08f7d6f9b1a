//! One Socket Mode WebSocket: read envelopes, hand each to its own task, write the
//! acknowledgements back; keep the connection honest with pings.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::envelope::{self, Envelope, Outcome};
use crate::app::AppState;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How often warroom pings Slack; a connection silent for [`SILENT_LIMIT`] is taken for dead
/// (a half-open TCP connection never reports an error by itself).
const PING_EVERY: Duration = Duration::from_secs(10);
const SILENT_LIMIT: Duration = Duration::from_secs(30);
/// After Slack's `disconnect`, the old connection keeps answering what it already received
/// while its successor connects, for at most this long.
const RETIRE_WITHIN: Duration = Duration::from_secs(10);
/// When warroom closes a connection, how long it keeps sending the acknowledgements of the
/// envelopes it is still handling (Slack's own limit is 3 s).
const FINISH_WITHIN: Duration = Duration::from_secs(2);

/// Serves `socket` until Slack closes it, it drops, it falls silent or warroom stops. On
/// Slack's `disconnect` message `successor` is told at once, so that a new connection opens
/// while this one finishes. Returns whether Slack said `hello` (accepted the connection).
pub async fn serve(
    state: AppState,
    socket: Socket,
    successor: oneshot::Sender<()>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let (mut sink, mut stream) = socket.split();
    let (acks, mut outgoing) = mpsc::unbounded_channel::<Message>();
    let mut successor = Some(successor);
    let mut greeted = false;
    let mut heard = Instant::now();
    let mut retire_by: Option<Instant> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    // `true`: warroom closes the connection (a refresh, or stopping) and answers what it holds
    // first; `false`: the connection is gone.
    let closing = loop {
        let retire = async {
            match retire_by {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = stream.next() => {
                heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        // A lone surrogate escape is read as U+FFFD, and the envelope refused as not UTF-8.
                        let (text, not_unicode) = crate::input::lossy_json(&text);
                        let Ok(message) = serde_json::from_str::<Value>(&text) else {
                            tracing::warn!("Socket Mode sent a frame that is not JSON; ignored");
                            continue;
                        };
                        let kind = message["type"].as_str().map(str::to_string);
                        match kind.as_deref() {
                            Some("hello") => {
                                greeted = true;
                                tracing::info!(connections = %message["num_connections"], "Socket Mode connection open");
                            }
                            Some("disconnect") => {
                                tracing::info!(reason = %message["reason"], "Slack asked for a new Socket Mode connection");
                                if let Some(tx) = successor.take() {
                                    let _ = tx.send(());
                                }
                                retire_by.get_or_insert(Instant::now() + RETIRE_WITHIN);
                            }
                            kind => match serde_json::from_value::<Envelope>(message) {
                                Ok(envelope) => {
                                    let (state, permits, acks) = (state.clone(), permits.clone(), acks.clone());
                                    tokio::spawn(answer(state, envelope, not_unicode, permits, acks));
                                }
                                Err(e) => {
                                    tracing::info!(frame.kind = kind.unwrap_or("?"), "ignored a Socket Mode frame that is not an envelope: {e}");
                                    state.metrics.socket_envelope("other", "ignored");
                                }
                            },
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        tracing::info!(close = ?frame, "Slack closed the Socket Mode connection");
                        break false;
                    }
                    // Pings are answered by the WebSocket layer itself; pongs only prove life.
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!("Socket Mode connection lost: {e}");
                        break false;
                    }
                    None => {
                        tracing::warn!("Socket Mode connection ended without a close");
                        break false;
                    }
                }
            }
            Some(message) = outgoing.recv() => {
                if let Err(e) = sink.send(message).await {
                    tracing::warn!("Socket Mode connection lost while acknowledging: {e}");
                    break false;
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > SILENT_LIMIT {
                    tracing::warn!("Socket Mode connection silent for {}s; reconnecting", SILENT_LIMIT.as_secs());
                    break false;
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break false;
                }
            }
            _ = retire => {
                tracing::info!("closing the Socket Mode connection Slack asked to replace");
                break true;
            }
            _ = stop.changed() => break true,
        }
    };
    if closing {
        finish(sink, outgoing, acks).await;
    }
    greeted
}

/// Sends the acknowledgements of the envelopes still being handled (for at most
/// [`FINISH_WITHIN`]), then closes. Whatever Slack sent that was not started is delivered again
/// on another connection.
async fn finish(
    mut sink: SplitSink<Socket, Message>,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    acks: mpsc::UnboundedSender<Message>,
) {
    // The handlers hold the other senders: the channel ends when the last one is done.
    drop(acks);
    let answered = async {
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(FINISH_WITHIN, answered).await;
    let _ = sink.close().await;
}

/// Handles one envelope and queues its acknowledgement for the writer.
async fn answer(
    state: AppState,
    envelope: Envelope,
    not_unicode: bool,
    permits: Arc<Semaphore>,
    acks: mpsc::UnboundedSender<Message>,
) {
    // The semaphore is never closed; without a permit the envelope is simply left unacknowledged.
    let Ok(_permit) = permits.acquire().await else { return };
    if let Outcome::Ack(ack) = envelope::handle(&state, &envelope, not_unicode).await {
        // If the connection is gone the acknowledgement is lost with it; Slack repeats the
        // envelope on another connection and the repeat is recognised.
        let _ = acks.send(Message::Text(ack.into()));
    }
}
