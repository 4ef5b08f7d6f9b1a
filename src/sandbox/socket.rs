//! The sandbox's Socket Mode. With an app token registered, `apps.connections.open` hands out
//! one-use WebSocket URLs; each connection is greeted with `hello`; the workspace's slash
//! commands, clicks, submissions and events go out as envelopes to the open connections in
//! turn and wait for their acknowledgement (whose `payload` is warroom's answer).
//!
//! Like Slack, an envelope whose connection closes or drops before it is acknowledged is sent
//! again on another connection, with `retry_attempt` counted up. Tests can ask for a refresh
//! (`disconnect`, then the connection closes), drop every connection without a close frame, or
//! lose the next acknowledgement (the connection drops as it arrives) to prove nothing is lost
//! and nothing is done twice.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::actor::{ActError, Reply};
use super::Workspace;

/// The sandbox app's app-level token (`SLACK_APP_TOKEN` for the sandbox).
pub const APP_TOKEN: &str = "xapp-1-A0WARROOM-sandbox";
/// How long an envelope waits for a connection and its acknowledgement. Slack's own limit is
/// 3 s; the sandbox allows for a reconnection in between.
const DELIVERY_LIMIT: Duration = Duration::from_secs(10);
/// A connection told to refresh is closed by the sandbox after this, if warroom has not.
const REFRESH_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(super) struct Sockets {
    /// The app token `apps.connections.open` accepts; `None` while Socket Mode is off.
    app_token: Option<String>,
    tickets: Vec<String>,
    connections: Vec<Connection>,
    pending: Vec<Pending>,
    next_connection: u64,
    turn: usize,
    lose_next_ack: bool,
    /// Envelopes sent, first deliveries and repeats alike.
    sent: u64,
}

#[derive(Debug)]
struct Connection {
    id: u64,
    frames: mpsc::UnboundedSender<Frame>,
    /// Told to refresh: gets no new envelopes.
    retiring: bool,
}

#[derive(Debug)]
enum Frame {
    Text(String),
    Close,
    /// Drop the TCP connection without a close frame.
    Drop,
}

#[derive(Debug)]
struct Pending {
    envelope_id: String,
    kind: &'static str,
    payload: Value,
    /// The payload as raw JSON text instead (which `Value` could not hold: a lone surrogate).
    raw: Option<String>,
    attempt: u32,
    /// The connection it was sent on, until acknowledged.
    on: Option<u64>,
    reply: Option<oneshot::Sender<Reply>>,
}

impl Workspace {
    /// Changes the Socket Mode state and wakes whoever waits for a change.
    fn sockets<T>(&self, f: impl FnOnce(&mut Sockets) -> T) -> T {
        let value = self.sockets_read(f);
        self.sockets_changed.notify_waiters();
        value
    }

    /// Reads the Socket Mode state (waking nobody: a waiter that reads must not wake itself).
    fn sockets_read<T>(&self, f: impl FnOnce(&mut Sockets) -> T) -> T {
        f(&mut self.sockets.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Turns Socket Mode on: `apps.connections.open` accepts `app_token`, and what people do
    /// goes to warroom over its connections instead of HTTP.
    pub fn enable_socket_mode(&self, app_token: &str) {
        self.sockets(|s| s.app_token = Some(app_token.to_string()));
    }

    pub fn socket_mode(&self) -> bool {
        self.sockets_read(|s| s.app_token.is_some())
    }

    /// Open connections (retiring ones included).
    pub fn socket_connections(&self) -> usize {
        self.sockets_read(|s| s.connections.len())
    }

    /// Envelopes sent so far, repeats included.
    pub fn envelopes_sent(&self) -> u64 {
        self.sockets_read(|s| s.sent)
    }

    /// Waits until at least `n` connections are open and none is retiring.
    pub async fn await_socket_connections(&self, n: usize) -> Result<(), ActError> {
        let ready = async {
            loop {
                let changed = self.sockets_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.sockets_read(|s| s.connections.iter().filter(|c| !c.retiring).count() >= n) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(DELIVERY_LIMIT, ready)
            .await
            .map_err(|_| ActError::Unreachable(format!("warroom did not hold {n} Socket Mode connections")))
    }

    /// Sends `disconnect` (`refresh_requested`) on every connection, as Slack does before it
    /// recycles one; they get no new envelopes and are closed after a grace period.
    pub fn refresh_sockets(self: &Arc<Self>) {
        let message = json!({ "type": "disconnect", "reason": "refresh_requested",
                              "debug_info": { "host": "sandbox" } })
        .to_string();
        let ids = self.sockets(|s| {
            for c in s.connections.iter_mut() {
                c.retiring = true;
                let _ = c.frames.send(Frame::Text(message.clone()));
            }
            s.connections.iter().map(|c| c.id).collect::<Vec<_>>()
        });
        let workspace = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REFRESH_GRACE).await;
            workspace.sockets(|s| {
                for c in s.connections.iter().filter(|c| ids.contains(&c.id)) {
                    let _ = c.frames.send(Frame::Close);
                }
            });
        });
    }

    /// Drops every connection at once, without a close frame (a network failure).
    pub fn drop_sockets(&self) {
        self.sockets(|s| {
            for c in &s.connections {
                let _ = c.frames.send(Frame::Drop);
            }
        });
    }

    /// The next acknowledgement is lost: its connection drops as it arrives, so the envelope
    /// is delivered again although warroom acted on it.
    pub fn lose_next_ack(&self) {
        self.sockets(|s| s.lose_next_ack = true);
    }

    /// `apps.connections.open`: a one-use WebSocket URL for the registered app token.
    pub(super) fn open_socket_url(&self, token: Option<&str>) -> Result<Value, &'static str> {
        let base = self.urls.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        let ws_base = base.replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
        self.sockets(|s| match (&s.app_token, token) {
            (None, _) => Err("socket_mode_disabled"),
            (_, None) => Err("not_authed"),
            (Some(expected), Some(given)) if expected != given => Err("invalid_auth"),
            _ => {
                let ticket = uuid::Uuid::new_v4().simple().to_string();
                s.tickets.push(ticket.clone());
                Ok(json!({ "url": format!("{ws_base}/socket?ticket={ticket}") }))
            }
        })
    }

    /// Delivers one envelope and waits for its acknowledgement; the reply is its payload.
    pub async fn deliver_envelope(&self, kind: &'static str, payload: Value) -> Result<Reply, ActError> {
        self.deliver(kind, payload, None).await
    }

    /// [`Workspace::deliver_envelope`] with the payload's JSON text as given, however broken
    /// (Slack's own bugs, or a forgery: `"\udc80"`, a string escape that is no Unicode).
    pub async fn deliver_raw_envelope(&self, kind: &'static str, payload: &str) -> Result<Reply, ActError> {
        self.deliver(kind, Value::Null, Some(payload.to_string())).await
    }

    async fn deliver(&self, kind: &'static str, payload: Value, raw: Option<String>) -> Result<Reply, ActError> {
        let (tx, rx) = oneshot::channel();
        let envelope_id = uuid::Uuid::new_v4().to_string();
        self.sockets(|s| {
            s.pending.push(Pending { envelope_id, kind, payload, raw, attempt: 0, on: None, reply: Some(tx) });
            send_pending(s);
        });
        match tokio::time::timeout(DELIVERY_LIMIT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => Err(ActError::Unreachable(format!("warroom did not acknowledge the {kind} envelope"))),
        }
    }

    fn connected(&self, frames: mpsc::UnboundedSender<Frame>) -> u64 {
        self.sockets(|s| {
            s.next_connection += 1;
            let id = s.next_connection;
            s.connections.push(Connection { id, frames, retiring: false });
            send_pending(s);
            id
        })
    }

    /// The connection is gone: what it had not acknowledged goes out again elsewhere.
    fn disconnected(&self, id: u64) {
        self.sockets(|s| {
            s.connections.retain(|c| c.id != id);
            for p in s.pending.iter_mut().filter(|p| p.on == Some(id)) {
                p.on = None;
                p.attempt += 1;
            }
            send_pending(s);
        });
    }

    fn acknowledged(&self, connection: u64, text: &str) {
        let Ok(ack) = serde_json::from_str::<Value>(text) else { return };
        let Some(envelope_id) = ack["envelope_id"].as_str() else { return };
        self.sockets(|s| {
            if s.lose_next_ack {
                s.lose_next_ack = false;
                if let Some(c) = s.connections.iter().find(|c| c.id == connection) {
                    let _ = c.frames.send(Frame::Drop);
                }
                return;
            }
            let Some(pos) = s.pending.iter().position(|p| p.envelope_id == envelope_id) else { return };
            let pending = s.pending.remove(pos);
            let body = if ack["payload"].is_null() { String::new() } else { ack["payload"].to_string() };
            if let Some(reply) = pending.reply {
                let _ = reply.send(Reply { status: 200, body });
            }
        });
    }
}

/// Sends every envelope not on a connection to the next open, non-retiring connection.
fn send_pending(s: &mut Sockets) {
    let open: Vec<usize> = (0..s.connections.len()).filter(|&i| !s.connections[i].retiring).collect();
    if open.is_empty() {
        return;
    }
    for p in s.pending.iter_mut().filter(|p| p.on.is_none()) {
        let connection = &s.connections[open[s.turn % open.len()]];
        s.turn += 1;
        let envelope = json!({
            "envelope_id": p.envelope_id, "type": p.kind, "payload": p.payload,
            "accepts_response_payload": p.kind != "events_api", "retry_attempt": p.attempt,
            "retry_reason": if p.attempt > 0 { "connection_closed" } else { "" },
        });
        let mut text = envelope.to_string();
        if let Some(raw) = &p.raw {
            text = text.replacen("\"payload\":null", &format!("\"payload\":{raw}"), 1);
        }
        if connection.frames.send(Frame::Text(text)).is_ok() {
            p.on = Some(connection.id);
            s.sent += 1;
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Ticket {
    ticket: String,
}

/// `GET /socket?ticket=…`: the WebSocket `apps.connections.open` pointed to. The upgrade is
/// done here on hyper's own upgrade, with tokio-tungstenite (the one warroom connects with)
/// on the upgraded connection: axum's `ws` feature would bring a second, older
/// tokio-tungstenite.
pub(super) async fn connect(
    State(ws): State<Arc<Workspace>>,
    Query(ticket): Query<Ticket>,
    mut request: Request,
) -> Response {
    let Some(key) = websocket_key(request.headers()).map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, "not a WebSocket upgrade").into_response();
    };
    let valid = ws.sockets(|s| {
        let found = s.tickets.iter().position(|t| *t == ticket.ticket);
        found.map(|i| s.tickets.remove(i)).is_some()
    });
    if !valid {
        return (StatusCode::UNAUTHORIZED, "invalid or used ticket").into_response();
    }
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            serve(ws, socket).await;
        }
    });
    let accept = derive_accept_key(key.as_bytes());
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty());
    response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `Sec-WebSocket-Key` of a well-formed WebSocket (version 13) upgrade request.
fn websocket_key(headers: &HeaderMap) -> Option<&str> {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
    };
    let version = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let upgrade = has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade");
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok());
    key.filter(|_| version && upgrade)
}

async fn serve(ws: Arc<Workspace>, mut socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) {
    let (frames, mut outgoing) = mpsc::unbounded_channel();
    // Registered before the hello is sent: envelopes queued for it meanwhile wait in `outgoing`
    // and follow the hello.
    let id = ws.connected(frames);
    let hello = json!({ "type": "hello", "num_connections": ws.socket_connections(),
        "debug_info": { "host": "sandbox", "approximate_connection_time": 18060 },
        "connection_info": { "app_id": "A0WARROOM" } });
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        ws.disconnected(id);
        return;
    }
    loop {
        tokio::select! {
            frame = outgoing.recv() => match frame {
                Some(Frame::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Frame::Close) => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                Some(Frame::Drop) | None => break,
            },
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => ws.acknowledged(id, &text),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    ws.disconnected(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[test]
    fn only_a_version_13_websocket_upgrade_has_a_key() {
        let good = [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(websocket_key(&headers(&good)), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        for missing in 0..good.len() {
            let partial: Vec<_> = good.iter().enumerate().filter(|(i, _)| *i != missing).map(|(_, p)| *p).collect();
            assert_eq!(websocket_key(&headers(&partial)), None, "without {}", good[missing].0);
        }
        let old = [good[0], good[1], ("sec-websocket-version", "8"), good[3]];
        assert_eq!(websocket_key(&headers(&old)), None);
        // RFC 6455's own example of the accept value.
        assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
