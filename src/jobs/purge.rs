//! Housekeeping, hourly: finished jobs (done, failed, cancelled) older than a week are deleted,
//! so the queue's table stays small (the timeline keeps the history; jobs are only the work),
//! and so are idempotency keys older than a week (Slack repeats a delivery within minutes; an
//! API client's `Idempotency-Key` is good for a week), and so are the console's expired sessions
//! and sign-ins never finished.

use chrono::Duration;
use serde_json::json;

use super::{kind, queue, JobError};
use crate::app::AppState;

/// How long finished jobs are kept (for looking into a recent failure).
pub const KEEP_DAYS: i64 = 7;

/// How long an idempotency key (`trigger_id`, `event_id`, view id, `Idempotency-Key`) is kept.
pub const KEEP_KEYS_DAYS: i64 = 7;

/// Queues the purge an hour from now (one per hour, however many replicas ask): nothing to do
/// at start-up, and a process stopped at once leaves no due work behind.
pub async fn schedule(state: &AppState) -> sqlx::Result<()> {
    let at = state.clock.now() + Duration::hours(1);
    let hour = at.timestamp() / 3600;
    queue::enqueue(&state.db, None, kind::PURGE_JOBS, &format!("hour:{hour}"), json!({}), at).await?;
    Ok(())
}

pub async fn run(state: &AppState) -> Result<(), JobError> {
    let now = state.clock.now();
    let before = now - Duration::days(KEEP_DAYS);
    let purged = sqlx::query!(
        "DELETE FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < $1 OR (state = 'cancelled' AND created_at < $1)",
        before
    )
    .execute(&state.db)
    .await?
    .rows_affected();
    if purged > 0 {
        tracing::info!(jobs.purged = purged, "purged {purged} finished jobs older than {KEEP_DAYS} days");
    }
    crate::slack::views::purge(&state.db, now).await?;
    crate::console::logins::purge(&state.db, now).await?;
    let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now - Duration::days(KEEP_KEYS_DAYS))
        .execute(&state.db)
        .await?
        .rows_affected();
    if keys > 0 {
        tracing::info!(keys.purged = keys, "purged {keys} idempotency keys older than {KEEP_KEYS_DAYS} days");
    }
    let next = now + Duration::hours(1);
    let slot = format!("hour:{}", next.timestamp() / 3600);
    queue::enqueue(&state.db, None, kind::PURGE_JOBS, &slot, json!({}), next).await?;
    Ok(())
}
