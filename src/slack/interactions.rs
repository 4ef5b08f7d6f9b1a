//! `POST /slack/interactions`: button clicks (`block_actions`) and modal submissions
//! (`view_submission`), each read and acted on in one transaction. A payload with text warroom
//! cannot take (not UTF-8, control characters) changes nothing: a click is answered with an
//! empty 200, a submission with the error under its field. A submission of a view warroom did
//! not open is refused.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::blocks::{
    hhmm, ACTION_ACKNOWLEDGE, ACTION_DIAGNOSTICS, ACTION_ESCALATE, ACTION_POST_UPDATE, ACTION_RESOLVE, VIEW_DECLARE,
    VIEW_RESOLVE, VIEW_UPDATE,
};
use super::incident_commands::{self, Invoker};
use super::{authorize, submissions, verify_request, views};
use crate::app::AppState;
use crate::config::Permission;
use crate::diagnostics::approvals;
use crate::error::AppError;
use crate::incident::declare::{self, Acknowledged};
use crate::incident::store;
use crate::jobs::respond::{self, Target};
use crate::statuspage::manual;

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    verify_request(&state, &headers, &body)?;
    let form = crate::input::Form::decode(&body);
    let payload =
        form.get("payload").ok_or_else(|| AppError::BadRequest("malformed interaction: no payload".into()))?;
    let (payload, not_unicode) = crate::input::lossy_json(payload);
    let payload: Value = serde_json::from_str(&payload)
        .map_err(|e| AppError::BadRequest(format!("malformed interaction payload: {e}")))?;
    if form.invalid_utf8 || not_unicode {
        tracing::warn!("refused an interaction that is not UTF-8");
        return Ok(submissions::refuse_input(&payload, None, NOT_UTF8));
    }
    let mut tx = state.db.begin().await?;
    let response = match dispatch(&state, &mut tx, &payload).await {
        Ok(response) => response,
        Err(e @ AppError::Unprocessable(_)) => return Ok(refused(&payload, &e)),
        Err(e) => return Err(e),
    };
    match tx.commit().await.map_err(AppError::from) {
        Err(e @ AppError::Unprocessable(_)) => return Ok(refused(&payload, &e)),
        other => other?,
    }
    crate::jobs::wake_everywhere(&state);
    Ok(response)
}

/// What a submission that is not UTF-8 is told.
pub(super) const NOT_UTF8: &str = "This is not valid UTF-8 text; nothing was saved.";

/// What a submission the database refused is told.
pub(super) fn unstorable(e: &AppError) -> String {
    format!("warroom could not save this: {e}")
}

/// The answer to an interaction the database refused (nothing was saved).
fn refused(payload: &Value, e: &AppError) -> Response {
    submissions::refuse_input(payload, None, &unstorable(e))
}

/// Acts on an interaction payload however it arrived, through `db` (the request's
/// transaction); the response is what Slack is answered (a modal's `response_action`, or nothing).
pub(super) async fn dispatch(state: &AppState, db: &mut PgConnection, payload: &Value) -> Result<Response, AppError> {
    let user = payload["user"]["id"].as_str().unwrap_or_default();
    if user.is_empty() {
        return Err(AppError::BadRequest("malformed interaction payload: no user".into()));
    }
    // The message a button sits on and the view's layout are warroom's own, and never stored.
    let skip = ["message", "view.blocks", "view.title", "view.submit", "view.close"];
    if let Some((path, c)) = crate::input::find_in_json(payload, &skip) {
        tracing::warn!(interaction.field = %path, "refused an interaction with a control character");
        let block = path.strip_prefix("view.state.values.").and_then(|rest| rest.split('.').next());
        let message = format!("This {}; nothing was saved.", crate::input::describe(c));
        return Ok(submissions::refuse_input(payload, block, &message));
    }
    match payload["type"].as_str() {
        Some("block_actions") => block_actions(state, db, user, payload).await,
        Some("view_submission") => {
            if !views::opened(&mut *db, &payload["view"]).await? {
                tracing::warn!(view.id = %payload["view"]["id"], "refused the submission of a view warroom did not open");
                return Ok(views::refusal(payload));
            }
            match payload["view"]["callback_id"].as_str() {
                Some(VIEW_DECLARE) => submissions::declare(state, db, user, payload).await,
                Some(VIEW_UPDATE) => submissions::update(state, db, user, payload).await,
                Some(VIEW_RESOLVE) => submissions::resolve(state, db, user, payload).await,
                Some(manual::VIEW_EDIT) => manual::edit_submission(state, db, user, payload).await,
                Some(crate::feedback::VIEW) => crate::feedback::submission(state, db, user, payload).await,
                _ => Ok(().into_response()),
            }
        }
        // Other interaction types (view_closed, shortcuts) need no answer but a 200.
        _ => Ok(().into_response()),
    }
}

async fn block_actions(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let action = &payload["actions"][0];
    let action_id = action["action_id"].as_str().unwrap_or_default();
    if action_id == approvals::ACTION_APPROVE || action_id == approvals::ACTION_DENY {
        return approval_click(state, db, user, payload, action_id == approvals::ACTION_APPROVE).await;
    }
    if action_id.starts_with(crate::checklist::ACTION_PREFIX) {
        return crate::checklist::click::handle(state, db, user, payload).await;
    }
    if action_id == incident_commands::ACTION_RUN_DIAGNOSTIC {
        return run_click(state, db, user, payload).await;
    }
    if action_id == ACTION_ESCALATE {
        return escalate_click(state, db, user, payload).await;
    }
    if action_id == crate::oncall::handoff::ACTION_TAKE_COMMAND {
        let text = crate::oncall::handoff::click(state, db, user, payload).await?;
        return tell(state, db, &clicker(user, payload), &text).await;
    }
    if action_id == crate::archive::ACTION_KEEP_OPEN {
        let text = crate::archive::click::click(state, db, user, payload).await?;
        return tell(state, db, &clicker(user, payload), &text).await;
    }
    if action_id == crate::feedback::ACTION_OPEN {
        return match crate::feedback::click(state, db, user, payload).await? {
            Some(text) => tell(state, db, &clicker(user, payload), &text).await,
            None => Ok(().into_response()),
        };
    }
    if [manual::ACTION_POST, manual::ACTION_EDIT].contains(&action_id) {
        return manual::click(state, db, user, payload, &clicker(user, payload)).await;
    }
    if ![ACTION_ACKNOWLEDGE, ACTION_POST_UPDATE, ACTION_RESOLVE, ACTION_DIAGNOSTICS].contains(&action_id) {
        return Ok(().into_response());
    }
    let id = action["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| AppError::BadRequest(format!("{action_id}: the button carries no incident id")))?;
    let now = state.clock.now();
    let target = clicker(user, payload);
    if action_id != ACTION_ACKNOWLEDGE {
        let Some(incident) = store::get(&mut *db, id).await? else {
            return tell(state, db, &target, "That incident no longer exists in warroom.").await;
        };
        if incident.is_resolved() {
            return tell(state, db, &target, &format!("{} is resolved.", incident.number())).await;
        }
        if action_id == ACTION_DIAGNOSTICS {
            let (text, blocks) = incident_commands::diagnostics_menu(state, &incident);
            respond::enqueue_blocks(db, None, &target, &text, &blocks, now).await?;
            return Ok(().into_response());
        }
        let permission = match action_id {
            ACTION_RESOLVE => Some(Permission::Resolve),
            _ => authorize::update_permission(state, &incident),
        };
        if let Some(permission) = permission {
            if let Some(refusal) = authorize::refusal(state, db, &incident, user, permission).await? {
                return tell(state, db, &target, &refusal).await;
            }
        }
        let who = Invoker {
            user,
            channel: target.channel.as_deref().unwrap_or_default(),
            trigger_id: payload["trigger_id"].as_str().unwrap_or_default(),
            response_url: target.response_url.as_deref(),
        };
        let view = if action_id == ACTION_RESOLVE { "resolve" } else { "update" };
        incident_commands::open_modal(state, db, &who, view, &incident).await?;
        return Ok(().into_response());
    }
    let notice = match declare::acknowledge(&mut *db, state.reactions(), now, id, user).await? {
        Acknowledged::Now(incident) => {
            state.metrics.acknowledged(&incident);
            None
        }
        Acknowledged::Already(i) => Some(format!(
            "{} was already acknowledged by <@{}> at {} UTC; nothing changed.",
            i.number(),
            i.acknowledged_by.as_deref().unwrap_or("someone"),
            i.acknowledged_at.map(hhmm).unwrap_or_default()
        )),
        Acknowledged::NoSuchIncident => Some("That incident no longer exists in warroom.".into()),
    };
    match notice {
        Some(text) => tell(state, db, &target, &text).await,
        None => Ok(().into_response()),
    }
}

/// A diagnostic's Run (or Request) button: the same as `/incident run <id>` by the clicker.
async fn run_click(state: &AppState, db: &mut PgConnection, user: &str, payload: &Value) -> Result<Response, AppError> {
    let value = payload["actions"][0]["value"].as_str().unwrap_or_default();
    let (incident_id, action) = value.split_once('|').unwrap_or((value, ""));
    let target = clicker(user, payload);
    let incident = match Uuid::parse_str(incident_id) {
        Ok(id) => store::get(&mut *db, id).await?,
        Err(_) => None,
    };
    let Some(incident) = incident else {
        return tell(state, db, &target, "That incident no longer exists in warroom.").await;
    };
    let permission = authorize::diagnostic_permission(state, action);
    if let Some(refusal) = authorize::refusal(state, db, &incident, user, permission).await? {
        return tell(state, db, &target, &refusal).await;
    }
    let given = Default::default();
    let text = match incident_commands::request_diagnostic(state, db, &incident, user, action, &given, None).await? {
        Ok(text) => text,
        Err(refusal) => format!(":no_entry: {refusal}"),
    };
    tell(state, db, &target, &text).await
}

/// "Escalate now" on the declaration: the next tier, fired by the clicker.
async fn escalate_click(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let target = clicker(user, payload);
    let id = payload["actions"][0]["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let incident = match id {
        Some(id) => store::get(&mut *db, id).await?,
        None => None,
    };
    let Some(incident) = incident else {
        return tell(state, db, &target, "That incident no longer exists in warroom.").await;
    };
    if let Some(refusal) = authorize::refusal(state, db, &incident, user, Permission::Escalate).await? {
        return tell(state, db, &target, &refusal).await;
    }
    let config = &state.settings.file;
    let reason = "the Escalate now button";
    let text = match crate::escalation::escalate_now(&mut *db, config, state.clock.now(), &incident, user, reason).await
    {
        Ok(tier) => format!(":sos: Escalating {} to tier {tier} now.", incident.number()),
        Err(crate::escalation::EscalateError::Database(e)) => return Err(e.into()),
        Err(refusal) => format!(":no_entry: {refusal}"),
    };
    tell(state, db, &target, &text).await
}

/// Approve or Deny on an approval message; the clicker is told what it did.
async fn approval_click(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
    approve: bool,
) -> Result<Response, AppError> {
    let value = payload["actions"][0]["value"].as_str().unwrap_or_default();
    let (id, hash) = value.split_once(':').unwrap_or((value, ""));
    let id =
        Uuid::parse_str(id).map_err(|_| AppError::BadRequest("approval: the button carries no request id".into()))?;
    let target = clicker(user, payload);
    let config = &state.settings.file.approvals;
    let text = match approvals::decide(&mut *db, config, state.clock.now(), id, hash, user, approve).await? {
        approvals::Decision::Approved => {
            state.metrics.approval("approved");
            ":white_check_mark: Approved: the change runs now.".to_string()
        }
        approvals::Decision::Counted { approvals, required } => {
            format!(":white_check_mark: Your approval is counted ({approvals} of {required}).")
        }
        approvals::Decision::Denied => {
            state.metrics.approval("denied");
            ":no_entry: Denied: the change will not run.".to_string()
        }
        approvals::Decision::Expired => {
            state.metrics.approval("expired");
            ":no_entry: This request expired; nothing runs. Ask again with `/incident run`.".to_string()
        }
        approvals::Decision::Refused(why) => format!(":no_entry: {why}"),
    };
    tell(state, db, &target, &text).await
}

/// Who clicked, and how to answer them (the click's `response_url`, else its channel).
fn clicker(user: &str, payload: &Value) -> Target {
    Target {
        user: user.to_string(),
        channel: payload["channel"]["id"].as_str().map(str::to_string),
        response_url: payload["response_url"].as_str().map(str::to_string),
    }
}

/// Answers a click with an ephemeral message (queued: the click is acknowledged at once).
async fn tell(state: &AppState, db: &mut PgConnection, target: &Target, text: &str) -> Result<Response, AppError> {
    respond::enqueue(db, None, target, text, state.clock.now()).await?;
    Ok(().into_response())
}
