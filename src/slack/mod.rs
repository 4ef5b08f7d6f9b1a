//! Slack: ingress (signed HTTP requests, or Socket Mode: slash commands, interactions, events),
//! Block Kit rendering, and the Web API client.

pub mod api;
pub(crate) mod authorize;
pub mod blocks;
pub mod capture;
pub mod command;
mod commands;
mod connector;
mod events;
pub(crate) mod incident_commands;
mod interactions;
pub mod kit;
pub mod limiter;
pub mod limits;
pub mod manifest;
pub mod membership;
pub mod messages;
pub mod modals;
pub mod pauses;
pub mod socket;
mod submissions;
pub mod verify;
pub mod views;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use slack_morphism::events::SlackCommandEventResponse;
use slack_morphism::{SlackMessageContent, SlackMessageResponseType};

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

/// An ephemeral reply body (only the person who typed the command sees it).
fn ephemeral(text: impl Into<String>) -> SlackCommandEventResponse {
    reply(SlackMessageResponseType::Ephemeral, text, None)
}

/// The immediate answer to a slash command: its text, and blocks if any (the text is then the
/// fallback).
fn reply(
    response_type: SlackMessageResponseType,
    text: impl Into<String>,
    blocks: Option<Vec<slack_morphism::blocks::SlackBlock>>,
) -> SlackCommandEventResponse {
    let content = SlackMessageContent::new().with_text(text.into()).opt_blocks(blocks);
    SlackCommandEventResponse::new(content).with_response_type(response_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_command_reply_is_slacks_response_type_and_text() {
        assert_eq!(kit::json(&ephemeral("hi")), json!({ "response_type": "ephemeral", "text": "hi" }));
        let blocks = vec![kit::section(None, "*hi*")];
        assert_eq!(
            kit::json(&reply(SlackMessageResponseType::InChannel, "hi", Some(blocks))),
            json!({ "response_type": "in_channel", "text": "hi",
                    "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "*hi*" } }] })
        );
    }
}
