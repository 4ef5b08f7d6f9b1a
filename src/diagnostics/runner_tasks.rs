//! The server's side of remote runners: a diagnostic for a service whose `runner` is not
//! `local` becomes a task, bound to the SHA-256 of the command the server rendered (for a
//! change, the approval's own hash); the runner it names claims it on a poll and reports the
//! outcome (or its refusal, [`super::runner_results`]). Heartbeats say who is online. The HTTP
//! edge is `api::runners`; which runner asks is what its token says, never what the request claims.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{approvals, change, runner_cancel, Action};
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::slack::blocks::hhmm;
use crate::timeline::{self, EventKind};

/// A runner not heard from for this long is offline.
pub const OFFLINE_AFTER: i64 = 60;
/// The time limit of a task whose action the server's catalog no longer has (the catalog's cap).
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// The hash a task is bound to, computed alike by the server and the runner: an action with an
/// argument vector hashes as its approval does ([`approvals::action_hash`]); a built-in check
/// (no argv) hashes its name and parameters instead, so its target is bound too.
pub fn task_hash(action: &Action, params: &BTreeMap<String, String>) -> String {
    match &action.builtin {
        None => approvals::action_hash(&action.id, &action.render(params)),
        Some(name) => {
            let words: Vec<String> = std::iter::once(format!("builtin:{name}"))
                .chain(params.iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            approvals::action_hash(&action.id, &words)
        }
    }
}

/// Queues the run for `runner`, and says in the channel when that runner is offline. A change
/// (`approval`: the request and the hash of the command it must be bound to) uses up its
/// approval in the transaction that queues its task, carries the approval's hash, and waits
/// only until the approval expires.
pub async fn hand_over(
    state: &AppState,
    incident_id: Uuid,
    runner: &str,
    action: &Action,
    params: &BTreeMap<String, String>,
    by: &str,
    approval: Option<(Uuid, String)>,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let last_seen: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT last_seen FROM runners WHERE name = $1")
        .bind(runner)
        .fetch_optional(&state.db)
        .await?;
    let task = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
    let (hash, expires_at) = match &approval {
        Some((id, hash)) => match change::begin(&mut tx, now, *id, hash, change::Where::Runner).await? {
            change::Begin::Go(request) => (request.action_hash, Some(request.expires_at)),
            // Already handed over (a retry), finished, or cancelled: no second task.
            change::Begin::Unknown | change::Begin::Nothing(_) => {
                tx.commit().await?;
                crate::jobs::wake(state);
                return Ok(());
            }
        },
        None => (task_hash(action, params), None),
    };
    let approval = approval.map(|(id, _)| id);
    sqlx::query(
        "INSERT INTO runner_tasks (id, runner, incident_id, action, params, requested_by, created_at, action_hash, \
         approval_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(task)
    .bind(runner)
    .bind(incident_id)
    .bind(&action.id)
    .bind(json!(params))
    .bind(by)
    .bind(now)
    .bind(&hash)
    .bind(approval)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let payload = json!({ "task": task, "runner": runner, "action": action.id, "params": params, "hash": hash });
    timeline::append(&mut *tx, incident_id, now, by, EventKind::DiagnosticDispatched, payload).await?;
    if let Some(at) = expires_at {
        let payload = json!({ "task": task });
        queue::enqueue(&mut *tx, Some(incident_id), kind::RUNNER_TASK_EXPIRE, &task.to_string(), payload, at).await?;
    }
    if last_seen.is_none_or(|at| (now - at).num_seconds() > OFFLINE_AFTER) {
        let seen = last_seen.map_or("never seen".to_string(), |at| format!("last seen {} UTC", at.format("%H:%M:%S")));
        let waits = match expires_at {
            Some(at) => format!("waits for it until its approval expires at {} UTC, then is cancelled", hhmm(at)),
            None => "waits for it to come back".to_string(),
        };
        let text = format!(":electric_plug: Runner `{runner}` is offline ({seen}): `{}` {waits}.", action.id);
        let post = json!({ "text": text, "to": "channel", "what": "runner_offline" });
        queue::enqueue(&mut *tx, Some(incident_id), kind::POST, &format!("offline:{task}"), post, now).await?;
    }
    tx.commit().await?;
    state.runner_tasks_ready.notify_waiters();
    crate::jobs::wake(state);
    Ok(())
}

/// A task as a poll claims it.
#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    incident_id: Uuid,
    action: String,
    params: Value,
    hash: Option<String>,
    approval: Option<Uuid>,
}

/// `runner`'s heartbeat, then its oldest task that may still start: the task, its action and
/// parameters, and the hash the runner's own rendering must match. Change tasks past their
/// approval's expiry or of a resolved incident are cancelled first, and never sent. Sending a
/// task starts it: a change's request becomes `running`, and a watch timer says its outcome is
/// unknown if the runner does not report within its time limit and [`change::MARGIN`].
pub async fn claim(state: &AppState, runner: &str) -> Result<Option<Value>, JobError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let cancelled = runner_cancel::cancel_stale(&mut tx, now, runner_cancel::Scope::Runner(runner)).await?;
    tx.commit().await?;
    if cancelled > 0 {
        crate::jobs::wake(state);
    }
    sqlx::query(
        "INSERT INTO runners (name, last_seen) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET last_seen = $2",
    )
    .bind(runner)
    .bind(now)
    .execute(&state.db)
    .await?;
    let mut tx = state.db.begin().await?;
    let task: Option<Claimed> = sqlx::query_as(
        r#"UPDATE runner_tasks SET state = 'sent', sent_at = $2
           WHERE id = (SELECT t.id FROM runner_tasks t JOIN incidents i ON i.id = t.incident_id
                       WHERE t.runner = $1 AND t.state = 'queued'
                         AND (t.approval_id IS NULL OR (t.expires_at > $2 AND i.resolved_at IS NULL))
                       ORDER BY t.created_at LIMIT 1 FOR UPDATE OF t SKIP LOCKED)
           RETURNING id, incident_id, action, params, action_hash AS hash, approval_id AS approval"#,
    )
    .bind(runner)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(Claimed { id, incident_id, action, params, hash, approval }) = task else { return Ok(None) };
    if let Some(request) = approval {
        change::runner_started(&mut tx, now, request, runner).await?;
    }
    let timeout = state.catalog.get(&action).map_or(MAX_TIMEOUT, |a| a.timeout);
    let at = now + chrono::Duration::from_std(timeout + change::MARGIN).unwrap_or_default();
    let watch = json!({ "task": id, "timeout_secs": timeout.as_secs() });
    queue::enqueue(&mut *tx, Some(incident_id), kind::RUNNER_TASK_WATCH, &id.to_string(), watch, at).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    // Tasks queued before tasks carried a hash: bound to what the server renders now.
    let hash = hash.or_else(|| {
        let action = state.catalog.get(&action)?;
        Some(task_hash(action, &serde_json::from_value(params.clone()).unwrap_or_default()))
    });
    Ok(Some(json!({ "id": id, "action": action, "params": params, "hash": hash })))
}

/// What a runner reports for a task.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct TaskResult {
    /// The name the runner was started with (`--name`): checked against its token's, never trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub task: Uuid,
    /// Set when the runner would not run it (not in its catalog, parameters refused, catalog mismatch).
    pub refused: Option<String>,
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub truncated: bool,
}
