//! `POST /slack/commands`: verify, parse, act in one transaction, answer within Slack's 3 s.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::command::{self, Command, DeclareArgs, USAGE};
use super::incident_commands::{self, Invoker};
use super::{ephemeral, verify_request};
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::declare;
use crate::incident::store::{self, NewIncident};
use crate::jobs::{kind, queue};

/// The fields of Slack's slash command payload that warroom reads (form-encoded over HTTP, a
/// JSON object over Socket Mode).
#[derive(Debug, Deserialize)]
pub(super) struct SlashCommand {
    user_id: String,
    channel_id: String,
    #[serde(default)]
    text: String,
    trigger_id: String,
    response_url: Option<String>,
}

/// `POST /slack/commands`.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    verify_request(&state, &headers, &body)?;
    let form: SlashCommand = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("malformed slash command payload: {e}")))?;
    dispatch(&state, form).await
}

/// Acts on a slash command however it arrived; the response is the immediate reply.
pub(super) async fn dispatch(state: &AppState, mut form: SlashCommand) -> Result<Response, AppError> {
    // Control characters out (a NUL cannot even be stored), CR and U+2028 as line breaks.
    form.text = crate::sanitize::strip_controls(&form.text).into_owned();
    let reply = match command::parse(&form.text) {
        Err(e) => ephemeral(format!(":x: {}\n\n{USAGE}", e.message)),
        Ok(Command::Help) => ephemeral(USAGE),
        Ok(Command::List) => ephemeral(list(state).await?),
        Ok(Command::NotYetAvailable(sub)) => ephemeral(format!(
            ":construction: `/incident {sub}` is not available in this version of warroom yet.\n\n{USAGE}"
        )),
        Ok(Command::DeclareModal) => {
            let payload = json!({ "trigger_id": form.trigger_id, "view": "declare", "user": form.user_id,
                                  "channel": form.channel_id, "response_url": form.response_url });
            let slot = format!("trigger:{}", form.trigger_id);
            queue::enqueue(&state.db, None, kind::OPEN_MODAL, &slot, payload, state.clock.now()).await?;
            crate::jobs::wake_everywhere(state);
            // An empty 200: the modal is the answer.
            return Ok(().into_response());
        }
        Ok(Command::Incident { target, action }) => {
            let who = Invoker {
                user: &form.user_id,
                channel: &form.channel_id,
                trigger_id: &form.trigger_id,
                response_url: form.response_url.as_deref(),
            };
            match incident_commands::run(state, &who, target, action).await? {
                Some(reply) => reply,
                None => return Ok(().into_response()),
            }
        }
        Ok(Command::Declare(args)) => ephemeral(declare_from_text(state, &form, args).await?),
    };
    Ok(Json(reply).into_response())
}

async fn declare_from_text(state: &AppState, form: &SlashCommand, args: DeclareArgs) -> Result<String, AppError> {
    let title = if args.summary.is_empty() { format!("{} is down", args.service.as_str()) } else { args.summary };
    let new = NewIncident {
        title,
        service: args.service.as_str().to_string(),
        severity: args.severity,
        commander: args.commander.map_or_else(|| form.user_id.clone(), |c| c.as_str().to_string()),
        declared_by: form.user_id.clone(),
        impact: None,
        origin_channel: Some(form.channel_id.clone()),
        response_url: form.response_url.clone(),
        detected_at: None,
        runbook_url: None,
    };
    let key = format!("trigger:{}", form.trigger_id);
    let declared =
        declare::declare(&state.db, &state.settings.file, state.clock.now(), &key, "slash_command", &new).await?;
    if declared.created {
        state.metrics.declared(new.severity.as_str(), "slash_command");
    }
    crate::jobs::wake_everywhere(state);
    Ok(if declared.created {
        format!(
            ":rotating_light: Declared *{}* ({} {}). Opening its channel and announcing it in #{} now.",
            declared.number, new.severity, new.service, state.settings.file.announce_channel
        )
    } else {
        format!("*{}* was already declared from this command.", declared.number)
    })
}

async fn list(state: &AppState) -> Result<String, AppError> {
    let open = store::list_open(&state.db).await?;
    if open.is_empty() {
        return Ok(":white_check_mark: No active incidents.".into());
    }
    let mut text = format!("*Active incidents ({}):*", open.len());
    for i in open {
        let channel = i.channel_id.as_deref().map_or_else(|| "channel pending".to_string(), |c| format!("<#{c}>"));
        let ack = if i.acknowledged_at.is_some() { "acknowledged" } else { "not acknowledged" };
        text.push_str(&format!(
            "\n• *{}* {} `{}` — {} — {} — {}, {}, declared {} UTC",
            i.number(),
            i.severity(),
            i.service,
            crate::templates::escape_mrkdwn(&i.title),
            channel,
            i.status,
            ack,
            i.declared_at.format("%Y-%m-%d %H:%M"),
        ));
    }
    Ok(text)
}
