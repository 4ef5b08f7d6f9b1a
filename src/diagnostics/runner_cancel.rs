//! A change handed to a remote runner must not start late: its task waits only until the
//! approval expires and while the incident is open. Past that, a task not yet sent is cancelled
//! and the channel told — by the expiry timer ([`kind::RUNNER_TASK_EXPIRE`]), by the resolution's
//! job, or by the runner's next poll, whichever comes first; no runner has to be online for it.
//! A task already sent has started: it is the runner's to finish, and if it never reports, its
//! outcome becomes unknown ([`super::runner_results`]).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::slack::blocks::hhmm;
use crate::timeline::{self, EventKind, WARROOM};

/// Which queued change tasks to look at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Task(Uuid),
    Incident(Uuid),
    Runner(&'a str),
}

#[derive(sqlx::FromRow)]
struct Cancelled {
    id: Uuid,
    runner: String,
    incident_id: Uuid,
    action: String,
    expires_at: Option<DateTime<Utc>>,
    cancel_reason: String,
    approval_id: Option<Uuid>,
}

/// Cancels the change tasks in `scope` that may no longer start (approval expired, incident
/// resolved), each with a timeline event and a post, and their requests, in `tx`. Returns how many.
pub async fn cancel_stale(
    tx: &mut Transaction<'_, Postgres>,
    now: DateTime<Utc>,
    scope: Scope<'_>,
) -> sqlx::Result<usize> {
    let (task, incident, runner) = match scope {
        Scope::Task(id) => (Some(id), None, None),
        Scope::Incident(id) => (None, Some(id), None),
        Scope::Runner(name) => (None, None, Some(name)),
    };
    let cancelled: Vec<Cancelled> = sqlx::query_as(
        r#"UPDATE runner_tasks t SET state = 'cancelled', cancelled_at = $1,
                  cancel_reason = CASE WHEN i.resolved_at IS NOT NULL THEN 'resolved' ELSE 'expired' END
           FROM incidents i
           WHERE i.id = t.incident_id AND t.state = 'queued' AND t.approval_id IS NOT NULL
             AND (t.expires_at <= $1 OR i.resolved_at IS NOT NULL)
             AND ($2::uuid IS NULL OR t.id = $2) AND ($3::uuid IS NULL OR t.incident_id = $3)
             AND ($4::text IS NULL OR t.runner = $4)
           RETURNING t.id, t.runner, t.incident_id, t.action, t.expires_at, t.cancel_reason, t.approval_id"#,
    )
    .bind(now)
    .bind(task)
    .bind(incident)
    .bind(runner)
    .fetch_all(&mut **tx)
    .await?;
    for Cancelled { id: task, runner, incident_id, action, expires_at, cancel_reason: reason, approval_id } in
        &cancelled
    {
        let text = match (reason.as_str(), expires_at) {
            ("expired", Some(at)) => format!(
                ":hourglass: `{action}` was cancelled: runner `{runner}` had not picked it up when its approval \
                 expired at {} UTC. Nothing ran; ask for it again once the runner is back.",
                hhmm(*at)
            ),
            _ => format!(
                ":hourglass: `{action}` was cancelled: the incident was resolved before runner `{runner}` picked \
                 it up. Nothing ran."
            ),
        };
        let payload = json!({ "task": task, "runner": runner, "action": action, "reason": reason });
        timeline::append(&mut **tx, *incident_id, now, WARROOM, EventKind::DiagnosticCancelled, payload).await?;
        let post = json!({ "text": text, "to": "channel", "what": "runner_task_cancelled" });
        queue::enqueue(&mut **tx, Some(*incident_id), kind::POST, &format!("cancelled:{task}"), post, now).await?;
        // Its approval is used up without running: the request is cancelled, and its message says so.
        if let Some(request) = approval_id {
            super::change::cancel_by_id(tx, *request, reason, now).await?;
        }
    }
    Ok(cancelled.len())
}

/// [`kind::RUNNER_TASK_EXPIRE`]: at the approval's expiry, the task is cancelled unless it was sent.
pub async fn expire(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let task = job.payload["task"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let task = task.ok_or_else(|| JobError::Fatal("runner task expiry without a task".into()))?;
    let mut tx = state.db.begin().await?;
    let cancelled = cancel_stale(&mut tx, state.clock.now(), Scope::Task(task)).await?;
    tx.commit().await?;
    if cancelled > 0 {
        crate::jobs::wake(state);
    }
    Ok(())
}
