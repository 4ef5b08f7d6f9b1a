//! `POST /slack/commands`: verify, parse, act in one transaction, answer within Slack's 3 s.
//! Text warroom cannot take (not UTF-8, control characters) is answered with an ephemeral
//! error and changes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;

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

/// `POST /slack/commands`: the command and all it causes in one transaction.
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    verify_request(&state, &headers, &body)?;
    let form = crate::input::Form::decode(&body);
    if form.invalid_utf8 {
        tracing::warn!("refused a slash command that is not UTF-8");
        return Ok(Json(refused(NOT_UTF8)).into_response());
    }
    let form: SlashCommand = serde_json::from_value(form.to_json())
        .map_err(|e| AppError::BadRequest(format!("malformed slash command payload: {e}")))?;
    let mut tx = state.db.begin().await?;
    let reply = match dispatch(&state, &mut tx, form).await {
        Ok(reply) => reply,
        Err(e @ AppError::Unprocessable(_)) => return Ok(Json(refused(&unstorable(&e))).into_response()),
        Err(e) => return Err(e),
    };
    match tx.commit().await.map_err(AppError::from) {
        Err(e @ AppError::Unprocessable(_)) => return Ok(Json(refused(&unstorable(&e))).into_response()),
        other => other?,
    }
    crate::jobs::wake_everywhere(&state);
    Ok(reply)
}

/// What a command that is not UTF-8 is told.
pub(super) const NOT_UTF8: &str = "Your command is not valid UTF-8 text; nothing was done.";

/// What a command the database refused is told.
pub(super) fn unstorable(e: &AppError) -> String {
    format!("warroom could not do that: {e}")
}

/// The ephemeral answer to a command refused as bad input (nothing was done), as JSON: Socket
/// Mode's envelope carries it as its payload.
pub(super) fn refused(text: &str) -> serde_json::Value {
    super::kit::json(&ephemeral(format!(":x: {text}")))
}

/// Acts on a slash command however it arrived, through `db` (the request's transaction); the
/// response is the immediate reply.
pub(super) async fn dispatch(
    state: &AppState,
    db: &mut PgConnection,
    form: SlashCommand,
) -> Result<Response, AppError> {
    let mut given = vec![form.text.as_str(), &form.user_id, &form.channel_id, &form.trigger_id];
    given.extend(form.response_url.as_deref());
    if let Some(c) = given.into_iter().find_map(crate::input::refused_char) {
        tracing::warn!("refused a slash command with a control character");
        let text = format!(":x: Your command {}; nothing was done.", crate::input::describe(c));
        return Ok(Json(ephemeral(text)).into_response());
    }
    let reply = match command::parse(&form.text) {
        Err(e) => ephemeral(format!(":x: {}\n\n{USAGE}", e.message)),
        Ok(Command::Help) => ephemeral(USAGE),
        Ok(Command::List) => ephemeral(list(db, &form.user_id).await?),
        Ok(Command::NotYetAvailable(sub)) => ephemeral(format!(
            ":construction: `/incident {sub}` is not available in this version of warroom yet.\n\n{USAGE}"
        )),
        Ok(Command::DeclareModal) => {
            let payload = json!({ "trigger_id": form.trigger_id, "view": "declare", "user": form.user_id,
                                  "channel": form.channel_id, "response_url": form.response_url });
            let slot = format!("trigger:{}", form.trigger_id);
            queue::enqueue(&mut *db, None, kind::OPEN_MODAL, &slot, payload, state.clock.now()).await?;
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
            match incident_commands::run(state, db, &who, target, action).await? {
                Some(reply) => reply,
                None => return Ok(().into_response()),
            }
        }
        Ok(Command::Declare(args)) => ephemeral(declare_from_text(state, db, &form, args).await?),
    };
    Ok(Json(reply).into_response())
}

async fn declare_from_text(
    state: &AppState,
    db: &mut PgConnection,
    form: &SlashCommand,
    args: DeclareArgs,
) -> Result<String, AppError> {
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
        roles: Vec::new(),
        private: args.private,
    };
    let key = format!("trigger:{}", form.trigger_id);
    let declared = declare::declare(db, state.reactions(), state.clock.now(), &key, "slash_command", &new).await?;
    if declared.created {
        state.metrics.declared(new.severity.as_str(), "slash_command");
    }
    let config = &state.settings.file;
    let private = new.private || config.service_is_private(&new.service);
    Ok(if declared.created && private {
        let announced = if config.private.announce {
            format!("#{} hears only its number", config.announce_channel)
        } else {
            format!("#{} hears nothing of it", config.announce_channel)
        };
        format!(
            ":lock: Declared *{}* ({} {}) as a private incident. Opening its private channel now; {announced}.",
            declared.number, new.severity, new.service
        )
    } else if declared.created {
        format!(
            ":rotating_light: Declared *{}* ({} {}). Opening its channel and announcing it in #{} now.",
            declared.number, new.severity, new.service, config.announce_channel
        )
    } else {
        format!("*{}* was already declared from this command.", declared.number)
    })
}

/// The open incidents `user` may see (a private one only by its members).
async fn list(db: &mut PgConnection, user: &str) -> Result<String, AppError> {
    let mut open = Vec::new();
    for incident in store::list_open(&mut *db).await? {
        if crate::private::visible_to(&mut *db, &incident, user).await? {
            open.push(incident);
        }
    }
    if open.is_empty() {
        return Ok(":white_check_mark: No active incidents.".into());
    }
    let mut text = format!("*Active incidents ({}):*", open.len());
    for i in open {
        let channel = i.channel_id.as_deref().map_or_else(|| "channel pending".to_string(), |c| format!("<#{c}>"));
        let ack = if i.acknowledged_at.is_some() { "acknowledged" } else { "not acknowledged" };
        let lock = if i.private { " :lock: private" } else { "" };
        text.push_str(&format!(
            "\n• *{}*{lock} {} `{}` — {} — {} — {}, {}, declared {} UTC",
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
