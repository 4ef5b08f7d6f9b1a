//! The sandbox over HTTP: its Web API (`/api/{method}`) and response URLs for warroom to call,
//! and a small control surface for a person at the keyboard (`/command`, `/click`, `/submit`,
//! `/state`), served on loopback only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Workspace;

/// The Slack side: what warroom's Web API client and response URLs reach.
pub fn api_router(workspace: Arc<Workspace>) -> Router {
    Router::new()
        .route("/api/{method}", post(web_api))
        .route("/response/{id}", post(response_url))
        .route("/upload/{file_id}", post(upload))
        .with_state(workspace)
}

/// The person's side: type a command, click a button, submit a modal, look at the workspace.
pub fn control_router(workspace: Arc<Workspace>) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/command", post(command))
        .route("/click", post(click))
        .route("/submit", post(submit))
        .layer(axum::middleware::from_fn(loopback_only))
        .with_state(workspace)
}

async fn web_api(
    State(ws): State<Arc<Workspace>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let params = if is_json { serde_json::from_slice(&body).unwrap_or(Value::Null) } else { form_params(&body) };
    if !params.is_object() {
        return Json(json!({ "ok": false, "error": "invalid_json" })).into_response();
    }
    let token = bearer.or_else(|| params["token"].as_str().map(str::to_string));
    let answer = ws.call(&method, token.as_deref(), params);
    let mut response =
        (StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK), Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
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

/// The control surface acts as any user of the workspace: only this machine may use it.
async fn loopback_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if peer.is_some_and(|p| p.ip().is_loopback()) {
        next.run(request).await
    } else {
        (StatusCode::FORBIDDEN, "the sandbox is only served to this machine").into_response()
    }
}

async fn state(State(ws): State<Arc<Workspace>>) -> Response {
    let ephemerals: Vec<_> = ws.users().iter().flat_map(|u| ws.ephemerals(&u.id)).collect();
    Json(json!({ "users": ws.users(), "channels": ws.channels(), "ephemerals": ephemerals, "views": ws.views() }))
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

async fn command(State(ws): State<Arc<Workspace>>, Json(req): Json<CommandRequest>) -> Response {
    relay(ws.slash(&req.user, &req.channel, &req.text).await)
}

#[derive(Deserialize)]
struct ClickRequest {
    #[serde(default = "default_user")]
    user: String,
    channel: String,
    ts: String,
    action_id: String,
}

async fn click(State(ws): State<Arc<Workspace>>, Json(req): Json<ClickRequest>) -> Response {
    relay(ws.click(&req.user, &req.channel, &req.ts, &req.action_id).await)
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
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
