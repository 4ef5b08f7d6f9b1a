//! `POST /slack/events`: the Events API. Answers `url_verification`, and deduplicates
//! deliveries by `event_id` so Slack's retries (`X-Slack-Retry-Num`) are acted on once: the
//! key and the work the event causes commit in one transaction, so a delivery that fails leaves
//! neither and Slack's retry does it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::verify_request;
use crate::app::AppState;
use crate::error::AppError;

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    verify_request(&state, &headers, &body)?;
    let not_utf8 = || AppError::BadRequest("malformed event: the body is not valid UTF-8".into());
    let text = std::str::from_utf8(&body).map_err(|_| not_utf8())?;
    // A string escape that is no Unicode (a lone surrogate) is not UTF-8 either.
    if crate::input::lossy_json(text).1 {
        return Err(not_utf8());
    }
    let event: Value = serde_json::from_str(text).map_err(|e| AppError::BadRequest(format!("malformed event: {e}")))?;
    dispatch(&state, &event).await
}

/// Acts on an Events API envelope however it arrived (an HTTP body, or a Socket Mode payload).
pub(super) async fn dispatch(state: &AppState, event: &Value) -> Result<Response, AppError> {
    match event["type"].as_str() {
        Some("url_verification") => {
            let challenge = event["challenge"].as_str().unwrap_or_default();
            Ok(Json(json!({ "challenge": challenge })).into_response())
        }
        Some("event_callback") => {
            let event_id = event["event_id"]
                .as_str()
                .ok_or_else(|| AppError::BadRequest("malformed event: no event_id".into()))?;
            crate::input::check("the event_id", event_id).map_err(AppError::BadRequest)?;
            let mut tx = state.db.begin().await?;
            if first_delivery(&mut tx, event_id, state.clock.now()).await? {
                tracing::debug!(event.id = event_id, event.kind = ?event["event"]["type"], "event received");
                // Each part that follows Slack's events looks at every event and keeps its own.
                super::capture::on_event(state, &mut tx, &event["event"]).await?;
                super::membership::on_event(&mut tx, &event["event"]).await?;
                crate::catchup::join::on_event(&mut tx, &event["event"], state.clock.now()).await?;
                tx.commit().await?;
                crate::jobs::wake_everywhere(state);
            }
            Ok(().into_response())
        }
        // Other envelopes (e.g. `app_rate_limited`) need only a 200, or Slack retries them.
        other => {
            tracing::info!(event.envelope = ?other, "ignored an Events API envelope");
            Ok(().into_response())
        }
    }
}

/// Takes the event's key; false when an earlier delivery took it (a concurrent one holding it
/// uncommitted makes this wait for its outcome).
async fn first_delivery(
    db: &mut PgConnection,
    event_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, AppError> {
    let key = format!("event:{event_id}");
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (key, created_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        key,
        now
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
