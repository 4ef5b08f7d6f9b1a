//! An approved change, at most once. Its approval is used up before anything runs: the request
//! moves `approved` → `running` (here) or `approved` → `dispatched` → `running` (a remote
//! runner took its task) in a committed transaction. Its outcome is recorded with its final
//! state (`done`, `failed`) in one transaction. A request found `running` without an outcome —
//! by a retry of its job, after a restart, or by its watch timer past its time limit — is never
//! started again: it becomes `outcome_unknown`, and the channel is told what ran, when, and to
//! check. Requests that have not started are `cancelled` when the incident resolves.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::approvals::{Request, SELECT_REQUEST};
use super::run_job::{self, Ran};
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::templates::escape_mrkdwn;
use crate::timeline::{self, EventKind, WARROOM};

type Tx<'c> = Transaction<'c, Postgres>;

/// How long past its time limit a started change (or a runner's task) may go without an
/// outcome before warroom says the outcome is unknown: room for recording it, or for a runner
/// retrying its report.
pub const MARGIN: Duration = Duration::from_secs(120);

/// Why a request found `running` by a retry has no outcome.
const LOST: &str = "warroom lost track of it before its outcome was recorded (a restart, or a failure recording it)";

/// A request's state, in words.
pub fn words(state: &str) -> &str {
    match state {
        "dispatched" => "handed to its runner",
        "outcome_unknown" => "started, with an unknown outcome",
        other => other,
    }
}

/// Where an approved change is about to start.
#[derive(Debug, Clone, Copy)]
pub enum Where {
    /// Here, as a process with this time limit.
    Here { timeout: Duration },
    /// On a remote runner: it starts when the runner takes its task.
    Runner,
}

/// What [`begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// Used up (once the transaction commits): start it.
    Go(Box<Request>),
    /// It had started and has no outcome: now `outcome_unknown`, and the channel told.
    Unknown,
    /// Nothing starts, and nothing is worth retrying: why.
    Nothing(String),
}

/// Uses up approved request `id` for the command hashing to `hash`, in `tx`. A request that
/// already started is never started again: found `running`, it becomes `outcome_unknown`.
pub async fn begin(tx: &mut Tx<'_>, now: DateTime<Utc>, id: Uuid, hash: &str, at: Where) -> Result<Begin, JobError> {
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let unapproved = || JobError::Fatal("this change has no approval for this exact command".into());
    let Some(mut request) = request.filter(|r| r.action_hash == hash) else { return Err(unapproved()) };
    match request.state.as_str() {
        "approved" => {}
        "running" => {
            // A remote runner's: its task's watch tells, not a retry of the job that handed it over.
            let remote: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM runner_tasks WHERE approval_id = $1)")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
            if remote {
                return Ok(Begin::Nothing("its runner has it".into()));
            }
            mark_unknown(tx, &request, now, LOST).await?;
            return Ok(Begin::Unknown);
        }
        "pending" | "denied" | "expired" => return Err(unapproved()),
        other => return Ok(Begin::Nothing(format!("it is already {}", words(other)))),
    }
    let resolved: bool = sqlx::query_scalar("SELECT resolved_at IS NOT NULL FROM incidents WHERE id = $1")
        .bind(request.incident_id)
        .fetch_one(&mut **tx)
        .await?;
    if resolved {
        cancel_in(tx, &request, "resolved", now).await?;
        return Ok(Begin::Nothing("the incident was resolved before it started".into()));
    }
    let (next, started) = match at {
        Where::Here { .. } => ("running", Some(now)),
        Where::Runner => ("dispatched", None),
    };
    sqlx::query("UPDATE approval_requests SET state = $2, started_at = $3 WHERE id = $1 AND state = 'approved'")
        .bind(id)
        .bind(next)
        .bind(started)
        .execute(&mut **tx)
        .await?;
    if let Where::Here { timeout } = at {
        started_event(tx, &request, now, None).await?;
        watch_from(tx, &request, now, timeout).await?;
    }
    refresh(tx, &request, next, now).await?;
    request.state = next.to_string();
    request.started_at = started;
    Ok(Begin::Go(Box::new(request)))
}

/// A remote runner took the task of dispatched request `id`: the change has started.
pub async fn runner_started(tx: &mut Tx<'_>, now: DateTime<Utc>, id: Uuid, runner: &str) -> sqlx::Result<()> {
    let request: Option<Request> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE approval_requests SET state = 'running', started_at = $2 WHERE id = $1 AND state = 'dispatched' \
         RETURNING {}",
        super::approvals::columns!()
    )))
    .bind(id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(request) = request {
        started_event(tx, &request, now, Some(runner)).await?;
        refresh(tx, &request, "running", now).await?;
    }
    Ok(())
}

async fn started_event(
    tx: &mut Tx<'_>,
    request: &Request,
    now: DateTime<Utc>,
    runner: Option<&str>,
) -> sqlx::Result<()> {
    let payload = json!({ "request": request.id, "action": request.action, "argv": request.argv,
                          "hash": request.action_hash, "runner": runner });
    timeline::append(&mut **tx, request.incident_id, now, WARROOM, EventKind::ChangeStarted, payload).await
}

/// The watch timer of a change started here: past its time limit and [`MARGIN`], a request
/// still `running` has an unknown outcome (its job died for good, or could not record it).
async fn watch_from(tx: &mut Tx<'_>, request: &Request, now: DateTime<Utc>, timeout: Duration) -> sqlx::Result<()> {
    let at = now + chrono::Duration::from_std(timeout + MARGIN).unwrap_or_default();
    let payload = json!({ "request": request.id, "timeout_secs": timeout.as_secs() });
    let slot = request.id.to_string();
    queue::enqueue(&mut **tx, Some(request.incident_id), kind::CHANGE_WATCH, &slot, payload, at).await?;
    Ok(())
}

/// Records the outcome of a change that ran here, with the request's final state, in one
/// transaction. Runs only after [`begin`] returned [`Begin::Go`] and the process ended.
pub async fn finish(state: &AppState, request: &Request, ran: Ran<'_>) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let ok = ran.outcome.exit_code == Some(0) && !ran.outcome.timed_out;
    let line = run_job::verdict(ran.action, ran.outcome);
    let before = finish_in(&mut tx, now, request.id, ok, &line).await?;
    let late = before.as_deref() == Some("outcome_unknown");
    run_job::record_in(&mut tx, state, &Ran { late, ..ran }).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// Sets a started request's final state (`done` when `ok`, else `failed`) and its outcome line,
/// in `tx`; returns the state it had (`outcome_unknown` for an outcome learned late).
pub async fn finish_in(
    tx: &mut Tx<'_>,
    now: DateTime<Utc>,
    id: Uuid,
    ok: bool,
    outcome: &str,
) -> sqlx::Result<Option<String>> {
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(request) = request.filter(|r| r.state == "running" || r.state == "outcome_unknown") else {
        return Ok(None);
    };
    sqlx::query("UPDATE approval_requests SET state = $2, finished_at = $3, outcome = $4 WHERE id = $1")
        .bind(id)
        .bind(if ok { "done" } else { "failed" })
        .bind(now)
        .bind(outcome)
        .execute(&mut **tx)
        .await?;
    cancel_watch(tx, kind::CHANGE_WATCH, &id.to_string()).await?;
    refresh(tx, &request, "finished", now).await?;
    Ok(Some(request.state))
}

/// A `running` request becomes `outcome_unknown`: recorded, and the channel told what ran,
/// when, and to check (`why` ends the sentence "... started at 15:02:07 UTC, and ___").
/// Returns false when it was not running (already finished, or already said unknown).
pub async fn mark_unknown(tx: &mut Tx<'_>, request: &Request, now: DateTime<Utc>, why: &str) -> sqlx::Result<bool> {
    let marked = sqlx::query(
        "UPDATE approval_requests SET state = 'outcome_unknown', finished_at = $2 WHERE id = $1 AND state = 'running'",
    )
    .bind(request.id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked == 0 {
        return Ok(false);
    }
    let argv: Vec<String> = serde_json::from_value(request.argv.clone()).unwrap_or_default();
    let command = argv.join(" ");
    let started = request.started_at.map_or("an unknown time".to_string(), |at| at.format("%H:%M:%S UTC").to_string());
    let payload = json!({ "request": request.id, "action": request.action, "argv": argv,
                          "started_at": request.started_at, "why": why });
    timeline::append(&mut **tx, request.incident_id, now, WARROOM, EventKind::ChangeOutcomeUnknown, payload).await?;
    let text = format!(
        ":warning: *Outcome unknown:* `{}` (`{}`, requested by <@{}>) started at {started}, and {why}. warroom will \
         not run it again. Check the system to see whether the change happened, and request it again if it is \
         still needed.",
        escape_mrkdwn(&command),
        request.action,
        request.requested_by
    );
    let post = json!({ "text": text, "to": "channel", "what": "change_outcome_unknown" });
    let slot = format!("unknown:{}", request.id);
    queue::enqueue(&mut **tx, Some(request.incident_id), kind::POST, &slot, post, now).await?;
    cancel_watch(tx, kind::CHANGE_WATCH, &request.id.to_string()).await?;
    refresh(tx, request, "unknown", now).await?;
    Ok(true)
}

/// [`kind::CHANGE_WATCH`]: a change started here still `running` past its time limit and
/// [`MARGIN`] has an unknown outcome.
pub async fn watch(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["request"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| JobError::Fatal("change watch without a request".into()))?;
    let timeout = job.payload["timeout_secs"].as_u64().unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let why = format!("no outcome was recorded within its time limit ({timeout} s) and {} s more", MARGIN.as_secs());
    let marked = match request {
        Some(request) => mark_unknown(&mut tx, &request, state.clock.now(), &why).await?,
        None => false,
    };
    tx.commit().await?;
    if marked {
        state.metrics.diagnostic("outcome_unknown");
        crate::jobs::wake(state);
    }
    Ok(())
}

/// Cancels a request that has not started (pending, approved, or dispatched to a runner that
/// has not taken it), in `tx`: a timeline event, and its message says so. `reason`: `resolved`
/// or `expired`. Returns whether it was cancelled.
pub async fn cancel_in(tx: &mut Tx<'_>, request: &Request, reason: &str, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let cancelled = sqlx::query(
        "UPDATE approval_requests SET state = 'cancelled', cancel_reason = $2, finished_at = $3 \
         WHERE id = $1 AND state IN ('pending', 'approved', 'dispatched')",
    )
    .bind(request.id)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if cancelled == 0 {
        return Ok(false);
    }
    let payload = json!({ "request": request.id, "action": request.action, "reason": reason, "was": request.state });
    timeline::append(&mut **tx, request.incident_id, now, WARROOM, EventKind::ApprovalCancelled, payload).await?;
    cancel_watch(tx, kind::APPROVAL_EXPIRE, &request.id.to_string()).await?;
    refresh(tx, request, "cancelled", now).await?;
    Ok(true)
}

/// [`cancel_in`] by id (a remote task's request, when its task is cancelled).
pub async fn cancel_by_id(tx: &mut Tx<'_>, id: Uuid, reason: &str, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    match request {
        Some(request) => cancel_in(tx, &request, reason, now).await,
        None => Ok(false),
    }
}

/// When the incident resolves (from the resolution's job): its changes that have not started
/// never will. Tasks waiting for a remote runner are cancelled (and their requests with them),
/// then the pending and approved requests. Returns how many requests and tasks were cancelled.
pub async fn after_resolve(tx: &mut Tx<'_>, now: DateTime<Utc>, incident_id: Uuid) -> sqlx::Result<usize> {
    use super::runner_cancel::{cancel_stale, Scope};
    let tasks = cancel_stale(tx, now, Scope::Incident(incident_id)).await?;
    let waiting: Vec<Request> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_REQUEST} WHERE incident_id = $1 AND state IN ('pending', 'approved') ORDER BY requested_at FOR UPDATE"
    )))
    .bind(incident_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut requests = 0;
    for request in &waiting {
        requests += usize::from(cancel_in(tx, request, "resolved", now).await?);
    }
    Ok(tasks + requests)
}

/// Queues a refresh of the request's approval message after a transition (`tag` keys it).
async fn refresh(tx: &mut Tx<'_>, request: &Request, tag: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    let slot = format!("{}:{tag}", request.id);
    let payload = json!({ "request": request.id });
    queue::enqueue(&mut **tx, Some(request.incident_id), kind::APPROVAL_MESSAGE, &slot, payload, now).await?;
    Ok(())
}

/// Cancels a queued timer job by its kind and slot (a watch whose change ended, an expiry
/// whose request was cancelled).
pub async fn cancel_watch(tx: &mut Tx<'_>, kind: &str, slot: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET state = 'cancelled' WHERE kind = $1 AND slot = $2 AND state = 'queued'")
        .bind(kind)
        .bind(slot)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
