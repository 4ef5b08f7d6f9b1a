//! SQL for the status page side: the per-incident sync state (`statuspage_sync`), numbered
//! pushes on the job queue, and the request budget shared by every replica (`rate_limits`).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::push::Push;
use crate::jobs::{kind, queue};

/// Pushes never give up on a failure worth retrying: with the backoff capped at a minute, this
/// is about a week of attempts.
pub const PUSH_MAX_ATTEMPTS: i32 = 10_000;

/// How an incident's status page mirror stands.
#[derive(Debug, Clone)]
pub struct Sync {
    pub incident_id: Uuid,
    pub statuspage_id: Option<String>,
    pub shortlink: Option<String>,
    pub next_seq: i32,
    pub looked_up: bool,
    pub unverified_seq: Option<i32>,
    pub pushed_status: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

pub async fn get(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Option<Sync>> {
    sqlx::query_as!(Sync, "SELECT * FROM statuspage_sync WHERE incident_id = $1", incident_id).fetch_optional(db).await
}

/// The job slot of push `seq`: zero-padded so that slots sort in push order.
pub fn slot(seq: i32) -> String {
    format!("{seq:08}")
}

/// Starts the mirror of a just-declared incident with its opening push (number 1), in one
/// statement: the declaration's transaction pays one round trip for the status page.
pub async fn start(
    tx: &mut Transaction<'_, Postgres>,
    incident_id: Uuid,
    push: &Push,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let payload = serde_json::to_value(push).expect("a push serializes");
    sqlx::query!(
        r#"WITH mirror AS (
               INSERT INTO statuspage_sync (incident_id, next_seq) VALUES ($1, $2 + 1) RETURNING incident_id)
           INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at, max_attempts)
           SELECT incident_id, $3, $4, $5, $6, $6, $7 FROM mirror"#,
        incident_id,
        push.seq,
        kind::STATUSPAGE_PUSH,
        slot(push.seq),
        payload,
        now,
        PUSH_MAX_ATTEMPTS,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues `push` as the incident's next numbered push, starting the mirror if `open` (else
/// only when it exists). Returns the push's number, or `None` when the incident has no mirror.
pub async fn enqueue_push(
    tx: &mut Transaction<'_, Postgres>,
    incident_id: Uuid,
    push: &mut Push,
    open: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i32>> {
    if open {
        sqlx::query!(
            "INSERT INTO statuspage_sync (incident_id) VALUES ($1) ON CONFLICT (incident_id) DO NOTHING",
            incident_id
        )
        .execute(&mut **tx)
        .await?;
    }
    let seq = sqlx::query_scalar!(
        "UPDATE statuspage_sync SET next_seq = next_seq + 1 WHERE incident_id = $1 RETURNING next_seq - 1 AS \"seq!\"",
        incident_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seq) = seq else { return Ok(None) };
    push.seq = seq;
    let payload = serde_json::to_value(&*push).expect("a push serializes");
    queue::enqueue_with_attempts(
        &mut **tx,
        Some(incident_id),
        kind::STATUSPAGE_PUSH,
        &slot(seq),
        payload,
        now,
        PUSH_MAX_ATTEMPTS,
    )
    .await?;
    Ok(Some(seq))
}

/// When the earliest unfinished push before `seq` is due, if there is one: pushes go out in order.
pub async fn earlier_unfinished(db: &PgPool, incident_id: Uuid, seq: i32) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        r#"SELECT min(run_at) FROM jobs
           WHERE incident_id = $1 AND kind = $2 AND slot < $3 AND state IN ('queued', 'running')"#,
        incident_id,
        kind::STATUSPAGE_PUSH,
        slot(seq),
    )
    .fetch_one(db)
    .await
}

/// Brings the next push forward to `now` (the one before it just finished).
pub async fn hurry_next(db: &PgPool, incident_id: Uuid, seq: i32, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE jobs SET run_at = least(run_at, $4)
           WHERE incident_id = $1 AND kind = $2 AND state = 'queued'
             AND slot = (SELECT min(slot) FROM jobs WHERE incident_id = $1 AND kind = $2 AND slot > $3
                         AND state = 'queued')"#,
        incident_id,
        kind::STATUSPAGE_PUSH,
        slot(seq),
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The status page answers again: every push waiting out a backoff after a failure (of any
/// incident) is brought forward to `now`, instead of sleeping up to a minute more.
pub async fn hurry_retries(db: &PgPool, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE jobs SET run_at = $2
           WHERE kind = $1 AND state = 'queued' AND run_at > $2 AND attempts > 0 AND last_error LIKE 'status page:%'"#,
        kind::STATUSPAGE_PUSH,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The status page incident that mirrors ours was created (or found).
pub async fn set_remote(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    id: &str,
    shortlink: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE statuspage_sync SET statuspage_id = $2, shortlink = $3, looked_up = false WHERE incident_id = $1",
        incident_id,
        id,
        shortlink
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the last lookup found no mirror (so creating one is safe).
pub async fn set_looked_up(db: impl PgExecutor<'_>, incident_id: Uuid, looked_up: bool) -> sqlx::Result<()> {
    sqlx::query!("UPDATE statuspage_sync SET looked_up = $2 WHERE incident_id = $1", incident_id, looked_up)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks push `seq` as possibly applied (or clears the mark).
pub async fn set_unverified(db: impl PgExecutor<'_>, incident_id: Uuid, seq: Option<i32>) -> sqlx::Result<()> {
    sqlx::query!("UPDATE statuspage_sync SET unverified_seq = $2 WHERE incident_id = $1", incident_id, seq)
        .execute(db)
        .await?;
    Ok(())
}

/// A push got through: the mirror is in sync. Returns whether it had been failing.
pub async fn record_synced(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    now: DateTime<Utc>,
    status: &str,
) -> sqlx::Result<bool> {
    let was_failing = sqlx::query_scalar!(
        r#"UPDATE statuspage_sync s SET synced_at = $2, failing_since = NULL, last_error = NULL, unverified_seq = NULL,
                  pushed_status = $3
           FROM statuspage_sync old WHERE s.incident_id = $1 AND old.incident_id = s.incident_id
           RETURNING old.failing_since IS NOT NULL AS "was_failing!""#,
        incident_id,
        now,
        status
    )
    .fetch_optional(db)
    .await?;
    Ok(was_failing.unwrap_or(false))
}

/// A push failed. Returns whether this starts a failing streak.
pub async fn record_failing(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    now: DateTime<Utc>,
    error: &str,
) -> sqlx::Result<bool> {
    let started = sqlx::query_scalar!(
        r#"UPDATE statuspage_sync s SET failing_since = coalesce(old.failing_since, $2), last_error = $3
           FROM statuspage_sync old WHERE s.incident_id = $1 AND old.incident_id = s.incident_id
           RETURNING old.failing_since IS NULL AS "started!""#,
        incident_id,
        now,
        error
    )
    .fetch_optional(db)
    .await?;
    Ok(started.unwrap_or(false))
}

/// Takes the next request slot of the budget `key` (one request per `interval`, shared by every
/// replica through this row), or says when the next one is free.
pub async fn take_request_slot(
    db: &PgPool,
    key: &str,
    now: DateTime<Utc>,
    interval: std::time::Duration,
) -> sqlx::Result<Result<(), DateTime<Utc>>> {
    let secs = interval.as_secs_f64();
    let taken = sqlx::query_scalar!(
        r#"INSERT INTO rate_limits AS r (key, next_free) VALUES ($1, $2::timestamptz + make_interval(secs => $3))
           ON CONFLICT (key) DO UPDATE SET next_free = $2::timestamptz + make_interval(secs => $3)
           WHERE r.next_free <= $2::timestamptz
           RETURNING next_free"#,
        key,
        now,
        secs
    )
    .fetch_optional(db)
    .await?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    let next = sqlx::query_scalar!("SELECT next_free FROM rate_limits WHERE key = $1", key).fetch_one(db).await?;
    Ok(Err(next))
}

/// A mirror, as the reconciliation compares it with the status page.
#[derive(Debug, Clone)]
pub struct Mirror {
    pub incident_id: Uuid,
    pub number: i64,
    pub statuspage_id: Option<String>,
    pub pushed_status: Option<String>,
    pub resolved: bool,
    /// A push is queued or running: the mirror is about to change, leave it alone.
    pub busy: bool,
}

/// The mirrors of open incidents, and of `also` (incidents the status page shows unresolved).
pub async fn mirrors(db: &PgPool, also: &[Uuid]) -> sqlx::Result<Vec<Mirror>> {
    sqlx::query_as!(
        Mirror,
        r#"SELECT s.incident_id, i.number, s.statuspage_id, s.pushed_status, i.resolved_at IS NOT NULL AS "resolved!",
                  EXISTS (SELECT 1 FROM jobs j WHERE j.incident_id = s.incident_id AND j.kind = $1
                          AND j.state IN ('queued', 'running')) AS "busy!"
           FROM statuspage_sync s JOIN incidents i ON i.id = s.incident_id
           WHERE i.resolved_at IS NULL OR s.incident_id = ANY($2)"#,
        kind::STATUSPAGE_PUSH,
        also,
    )
    .fetch_all(db)
    .await
}
