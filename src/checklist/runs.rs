//! A step run from the checklist: its Run or Request button does exactly what `/incident run`
//! does (the same permission, the service's bounds, the same job or approval request), and the
//! step then waits for that run. When a run finishes — here, on a remote runner, or as an
//! approved change — [`finished`] ticks the step waiting for it, with the result.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::progress::Progress;
use super::{post, store, Step};
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::store::Incident;
use crate::timeline::{self, EventKind};

/// Runs (or requests) `step`'s action for `user`, in the click's transaction; the text to tell
/// them. The step's row is locked: a second click waits, then finds the first's run.
pub async fn start(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    step: &Step,
    user: &str,
) -> Result<String, AppError> {
    let Some(action) = &step.action else {
        return Ok(format!("Step {} has no action to run: it is ticked with its Done button.", step.number));
    };
    let now = state.clock.now();
    let current = store::lock_step(&mut *db, incident.id, step.number).await?;
    let progress = Progress::of(step, Some(&current), now);
    if !progress.offers_button() {
        let line = progress.line().unwrap_or_default();
        return Ok(format!("Step {} of {}: {line}. Nothing changed.", step.number, incident.number()));
    }
    let reason = format!("runbook checklist step {}", step.number);
    let asked = crate::slack::incident_commands::ask_diagnostic(
        state,
        db,
        incident,
        user,
        &action.id,
        &action.given,
        Some(&reason),
    )
    .await?;
    let asked = match asked {
        Ok(asked) => asked,
        Err(refusal) => return Ok(format!(":no_entry: {refusal}")),
    };
    let run =
        store::Run { step: step.number, by: user, action: &action.id, hash: &asked.hash, approval: asked.approval };
    store::set_run(&mut *db, incident.id, &run, now).await?;
    let payload = json!({
        "step": step.number, "command": step.command, "action": action.id,
        "kind": if action.change { "change" } else { "read" }, "request": asked.approval, "hash": asked.hash,
        "button": super::render::action_id(step.button(), step.number),
    });
    timeline::append(&mut *db, incident.id, now, user, EventKind::ChecklistStepRun, payload).await?;
    post::queue_refresh(&mut *db, incident.id, now).await?;
    Ok(asked.text)
}

/// A run of `action` (rendered as `argv`) asked by `by` finished, `ok` or not: ticks the
/// checklist step waiting for it, if one is, in the transaction that records the run.
pub async fn finished(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    incident_id: uuid::Uuid,
    action: &str,
    argv: &[String],
    by: &str,
    ok: bool,
) -> sqlx::Result<()> {
    let hash = crate::diagnostics::approvals::action_hash(action, argv);
    let Some(number) = store::finish_run(&mut *tx, incident_id, &hash, by, ok, now).await? else { return Ok(()) };
    let command = store::get(&mut *tx, incident_id)
        .await?
        .and_then(|c| c.step(number).map(|(_, s)| s.command.clone()))
        .unwrap_or_default();
    let payload = json!({
        "step": number, "command": command, "action": action, "via": "run", "result": if ok { "ok" } else { "failed" },
    });
    timeline::append(&mut *tx, incident_id, now, by, EventKind::ChecklistStepDone, payload).await?;
    post::queue_refresh(&mut *tx, incident_id, now).await
}

/// Approval request `request` changed state (approved, denied, expired, running...): the
/// checklist step that asked for it, if one did, is redrawn.
pub async fn request_changed(
    db: &sqlx::PgPool,
    incident_id: uuid::Uuid,
    request: uuid::Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if store::asked_by_step(db, incident_id, request).await? {
        post::queue_refresh(db, incident_id, now).await?;
    }
    Ok(())
}
