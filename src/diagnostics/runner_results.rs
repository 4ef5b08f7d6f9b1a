//! A remote runner's report, recorded once: keyed by its task, and recorded with the task's
//! state (and a change's request's) in one transaction, so a failure while recording leaves the
//! task `sent` for the runner's next try. The same result posted again is acknowledged and
//! changes nothing; so is a result for a task already finished or cancelled. A task sent but not
//! reported within its time limit and [`change::MARGIN`] has an unknown outcome: the channel is
//! told once, and a result arriving after that is still recorded, marked late.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::approvals::{Request, SELECT_REQUEST};
use super::exec::Outcome;
use super::run_job::{self, Ran};
use super::runner_tasks::TaskResult;
use super::{change, redact::redact};
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::templates::escape_mrkdwn;
use crate::timeline::{self, EventKind};

/// What became of a runner's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now.
    Recorded,
    /// Recorded before (a repeat), or the task was cancelled: acknowledged, nothing changed.
    Already,
    /// The runner has no such task in hand (another runner's, or never sent).
    NotInHand,
}

#[derive(sqlx::FromRow)]
struct Task {
    id: Uuid,
    runner: String,
    incident_id: Uuid,
    action: String,
    params: Value,
    requested_by: String,
    state: String,
    approval_id: Option<Uuid>,
    sent_at: Option<DateTime<Utc>>,
}

const SELECT_TASK: &str =
    "SELECT id, runner, incident_id, action, params, requested_by, state, approval_id, sent_at FROM runner_tasks";

/// Records `runner`'s result for a task sent to it, once.
pub async fn record(state: &AppState, runner: &str, result: &TaskResult) -> Result<Recorded, JobError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let task: Option<Task> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_TASK} WHERE id = $1 FOR UPDATE")))
        .bind(result.task)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(task) = task.filter(|t| t.runner == runner) else { return Ok(Recorded::NotInHand) };
    match task.state.as_str() {
        "sent" | "outcome_unknown" => {}
        "done" | "cancelled" => return Ok(Recorded::Already),
        _ => return Ok(Recorded::NotInHand),
    }
    let late = task.state == "outcome_unknown";
    sqlx::query("UPDATE runner_tasks SET state = 'done', done_at = $2 WHERE id = $1")
        .bind(task.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    change::cancel_watch(&mut tx, kind::RUNNER_TASK_WATCH, &task.id.to_string()).await?;
    let slot = format!("task:{}", task.id);
    let params: BTreeMap<String, String> = serde_json::from_value(task.params.clone()).unwrap_or_default();
    let outcome = Outcome {
        exit_code: result.exit_code,
        timed_out: result.timed_out,
        duration: Duration::from_millis(result.duration_ms),
        stdout: result.stdout.clone(),
        stderr: result.stderr.clone(),
        truncated: result.truncated,
    };
    match (&result.refused, state.catalog.get(&task.action)) {
        (Some(reason), _) => {
            state.metrics.diagnostic("refused");
            let reason = redact(reason);
            let text = format!(":no_entry: Runner `{runner}` refused `{}`: {}", task.action, escape_mrkdwn(&reason));
            let payload = json!({ "task": task.id, "runner": runner, "action": task.action, "reason": reason });
            timeline::append(&mut *tx, task.incident_id, now, runner, EventKind::DiagnosticRefused, payload).await?;
            let post = json!({ "text": text, "to": "channel", "what": "runner_refused" });
            queue::enqueue(&mut *tx, Some(task.incident_id), kind::POST, &slot, post, now).await?;
            if let Some(request) = task.approval_id {
                let line = format!("refused by runner `{runner}`: {reason}");
                change::finish_in(&mut tx, now, request, false, &line).await?;
            }
        }
        (None, Some(action)) => {
            if let Some(request) = task.approval_id {
                let ok = outcome.exit_code == Some(0) && !outcome.timed_out;
                change::finish_in(&mut tx, now, request, ok, &run_job::verdict(action, &outcome)).await?;
            }
            let by = task.requested_by.as_str();
            let ran = Ran { incident_id: task.incident_id, action, params: &params, by, outcome: &outcome, slot, late };
            run_job::record_in(&mut tx, state, &ran).await?;
        }
        (None, None) => {
            // The catalog changed since: the outcome is kept all the same, unformatted.
            let payload = json!({ "task": task.id, "runner": runner, "action": task.action, "params": params,
                                  "exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
                                  "stdout": redact(&outcome.stdout), "stderr": redact(&outcome.stderr) });
            timeline::append(&mut *tx, task.incident_id, now, runner, EventKind::DiagnosticFinished, payload).await?;
            let text = format!(
                ":grey_question: Runner `{runner}` reported `{}` (exit {:?}), which warroom's catalog no longer has; \
                 its output is in the timeline.",
                task.action, outcome.exit_code
            );
            let post = json!({ "text": text, "to": "channel", "what": "diagnostic" });
            queue::enqueue(&mut *tx, Some(task.incident_id), kind::POST, &slot, post, now).await?;
            if let Some(request) = task.approval_id {
                let ok = outcome.exit_code == Some(0) && !outcome.timed_out;
                change::finish_in(&mut tx, now, request, ok, &format!("exit {:?}", outcome.exit_code)).await?;
            }
        }
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(Recorded::Recorded)
}

/// [`kind::RUNNER_TASK_WATCH`]: a task still `sent` past its time limit and the margin has an
/// unknown outcome — for a change, its request too; the channel is told once.
pub async fn watch(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["task"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| JobError::Fatal("runner task watch without a task".into()))?;
    let timeout = job.payload["timeout_secs"].as_u64().unwrap_or_default();
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let task: Option<Task> = sqlx::query_as(
        "UPDATE runner_tasks SET state = 'outcome_unknown', unknown_at = $2 WHERE id = $1 AND state = 'sent' \
         RETURNING id, runner, incident_id, action, params, requested_by, state, approval_id, sent_at",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(task) = task else { return Ok(()) };
    let runner = &task.runner;
    let within = format!("within its time limit ({timeout} s) and {} s more", change::MARGIN.as_secs());
    let request: Option<Request> = match task.approval_id {
        Some(request) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
                .bind(request)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    match request {
        Some(request) => {
            let why = format!("runner `{runner}` has not reported its outcome {within}");
            change::mark_unknown(&mut tx, &request, now, &why).await?;
        }
        None => {
            let sent = task.sent_at.map_or("an unknown time".into(), |at| at.format("%H:%M:%S UTC").to_string());
            let why = format!("runner `{runner}` took it at {sent} and has not reported its result {within}");
            let payload = json!({ "task": task.id, "runner": runner, "action": task.action, "params": task.params,
                                  "sent_at": task.sent_at, "why": why });
            timeline::append(
                &mut *tx,
                task.incident_id,
                now,
                timeline::WARROOM,
                EventKind::DiagnosticOutcomeUnknown,
                payload,
            )
            .await?;
            let text =
                format!(":warning: *Outcome unknown:* `{}`: {why}. Run it again if you still need it.", task.action);
            let post = json!({ "text": text, "to": "channel", "what": "diagnostic_outcome_unknown" });
            queue::enqueue(&mut *tx, Some(task.incident_id), kind::POST, &format!("unknown:{}", task.id), post, now)
                .await?;
        }
    }
    tx.commit().await?;
    state.metrics.diagnostic("outcome_unknown");
    crate::jobs::wake(state);
    Ok(())
}
