//! A click on a checklist button (`checklist.done.4`, `checklist.run.7`, `checklist.request.9`;
//! value `<incident id>|<step>`), read and acted on in the click's transaction. Done needs the
//! `run_read` permission (by default, the channel's members); Run and Request need what
//! `/incident run` of their action needs. A refusal is told to the clicker alone and names who
//! may; a second click, or the same click delivered twice, changes nothing.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::progress::Progress;
use super::{post, runs, store, Button, Step, ACTION_PREFIX};
use crate::app::AppState;
use crate::config::Permission;
use crate::error::AppError;
use crate::incident::store::Incident;
use crate::jobs::respond::{self, Target};
use crate::slack::authorize;
use crate::timeline::{self, EventKind};

/// Acts on a checklist button click by `user`.
pub async fn handle(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let action = &payload["actions"][0];
    let target = Target {
        user: user.to_string(),
        channel: payload["channel"]["id"].as_str().map(str::to_string),
        response_url: payload["response_url"].as_str().map(str::to_string),
    };
    let text = match act(state, db, user, action).await? {
        Some(text) => text,
        None => return Ok(().into_response()),
    };
    respond::enqueue(db, None, &target, &text, state.clock.now()).await?;
    Ok(().into_response())
}

/// What to tell the clicker, if anything (a tick shows in the message itself).
async fn act(state: &AppState, db: &mut PgConnection, user: &str, action: &Value) -> Result<Option<String>, AppError> {
    let not_ours = || Some("This checklist button is not one warroom made; nothing changed.".to_string());
    let action_id = action["action_id"].as_str().unwrap_or_default();
    let button =
        action_id.strip_prefix(ACTION_PREFIX).and_then(|rest| rest.split('.').next()).and_then(Button::from_word);
    let value = action["value"].as_str().unwrap_or_default();
    let parsed = value.split_once('|').and_then(|(id, n)| Some((Uuid::parse_str(id).ok()?, n.parse::<u32>().ok()?)));
    let (Some(button), Some((incident_id, number))) = (button, parsed) else { return Ok(not_ours()) };
    let Some(incident) = crate::incident::store::get(&mut *db, incident_id).await? else {
        return Ok(Some("That incident no longer exists in warroom.".into()));
    };
    if incident.is_resolved() {
        return Ok(Some(format!("{} is resolved: its checklist is closed, and nothing changed.", incident.number())));
    }
    let Some(checklist) = store::get(&mut *db, incident.id).await? else { return Ok(not_ours()) };
    let Some((_, step)) = checklist.step(number) else {
        return Ok(Some(format!("{}'s checklist has no step {number}; nothing changed.", incident.number())));
    };
    if step.button() != button {
        return Ok(not_ours());
    }
    let permission = match &step.action {
        Some(mapped) => authorize::diagnostic_permission(state, &mapped.id),
        None => Permission::RunRead,
    };
    if let Some(refusal) = authorize::refusal(state, db, &incident, user, permission).await? {
        return Ok(Some(match button {
            Button::Done => refusal.replacen(
                ":no_entry: ",
                ":no_entry: Ticking a step of the runbook checklist takes the `run_read` permission. ",
                1,
            ),
            _ => refusal,
        }));
    }
    match button {
        Button::Done => done(state, db, &incident, step, user).await,
        Button::Run | Button::Request => runs::start(state, db, &incident, step, user).await.map(Some),
    }
}

/// Ticks a manual step, once.
async fn done(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    step: &Step,
    user: &str,
) -> Result<Option<String>, AppError> {
    let now = state.clock.now();
    let current = store::lock_step(&mut *db, incident.id, step.number).await?;
    let progress = Progress::of(step, Some(&current), now);
    if progress.is_done() {
        let line = progress.line().unwrap_or_default();
        return Ok(Some(format!("Step {} was already ticked ({line}); nothing changed.", step.number)));
    }
    store::tick(&mut *db, incident.id, step.number, user, now).await?;
    let button = super::render::action_id(Button::Done, step.number);
    let payload =
        json!({ "step": step.number, "command": step.command, "action": null, "via": "done", "button": button });
    timeline::append(&mut *db, incident.id, now, user, EventKind::ChecklistStepDone, payload).await?;
    post::queue_refresh(&mut *db, incident.id, now).await?;
    Ok(None)
}
