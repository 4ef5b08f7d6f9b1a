//! SQL for the `jobs` table: enqueue, claim with `FOR UPDATE SKIP LOCKED`, and record outcomes.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// How long a claimed job stays locked; a worker that dies leaves it claimable after this.
const LOCK_SECS: f64 = 300.0;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub incident_id: Option<Uuid>,
    pub kind: String,
    pub slot: String,
    pub payload: Value,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The last attempt was deferred by the per-channel limiter, which reserved this run's
    /// slot: the job may post without asking again.
    pub holds_slot: bool,
}

/// `last_error` of a job the limiter deferred.
pub const DEFERRED: &str = "deferred by rate limiter";

/// Adds a job unless one with the same (incident, kind, slot) exists; returns whether it was added.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    incident_id: Option<Uuid>,
    kind: &str,
    slot: &str,
    payload: Value,
    run_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let added = sqlx::query!(
        r#"INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT ON CONSTRAINT jobs_once DO NOTHING"#,
        incident_id,
        kind,
        slot,
        payload,
        run_at,
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// [`enqueue`] with its own number of attempts (instead of the default 6).
pub async fn enqueue_with_attempts(
    db: impl PgExecutor<'_>,
    incident_id: Option<Uuid>,
    kind: &str,
    slot: &str,
    payload: Value,
    run_at: DateTime<Utc>,
    max_attempts: i32,
) -> sqlx::Result<bool> {
    let added = sqlx::query!(
        r#"INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at, max_attempts)
           VALUES ($1, $2, $3, $4, $5, $5, $6)
           ON CONFLICT ON CONSTRAINT jobs_once DO NOTHING"#,
        incident_id,
        kind,
        slot,
        payload,
        run_at,
        max_attempts,
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// Claims the next due job, or one whose worker's lock ran out.
pub async fn claim(db: &PgPool, now: DateTime<Utc>) -> sqlx::Result<Option<Job>> {
    let mut tx = db.begin().await?;
    // A claim lost in a crash only means the job is claimed again after the restart, so it
    // need not wait for the WAL flush: that keeps the workers' fsyncs off the ack path.
    sqlx::query!("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    let job = sqlx::query_as!(
        Job,
        r#"UPDATE jobs SET state = 'running', attempts = attempts + 1,
                  locked_until = $1 + make_interval(secs => $2)
           WHERE id = (
               SELECT id FROM jobs
               WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND locked_until < $1)
               ORDER BY run_at, id
               LIMIT 1
               FOR UPDATE SKIP LOCKED)
           RETURNING id, incident_id, kind, slot, payload, attempts, max_attempts,
                     last_error IS NOT DISTINCT FROM $3 AS "holds_slot!""#,
        now,
        LOCK_SECS,
        DEFERRED,
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

pub async fn complete(db: impl PgExecutor<'_>, id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE jobs SET state = 'done', finished_at = $2, locked_until = NULL, last_error = NULL WHERE id = $1",
        id,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Puts the job back for another attempt at `run_at`. `counts` false gives the attempt back
/// (the job was only deferred, e.g. by the per-channel limiter).
pub async fn retry(db: &PgPool, id: i64, run_at: DateTime<Utc>, error: &str, counts: bool) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE jobs SET state = 'queued', run_at = $2, last_error = $3, locked_until = NULL,
                  attempts = CASE WHEN $4 THEN attempts ELSE attempts - 1 END
           WHERE id = $1"#,
        id,
        run_at,
        error,
        counts,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn fail(db: impl PgExecutor<'_>, id: i64, now: DateTime<Utc>, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE jobs SET state = 'failed', finished_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1",
        id,
        now,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Cancels the incident's queued jobs of one kind (a re-planned timer).
pub async fn cancel(db: impl PgExecutor<'_>, incident_id: Uuid, kind: &str) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'cancelled' WHERE incident_id = $1 AND kind = $2 AND state = 'queued'",
        incident_id,
        kind
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Cancels every queued timer of the incident (on resolve). Side effects already queued still run.
pub async fn cancel_timers(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<i64> {
    let timers: Vec<String> = super::kind::TIMERS.iter().map(|k| k.to_string()).collect();
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'cancelled' WHERE incident_id = $1 AND kind = ANY($2) AND state = 'queued'",
        incident_id,
        &timers
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() as i64)
}

/// Jobs not yet finished (queued or running), due or not.
pub async fn unfinished(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE state IN ('queued', 'running')"#).fetch_one(db).await
}

/// The earliest due time among unfinished jobs.
pub async fn next_due(db: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("SELECT min(run_at) FROM jobs WHERE state = 'queued'").fetch_one(db).await
}
