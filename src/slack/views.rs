//! The modals warroom opened. The open-modal job records each view `views.open` returns (its
//! id, callback and private metadata); a `view_submission` is acted on only for a view recorded
//! here, unchanged, so a forged submission (a made-up view id, or a real one with another
//! callback or another incident in its metadata) changes nothing.

use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

/// How long a recorded view is kept (a modal left open longer is opened again).
pub const KEEP_DAYS: i64 = 7;

/// Records `view` (as sent to `views.open`) under the id Slack gave it.
pub async fn record(
    db: impl PgExecutor<'_>,
    view_id: &str,
    view: &Value,
    opened_for: Option<&str>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO opened_views (view_id, callback_id, private_metadata, opened_for, opened_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (view_id) DO NOTHING",
    )
    .bind(view_id)
    .bind(view["callback_id"].as_str().unwrap_or_default())
    .bind(view["private_metadata"].as_str().unwrap_or_default())
    .bind(opened_for)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Is the submitted `view` one warroom opened, with the callback and metadata it gave it?
pub async fn opened(db: &mut PgConnection, view: &Value) -> sqlx::Result<bool> {
    let Some(id) = view["id"].as_str().filter(|id| !id.is_empty()) else { return Ok(false) };
    let callback = view["callback_id"].as_str().unwrap_or_default();
    let metadata = view["private_metadata"].as_str().unwrap_or_default();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM opened_views WHERE view_id = $1 AND callback_id = $2 AND private_metadata = $3)",
    )
    .bind(id)
    .bind(callback)
    .bind(metadata)
    .fetch_one(db)
    .await
}

/// The answer to a submission of a view warroom did not open: the modal stays open, saying so.
pub fn refusal(payload: &Value) -> Response {
    let message = "warroom did not open this form (or it expired); nothing was saved. Open it again from Slack.";
    super::submissions::refuse_input(payload, None, message)
}

/// Forgets views recorded more than [`KEEP_DAYS`] before `now`.
pub async fn purge(db: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let before = now - chrono::Duration::days(KEEP_DAYS);
    Ok(sqlx::query("DELETE FROM opened_views WHERE opened_at < $1").bind(before).execute(db).await?.rows_affected())
}
