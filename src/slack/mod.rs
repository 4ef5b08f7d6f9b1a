//! Slack: ingress (signed HTTP requests, or Socket Mode: slash commands, interactions, events),
//! Block Kit rendering, and the Web API client.

pub mod api;
pub(crate) mod authorize;
pub mod blocks;
pub mod capture;
pub mod command;
mod commands;
mod events;
pub(crate) mod incident_commands;
mod interactions;
pub mod limiter;
pub mod limits;
pub mod manifest;
pub mod membership;
pub mod messages;
pub mod pauses;
pub mod socket;
mod submissions;
mod users;
pub mod verify;
pub mod views;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::AppError;

/// Slack's requests are small; anything over 1 MiB is refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// `/slack/commands`, `/slack/interactions`, `/slack/events`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/slack/commands", post(commands::handle))
        .route("/slack/interactions", post(interactions::handle))
        .route("/slack/events", post(events::handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Checks the request's Slack signature against its raw body.
fn verify_request(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(), AppError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify::verify(
        state.signing_secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        state.clock.now(),
    )
    .map_err(|e| {
        tracing::warn!("refused a Slack request: {e}");
        AppError::Unauthorized(e)
    })
}

/// An ephemeral reply body.
fn ephemeral(text: impl Into<String>) -> Value {
    json!({ "response_type": "ephemeral", "text": text.into() })
}
