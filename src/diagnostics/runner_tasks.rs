//! The server's side of remote runners: a diagnostic for a service whose `runner` is not
//! `local` becomes a task; the named runner long-polls `/api/v1/runners/poll` for it and posts
//! the outcome (or its refusal) to `/api/v1/runners/results`. Heartbeats say who is online.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::exec::Outcome;
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind};

/// A runner not heard from for this long is offline.
const OFFLINE_AFTER: i64 = 60;
/// The longest a poll waits for a task.
const MAX_WAIT: u64 = 25;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/runners/poll", post(poll)).route("/api/v1/runners/results", post(results))
}

/// Queues the run for `runner`, and says in the channel when that runner is offline.
pub async fn hand_over(
    state: &AppState,
    incident_id: Uuid,
    runner: &str,
    action: &str,
    params: &BTreeMap<String, String>,
    by: &str,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let last_seen: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT last_seen FROM runners WHERE name = $1")
        .bind(runner)
        .fetch_optional(&state.db)
        .await?;
    let task = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO runner_tasks (id, runner, incident_id, action, params, requested_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(task)
    .bind(runner)
    .bind(incident_id)
    .bind(action)
    .bind(json!(params))
    .bind(by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let payload = json!({ "task": task, "runner": runner, "action": action, "params": params });
    timeline::append(&mut *tx, incident_id, now, by, EventKind::DiagnosticDispatched, payload).await?;
    if last_seen.is_none_or(|at| (now - at).num_seconds() > OFFLINE_AFTER) {
        let seen = last_seen.map_or("never seen".to_string(), |at| format!("last seen {} UTC", at.format("%H:%M:%S")));
        let text =
            format!(":electric_plug: Runner `{runner}` is offline ({seen}): `{action}` waits for it to come back.");
        let post = json!({ "text": text, "to": "channel", "what": "runner_offline" });
        queue::enqueue(&mut *tx, Some(incident_id), kind::POST, &format!("offline:{task}"), post, now).await?;
    }
    tx.commit().await?;
    state.runner_tasks_ready.notify_waiters();
    crate::jobs::wake(state);
    Ok(())
}

/// Checks the runner token (constant time). Runners are off without `WARROOM_RUNNER_TOKEN`.
fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let Some(expected) = &state.settings.runner_token else {
        return Err((StatusCode::NOT_FOUND, "remote runners are off: set WARROOM_RUNNER_TOKEN"));
    };
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if crate::secret::constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) => Ok(()),
        _ => Err((StatusCode::UNAUTHORIZED, "bad runner token")),
    }
}

#[derive(Deserialize)]
struct PollRequest {
    name: String,
    #[serde(default)]
    wait_secs: u64,
}

/// A runner asks for work: heartbeat, then the oldest task for it, waiting up to `wait_secs`.
async fn poll(State(state): State<AppState>, headers: HeaderMap, Json(req): Json<PollRequest>) -> Response {
    if let Err(refused) = authorized(&state, &headers) {
        return refused.into_response();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(req.wait_secs.min(MAX_WAIT));
    loop {
        // Registered before looking, so a task queued in between still wakes this poll.
        let queued = state.runner_tasks_ready.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        match claim(&state, &req.name).await {
            Ok(Some(task)) => return Json(task).into_response(),
            Ok(None) if tokio::time::Instant::now() >= deadline => return StatusCode::NO_CONTENT.into_response(),
            // Woken at once for a task queued by this process; a replica's shows up within 250 ms.
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_millis(250), queued).await;
            }
            Err(e) => {
                tracing::warn!("runner poll failed on the database: {e}");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
}

async fn claim(state: &AppState, runner: &str) -> sqlx::Result<Option<Value>> {
    let now = state.clock.now();
    sqlx::query(
        "INSERT INTO runners (name, last_seen) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET last_seen = $2",
    )
    .bind(runner)
    .bind(now)
    .execute(&state.db)
    .await?;
    let task: Option<(Uuid, String, Value)> = sqlx::query_as(
        r#"UPDATE runner_tasks SET state = 'sent', sent_at = $2
           WHERE id = (SELECT id FROM runner_tasks WHERE runner = $1 AND state = 'queued'
                       ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING id, action, params"#,
    )
    .bind(runner)
    .bind(now)
    .fetch_optional(&state.db)
    .await?;
    Ok(task.map(|(id, action, params)| json!({ "id": id, "action": action, "params": params })))
}

/// What a runner reports for a task.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct TaskResult {
    pub name: String,
    pub task: Uuid,
    /// Set when the runner would not run it (not in its catalog, parameters refused).
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

async fn results(State(state): State<AppState>, headers: HeaderMap, Json(result): Json<TaskResult>) -> Response {
    if let Err(refused) = authorized(&state, &headers) {
        return refused.into_response();
    }
    match record(&state, &result).await {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => (StatusCode::CONFLICT, "no such task sent to this runner").into_response(),
        Err(e) => {
            tracing::warn!("recording runner result failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}

async fn record(state: &AppState, result: &TaskResult) -> Result<bool, JobError> {
    let now = state.clock.now();
    let task: Option<(Uuid, String, Value, String)> = sqlx::query_as(
        r#"UPDATE runner_tasks SET state = 'done', done_at = $3 WHERE id = $1 AND runner = $2 AND state = 'sent'
           RETURNING incident_id, action, params, requested_by"#,
    )
    .bind(result.task)
    .bind(&result.name)
    .bind(now)
    .fetch_optional(&state.db)
    .await?;
    let Some((incident_id, action_id, params, by)) = task else { return Ok(false) };
    let slot = format!("task:{}", result.task);
    if let Some(reason) = &result.refused {
        let text = format!(
            ":no_entry: Runner `{}` refused `{action_id}`: {}",
            result.name,
            crate::templates::escape_mrkdwn(reason)
        );
        let mut tx = state.db.begin().await?;
        let payload = json!({ "task": result.task, "runner": result.name, "action": action_id, "reason": reason });
        timeline::append(&mut *tx, incident_id, now, &result.name, EventKind::DiagnosticRefused, payload).await?;
        let post = json!({ "text": text, "to": "channel", "what": "runner_refused" });
        queue::enqueue(&mut *tx, Some(incident_id), kind::POST, &slot, post, now).await?;
        tx.commit().await?;
        crate::jobs::wake(state);
        return Ok(true);
    }
    let action =
        state.catalog.get(&action_id).ok_or_else(|| JobError::Fatal(format!("unknown diagnostic `{action_id}`")))?;
    let params: BTreeMap<String, String> = serde_json::from_value(params).unwrap_or_default();
    let outcome = Outcome {
        exit_code: result.exit_code,
        timed_out: result.timed_out,
        duration: Duration::from_millis(result.duration_ms),
        stdout: result.stdout.clone(),
        stderr: result.stderr.clone(),
        truncated: result.truncated,
    };
    super::run_job::record(state, incident_id, action, &params, &by, &outcome, &slot).await?;
    Ok(true)
}
