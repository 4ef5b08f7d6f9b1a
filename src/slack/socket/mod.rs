//! Socket Mode (`SLACK_APP_TOKEN`): instead of Slack POSTing to `/slack/*`, warroom opens
//! WebSocket connections to Slack (`apps.connections.open`) and receives the same slash
//! commands, interactions and events over them as envelopes, which it acknowledges within
//! Slack's 3 s with the same answers the HTTP endpoints give.
//!
//! Every replica holds its own connection(s); Slack spreads envelopes over all of them. A
//! connection Slack asks to refresh (`disconnect`) is replaced before it is closed; one that
//! drops or falls silent is reopened at once, then with a capped, jittered backoff while Slack
//! cannot be reached. An envelope whose acknowledgement was lost is delivered again by Slack
//! and recognised (see [`envelope`]).
//!
//! What comes from slack-morphism: the acknowledgements' payloads — `SlackCommandEventResponse`
//! for a command, `SlackInteractionResponse` for an interaction (a modal's `response_action`
//! goes back in the ack). The envelope and the ack around the payload are two small types of
//! ours, field for field slack-morphism's `SlackSocketModeEventEnvelopeParams` and
//! `SlackSocketMode*Ack`, because slack-morphism 2.31 gives no path to its
//! `models::socket_mode` from outside the crate (see [`envelope`]); `hello` and `disconnect`
//! are read by their `type` alone. The payloads stay JSON and go to the same handlers the HTTP
//! endpoints use: slack-morphism's `SlackSocketModeEvent` reads the whole envelope strictly
//! (`SlackInteractionEvent`, `SlackCommandEvent`, `SlackPushEventCallback` require fields and
//! enumerate values; even `hello` requires `connection_info.app_id` and `debug_info.host`), and
//! its listener does not handle an envelope whose payload does not match at all — it
//! acknowledges it bare and reports a protocol error (`on_message` in
//! `socket_mode/clients_manager_listener.rs`), so a field Slack adds or changes later would
//! silently drop clicks and commands.
//!
//! Why the transport (connections, reading, reconnecting) is still warroom's, from
//! slack-morphism 2.31's source (`hyper_tokio/socket_mode/`, which needs its `hyper` feature):
//! - one envelope at a time per connection: the reader task of
//!   `SlackTungsteniteWssClient::connect_spawn` awaits `on_message` — the whole handler —
//!   before it reads the next frame, so one slow envelope delays every envelope behind it on
//!   that connection past Slack's 3 s; warroom hands each envelope to its own task;
//! - a fixed 30 s between reconnection attempts (`connect_with_reconnections`, with
//!   `SlackClientSocketModeConfig::DEFAULT_RECONNECT_TIMEOUT_IN_SECONDS`), no backoff or
//!   jitter; warroom reconnects at once, then 0.5 s doubling to 30 s, jittered;
//! - `Retry-After` ignored: `try_to_connect` logs a failed `apps.connections.open` (a 429
//!   included) and waits the same fixed interval; warroom waits at least Slack's `Retry-After`;
//! - no drain on refresh: on `disconnect`, `restart_client` (`tokio_clients_manager.rs`) calls
//!   `shutdown_channel`, which marks the client destroyed and has its writer close the socket,
//!   so an envelope that arrives on it after the `disconnect` is read and dropped unacknowledged
//!   (the reader checks `destroyed` first) and any acknowledgement queued after the close is
//!   lost — Slack delivers those envelopes again, late; and the successor is opened only after
//!   the old connection is shut (a gap with one connection fewer). warroom opens the successor
//!   first and keeps handling and answering on the old one for up to 10 s;
//! - a dead connection is noticed after 5 missed pongs at 15 s (75 s); warroom's after 30 s of
//!   silence.
//!
//! Since slack-morphism 2.27 its interaction callback does return a `SlackInteractionResponse`,
//! so answering a modal in the ack is no longer a reason; the ones above are. Its listener also
//! needs its `hyper` feature, which brings a second HTTP client (hyper-rustls) and the
//! system's certificate store (`rustls-native-certs`) beside the webpki roots warroom uses.

mod connection;
pub mod envelope;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::app::AppState;
use crate::secret::Secret;
use crate::slack::api::SlackClient;

/// Connections each replica holds: two, so that one dropping never leaves the replica deaf.
pub const CONNECTIONS_PER_REPLICA: usize = 2;
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Envelopes handled at once per replica. Each holds a database connection while it runs (the
/// transaction its handler and its delivery key share), so this keeps a burst of clicks from
/// taking the pool from the job workers; an envelope takes a few milliseconds, so the rest wait
/// for far less than Slack's 3 s.
const CONCURRENT_ENVELOPES: usize = 4;

/// Holds [`CONNECTIONS_PER_REPLICA`] connections until `stop` is set.
pub async fn listen(state: AppState, app_token: Secret, stop: watch::Receiver<bool>) {
    // The gauge exists from the start, so "no connection yet" reads as 0, not as absent.
    state.metrics.socket_connection(0.0);
    let permits = Arc::new(Semaphore::new(CONCURRENT_ENVELOPES));
    let holders: Vec<_> = (0..CONNECTIONS_PER_REPLICA)
        .map(|slot| tokio::spawn(hold(state.clone(), app_token.clone(), slot, permits.clone(), stop.clone())))
        .collect();
    for holder in holders {
        let _ = holder.await;
    }
}

/// Keeps one connection open: connect, serve, and connect again when it ends.
async fn hold(
    state: AppState,
    app_token: Secret,
    slot: usize,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        let failure = match connect(&state.slack, &app_token).await {
            Ok(socket) => {
                if serve_until_replaced(&state, socket, &permits, &stop).await {
                    failures = 0;
                    continue;
                }
                // Accepted and dropped before Slack said hello: do not hammer Slack.
                anyhow::anyhow!("the connection closed before Slack said hello")
            }
            Err(e) => e,
        };
        failures += 1;
        // Slack's `Retry-After` (a 429 from apps.connections.open) when it is longer.
        let asked = failure.downcast_ref::<crate::slack::api::SlackError>().and_then(|e| e.retry_after());
        let wait = backoff(failures, slot).max(asked.unwrap_or_default());
        tracing::warn!(slot, "could not open a Socket Mode connection (retrying in {wait:?}): {failure}");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Serves `socket` until Slack asks for a replacement (the old connection then finishes on its
/// own) or the connection ends. False when it ended without Slack's `hello`.
async fn serve_until_replaced(
    state: &AppState,
    socket: connection::Socket,
    permits: &Arc<Semaphore>,
    stop: &watch::Receiver<bool>,
) -> bool {
    state.metrics.socket_connection(1.0);
    let (successor, replace) = oneshot::channel();
    let (state, permits, stop) = (state.clone(), permits.clone(), stop.clone());
    let served = tokio::spawn(async move {
        let greeted = connection::serve(state.clone(), socket, successor, permits, stop).await;
        state.metrics.socket_connection(-1.0);
        greeted
    });
    replace.await.is_ok() || served.await.unwrap_or(false)
}

/// Asks Slack for a WebSocket URL and connects to it.
async fn connect(slack: &SlackClient, app_token: &Secret) -> anyhow::Result<connection::Socket> {
    let url = slack.open_connection(app_token).await?;
    let request = url.as_str().into_client_request()?;
    // The URL carries a one-use ticket: log only where it goes.
    tracing::debug!(host = request.uri().host().unwrap_or_default(), "opening a Socket Mode connection");
    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(request))
        .await
        .map_err(|_| anyhow::anyhow!("the WebSocket handshake took longer than 10 s"))??;
    Ok(socket)
}

/// Opens one connection the way [`listen`] does, waits for Slack's `hello` (at most `within`)
/// and closes it: whether Socket Mode works with `app_token` (`warroom doctor`). Returns the
/// `hello` message. An envelope Slack sends meanwhile is left unacknowledged, so Slack sends it
/// again on one of the server's own connections.
pub async fn hello(slack: &SlackClient, app_token: &Secret, within: Duration) -> anyhow::Result<serde_json::Value> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let greeting = async {
        let mut socket = connect(slack, app_token).await?;
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame? else { continue };
            let message: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if message["type"] == "hello" {
                let _ = socket.close(None).await;
                return Ok(message);
            }
        }
        anyhow::bail!("the connection closed before Slack said hello")
    };
    tokio::time::timeout(within, greeting)
        .await
        .map_err(|_| anyhow::anyhow!("no hello within {} s", within.as_secs()))?
}

/// 0.5 s, 1 s, 2 s, … up to 30 s, with up to a quarter added so replicas do not reconnect in
/// step.
fn backoff(failures: u32, slot: usize) -> Duration {
    let base = BACKOFF_FIRST.saturating_mul(1 << failures.saturating_sub(1).min(10)).min(BACKOFF_MAX);
    let jitter = (uuid::Uuid::new_v4().as_u128() as u64 ^ slot as u64) % (base.as_millis() as u64 / 4 + 1);
    base + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's Socket Mode URLs are `wss://`: the client must get as far as a TLS handshake
    /// (rustls with its crypto provider built in) and fail with an error, never panic.
    #[tokio::test]
    async fn a_wss_url_reaches_the_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 5];
            tokio::io::AsyncReadExt::read_exact(&mut stream, &mut hello).await.unwrap();
            hello
        });
        let url = format!("wss://localhost:{port}/link/?ticket=t");
        let failed = tokio_tungstenite::connect_async(url).await;
        assert!(failed.is_err(), "nothing speaks TLS there");
        // A TLS record of type 22 (handshake): the ClientHello went out.
        assert_eq!(server.await.unwrap()[0], 22);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_bounded_jitter() {
        for (failures, base) in [(1, 500), (2, 1000), (3, 2000), (7, 30_000), (40, 30_000)] {
            let wait = backoff(failures, 0).as_millis() as u64;
            assert!((base..=base + base / 4).contains(&wait), "{failures} failures waited {wait} ms");
        }
    }
}
