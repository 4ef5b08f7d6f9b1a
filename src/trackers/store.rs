//! `followup_issues` (migration 0024): each tracked follow-up's issue, its creation's
//! uncertainty, its state as last read, and its nudges. The read model the report uses is
//! `crate::timeline::followups`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Issue;

#[derive(Debug, sqlx::FromRow)]
pub struct Row {
    pub incident_id: Uuid,
    pub tracker: String,
    pub uncertain: bool,
    pub issue_key: Option<String>,
    pub closed: bool,
    pub refused: Option<String>,
    pub nudges: i32,
}

pub async fn add(
    db: impl PgExecutor<'_>,
    followup_id: i64,
    incident_id: Uuid,
    tracker: &str,
    due_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO followup_issues (followup_id, incident_id, tracker, due_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (followup_id) DO NOTHING",
    )
    .bind(followup_id)
    .bind(incident_id)
    .bind(tracker)
    .bind(due_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn load(db: impl PgExecutor<'_>, followup_id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(
        "SELECT incident_id, tracker, uncertain, issue_key, closed, refused, nudges
         FROM followup_issues WHERE followup_id = $1",
    )
    .bind(followup_id)
    .fetch_optional(db)
    .await
}

/// Before a creation request goes out (committed first): a worker that dies waiting leaves it
/// uncertain, and the next attempt searches for the marker before creating.
pub async fn mark_uncertain(db: impl PgExecutor<'_>, followup_id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE followup_issues SET uncertain = true, first_attempt_at = coalesce(first_attempt_at, $2)
         WHERE followup_id = $1",
    )
    .bind(followup_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The tracker said for sure that nothing was created.
pub async fn settle(db: impl PgExecutor<'_>, followup_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE followup_issues SET uncertain = false WHERE followup_id = $1")
        .bind(followup_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The issue exists (created now, or found by its marker). False when it was recorded already.
pub async fn record_created(
    db: impl PgExecutor<'_>,
    followup_id: i64,
    issue: &Issue,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE followup_issues SET uncertain = false, issue_key = $2, issue_url = $3, issue_state = $4, closed = $5,
                created_at = $6, synced_at = $6, sync_error = NULL
         WHERE followup_id = $1 AND issue_key IS NULL",
    )
    .bind(followup_id)
    .bind(&issue.key)
    .bind(&issue.url)
    .bind(&issue.state)
    .bind(issue.closed)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_refused(db: impl PgExecutor<'_>, followup_id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE followup_issues SET uncertain = false, refused = $2 WHERE followup_id = $1")
        .bind(followup_id)
        .bind(message)
        .execute(db)
        .await?;
    Ok(())
}

/// The state read back; returns whether it changed.
pub async fn record_state(
    db: impl PgExecutor<'_>,
    followup_id: i64,
    issue: &Issue,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let changed: Option<bool> = sqlx::query_scalar(
        "UPDATE followup_issues f SET issue_state = $2, closed = $3, synced_at = $4, sync_error = NULL
         FROM (SELECT issue_state, closed FROM followup_issues WHERE followup_id = $1 FOR UPDATE) old
         WHERE f.followup_id = $1
         RETURNING old.issue_state IS DISTINCT FROM $2 OR old.closed IS DISTINCT FROM $3",
    )
    .bind(followup_id)
    .bind(&issue.state)
    .bind(issue.closed)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(changed.unwrap_or(false))
}

pub async fn record_sync_error(db: impl PgExecutor<'_>, followup_id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE followup_issues SET sync_error = $2 WHERE followup_id = $1")
        .bind(followup_id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// Counts nudge `n`; false when it was counted already (a retried job).
pub async fn record_nudge(db: impl PgExecutor<'_>, followup_id: i64, n: i32, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE followup_issues SET nudges = $2, nudged_at = $3 WHERE followup_id = $1 AND nudges < $2")
            .bind(followup_id)
            .bind(n)
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}
