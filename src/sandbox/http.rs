//! The sandbox over HTTP: its Web API (`/api/{method}`) and response URLs for warroom to call,
//! and a small control surface for a person at the keyboard (the page at `/sandbox`, `/command`,
//! `/click`, `/submit`, `/state`, `/files/{id}`), served on loopback only unless made public.
//! warroom serves either only in sandbox mode; the Slack side only to this machine ([`from_this_machine`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::web_api::After;
use super::Workspace;

/// The Slack side: what warroom's Web API client and response URLs reach.
pub fn api_router(workspace: Arc<Workspace>) -> Router {
    Router::new()
        // Slack takes every method's arguments in a POST body (JSON or form-encoded) or, for
        // reading, in a GET's query string (slack-morphism reads that way).
        .route("/api/{method}", post(web_api).get(web_api_query))
        .route("/response/{id}", post(response_url))
        // Slack takes files up to 1 GB; a long incident's report is tens of MiB.
        .route("/upload/{file_id}", post(upload).layer(axum::extract::DefaultBodyLimit::max(256 << 20)))
        .route("/socket", get(super::socket::connect))
        .with_state(workspace)
}

/// The person's side: the page, and what it calls to type a command, click a button, submit a
/// modal, download a file and look at the workspace. `public` (`WARROOM_SANDBOX_PUBLIC=1`)
/// serves it to any address, not only this machine's.
pub fn control_router(workspace: Arc<Workspace>, public: bool) -> Router {
    let router = Router::new()
        .route("/", get(page))
        .route("/state", get(state))
        .route("/files/{id}", get(file))
        .route("/command", post(command))
        .route("/click", post(click))
        .route("/submit", post(submit))
        .route("/openid/connect/authorize", get(super::openid::authorize).post(super::openid::choose));
    let router = if public { router } else { router.layer(axum::middleware::from_fn(loopback_only)) };
    router.with_state(workspace)
}

/// The sandbox workspace as a web page: one file, no build step, compiled in.
async fn page() -> Response {
    let headers = [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (headers, include_str!("page.html")).into_response()
}

/// An uploaded file's content, as a download under its own name.
async fn file(State(ws): State<Arc<Workspace>>, Path(id): Path<String>) -> Response {
    let Some(file) = ws.file(&id) else { return (StatusCode::NOT_FOUND, "no such file").into_response() };
    let name: String =
        file.name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    let disposition = format!("attachment; filename=\"{name}\"");
    let headers =
        [(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_DISPOSITION, disposition)];
    (headers, file.content).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

async fn web_api(
    State(ws): State<Arc<Workspace>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let params = if is_json { serde_json::from_slice(&body).unwrap_or(Value::Null) } else { form_params(&body) };
    if !params.is_object() {
        return Json(json!({ "ok": false, "error": "invalid_json" })).into_response();
    }
    carry_out(ws, method, bearer(&headers), params).await
}

/// A Web API call by GET: its arguments in the query string, as in a form body.
async fn web_api_query(
    State(ws): State<Arc<Workspace>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = form_params(query.unwrap_or_default().as_bytes());
    carry_out(ws, method, bearer(&headers), params).await
}

async fn carry_out(ws: Arc<Workspace>, method: String, bearer: Option<String>, params: Value) -> Response {
    let token = bearer.or_else(|| params["token"].as_str().map(str::to_string));
    let answer = ws.call(&method, token.as_deref(), params);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    match answer.after {
        After::Answer => {}
        // Long past any client's timeout; the client gives up and the call is dropped with it.
        After::Hang => tokio::time::sleep(Duration::from_secs(120)).await,
        After::Reset => {
            // The head goes out, then the connection drops before the body is complete.
            let broken = futures_util::stream::iter([
                Ok(Bytes::from_static(b"{\"ok\":")),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset (injected)")),
            ]);
            return (status, axum::body::Body::from_stream(broken)).into_response();
        }
    }
    let mut response = (status, Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    // Slack names the bot token's scopes on every Web API answer to it.
    let is_bot = token.as_deref() == Some(super::BOT_TOKEN);
    if let Some(scopes) =
        is_bot.then(|| header::HeaderValue::from_str(&ws.granted_scopes().join(","))).and_then(Result::ok)
    {
        response.headers_mut().insert("x-oauth-scopes", scopes);
    }
    response
}

/// Form-encoded Web API arguments; `blocks` and `view` arrive as JSON strings.
fn form_params(body: &[u8]) -> Value {
    let pairs: BTreeMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut params = serde_json::Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "blocks" | "view" => serde_json::from_str(&value).unwrap_or(Value::String(value)),
            _ => Value::String(value),
        };
        params.insert(key, value);
    }
    Value::Object(params)
}

async fn response_url(State(ws): State<Arc<Workspace>>, Path(id): Path<u64>, body: Bytes) -> StatusCode {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return StatusCode::BAD_REQUEST };
    if ws.record_response(id, &body) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

/// The upload URL `files.getUploadURLExternal` handed out: the file's bytes.
async fn upload(State(ws): State<Arc<Workspace>>, Path(file_id): Path<String>, body: Bytes) -> StatusCode {
    if ws.receive_upload(&file_id, &body) {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// The Slack side (`api_router`) answered only to warroom itself: loopback peers, or a peer
/// with the listener's own address `local` (warroom calling itself when bound to one address).
pub fn from_this_machine(router: Router, local: IpAddr) -> Router {
    router.layer(axum::middleware::from_fn_with_state(local, this_machine_only))
}

/// Whether a peer is this machine: a loopback address, or the listener's own (`local`).
fn is_this_machine(peer: Option<SocketAddr>, local: Option<IpAddr>) -> bool {
    peer.is_some_and(|p| p.ip().is_loopback() || local.is_some_and(|l| !l.is_unspecified() && p.ip() == l))
}

fn peer(request: &axum::extract::Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

fn not_here() -> Response {
    (StatusCode::FORBIDDEN, "the sandbox is only served to this machine").into_response()
}

/// The control surface acts as any user of the workspace: only this machine may use it.
async fn loopback_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if is_this_machine(peer(&request), None) {
        next.run(request).await
    } else {
        not_here()
    }
}

async fn this_machine_only(
    State(local): State<IpAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if is_this_machine(peer(&request), Some(local)) {
        next.run(request).await
    } else {
        not_here()
    }
}

/// How long `/state?since=N` waits for a change before it answers with the same state (under
/// the usual 30 s proxy and browser idle timeouts).
const LONG_POLL: Duration = Duration::from_secs(25);

#[derive(Deserialize)]
struct StateQuery {
    /// The version the caller has: wait for a newer one (a long-poll).
    since: Option<u64>,
}

/// The whole workspace and its version; with `since`, once the version is newer (or the wait is
/// over). The version is read before the state, so a change in between is only shown early.
async fn state(State(ws): State<Arc<Workspace>>, Query(query): Query<StateQuery>) -> Response {
    let version = match query.since {
        Some(since) => ws.changed_since(since, LONG_POLL).await,
        None => ws.version(),
    };
    let users = ws.users();
    let ephemerals: Vec<_> = users.iter().flat_map(|u| ws.ephemerals(&u.id)).collect();
    let mut channels = serde_json::to_value(ws.channels()).unwrap_or_default();
    // Files are listed, not inlined: the page links to `/files/{id}`.
    for message in channels.as_array_mut().into_iter().flatten().flat_map(|c| c["messages"].as_array_mut()).flatten() {
        for f in message["files"].as_array_mut().into_iter().flatten() {
            f["content"] = Value::Null;
        }
    }
    Json(
        json!({ "version": version, "users": users, "channels": channels, "ephemerals": ephemerals, "views": ws.views(),
                 "bookmarks": ws.all_bookmarks() }),
    )
    .into_response()
}

#[derive(Deserialize)]
struct CommandRequest {
    #[serde(default = "default_user")]
    user: String,
    #[serde(default = "default_channel")]
    channel: String,
    text: String,
}

fn default_user() -> String {
    "U0ALICE".into()
}

fn default_channel() -> String {
    "incidents".into()
}

/// Slack shows a slash command's immediate reply to the person who typed it: kept as an
/// ephemeral message so the page shows it too.
async fn command(State(ws): State<Arc<Workspace>>, Json(req): Json<CommandRequest>) -> Response {
    let result = ws.slash(&req.user, &req.channel, &req.text).await;
    if let Ok(reply) = &result {
        ws.record_reply(&req.user, &req.channel, reply);
    }
    relay(result)
}

#[derive(Deserialize)]
struct ClickRequest {
    #[serde(default = "default_user")]
    user: String,
    channel: String,
    /// The message's ts; absent for a button on an ephemeral message (found by its value).
    #[serde(default)]
    ts: Option<String>,
    action_id: String,
    #[serde(default)]
    value: String,
}

async fn click(State(ws): State<Arc<Workspace>>, Json(req): Json<ClickRequest>) -> Response {
    let result = match &req.ts {
        Some(ts) => ws.click(&req.user, &req.channel, ts, &req.action_id).await,
        None => ws.click_ephemeral(&req.user, &req.action_id, &req.value).await,
    };
    if let Ok(reply) = &result {
        ws.record_reply(&req.user, &req.channel, reply);
    }
    relay(result)
}

#[derive(Deserialize)]
struct SubmitRequest {
    #[serde(default = "default_user")]
    user: String,
    view_id: String,
    values: BTreeMap<String, String>,
}

async fn submit(State(ws): State<Arc<Workspace>>, Json(req): Json<SubmitRequest>) -> Response {
    let values: Vec<(&str, &str)> = req.values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    relay(ws.submit_view(&req.user, &req.view_id, &values).await)
}

fn relay(result: Result<super::actor::Reply, super::actor::ActError>) -> Response {
    match result {
        Ok(reply) => Json(json!({ "status": reply.status, "reply": reply.json(), "body": reply.body })).into_response(),
        Err(e @ super::actor::ActError::NotFound(_)) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
        Err(e @ super::actor::ActError::Refused(_)) => (StatusCode::FORBIDDEN, e.to_string()).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Option<SocketAddr> {
        Some(addr.parse().unwrap())
    }

    #[test]
    fn only_this_machine_is_this_machine() {
        for local in ["127.0.0.1:5000", "[::1]:5000", "127.0.0.9:1"] {
            assert!(is_this_machine(peer(local), None), "{local}");
        }
        for remote in ["10.0.0.7:5000", "192.168.1.5:1", "[2001:db8::1]:443", "0.0.0.0:1"] {
            assert!(!is_this_machine(peer(remote), None), "{remote}");
        }
        assert!(!is_this_machine(None, None), "no peer address: refused");
        let bound: IpAddr = "192.168.1.5".parse().unwrap();
        assert!(is_this_machine(peer("192.168.1.5:40000"), Some(bound)), "warroom calling its own address");
        assert!(!is_this_machine(peer("192.168.1.6:40000"), Some(bound)));
        assert!(!is_this_machine(peer("0.0.0.0:1"), Some("0.0.0.0".parse().unwrap())));
    }
}
