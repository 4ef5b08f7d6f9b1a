//! One Socket Mode envelope: hand its payload to the same handlers the HTTP endpoints use, and
//! build the acknowledgement (with the handler's answer as its payload where Slack takes one).
//!
//! Slack delivers an envelope again when its acknowledgement was lost with a dropped
//! connection. Commands and interactions are therefore acted on once per trigger id: the first
//! answer is kept (in `idempotency_keys`, under a transaction-scoped advisory lock, so a repeat
//! arriving while the first is still running waits for it) and a repeat gets the same answer.
//! Events are deduplicated by their `event_id`, as over HTTP.

use axum::response::Response;
use serde_json::{json, Value};

use super::super::{commands, events, interactions, MAX_BODY};
use crate::app::AppState;
use crate::error::AppError;

/// What to do with an envelope once it has been handled.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Send this acknowledgement.
    Ack(Value),
    /// Send nothing: the failure was ours (the database is unreachable), and Slack's repeat
    /// may succeed.
    Unacknowledged,
    /// Not an envelope that needs an answer (`hello`, `disconnect` are handled by the caller).
    Ignored,
}

/// Handles one envelope (`slash_commands`, `interactive`, `events_api`).
pub async fn handle(state: &AppState, envelope: &Value) -> Outcome {
    let Some(envelope_id) = envelope["envelope_id"].as_str() else { return Outcome::Ignored };
    let kind = envelope["type"].as_str().unwrap_or_default();
    let payload = &envelope["payload"];
    let result = match kind {
        "slash_commands" => once(state, envelope_id, payload, slash(state, payload)).await,
        "interactive" => once(state, envelope_id, payload, interactive(state, payload)).await,
        "events_api" => answer(events::dispatch(state, payload).await).await,
        other => {
            tracing::info!(envelope.kind = other, "acknowledged a Socket Mode envelope warroom does not handle");
            Ok(None)
        }
    };
    let outcome = match result {
        Ok(answer) => {
            let mut ack = json!({ "envelope_id": envelope_id });
            if let (Some(answer), true) = (answer, envelope["accepts_response_payload"] == true) {
                ack["payload"] = answer;
            }
            Outcome::Ack(ack)
        }
        // Malformed input will be just as malformed when repeated: acknowledge it, act on nothing.
        Err(AppError::BadRequest(message)) => {
            tracing::warn!(envelope.kind = kind, "refused a Socket Mode envelope: {message}");
            Outcome::Ack(json!({ "envelope_id": envelope_id }))
        }
        Err(e) => {
            tracing::error!(
                envelope.kind = kind,
                "could not handle a Socket Mode envelope (left for Slack to repeat): {e}"
            );
            Outcome::Unacknowledged
        }
    };
    let label = match &outcome {
        Outcome::Ack(_) => "acknowledged",
        Outcome::Unacknowledged => "failed",
        Outcome::Ignored => "ignored",
    };
    state.metrics.socket_envelope(known_kind(kind), label);
    outcome
}

async fn slash(state: &AppState, payload: &Value) -> Result<Option<Value>, AppError> {
    let form: commands::SlashCommand = serde_json::from_value(payload.clone())
        .map_err(|e| AppError::BadRequest(format!("malformed slash command payload: {e}")))?;
    answer(commands::dispatch(state, form).await).await
}

async fn interactive(state: &AppState, payload: &Value) -> Result<Option<Value>, AppError> {
    answer(interactions::dispatch(state, payload).await).await
}

/// The handler's response body as an acknowledgement payload (`None` when it is empty).
async fn answer(response: Result<Response, AppError>) -> Result<Option<Value>, AppError> {
    let response = response?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), MAX_BODY)
        .await
        .map_err(|e| AppError::BadRequest(format!("unreadable answer: {e}")))?;
    if !status.is_success() {
        return Err(AppError::BadRequest(String::from_utf8_lossy(&body).into_owned()));
    }
    if body.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&body).map(Some).map_err(|e| AppError::BadRequest(format!("answer is not JSON: {e}")))
}

/// Runs `work` unless this delivery (by trigger id, else envelope id) was acted on before; a
/// repeat gets the first answer back.
async fn once(
    state: &AppState,
    envelope_id: &str,
    payload: &Value,
    work: impl std::future::Future<Output = Result<Option<Value>, AppError>>,
) -> Result<Option<Value>, AppError> {
    let key = match payload["trigger_id"].as_str() {
        Some(trigger) if !trigger.is_empty() => format!("socket:{trigger}"),
        _ => format!("socket:envelope:{envelope_id}"),
    };
    let mut tx = state.db.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key).execute(&mut *tx).await?;
    let seen = sqlx::query_scalar!("SELECT response FROM idempotency_keys WHERE key = $1", key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(response) = seen {
        tracing::info!(envelope.key = %key, "a repeated Socket Mode delivery: answered as the first time, acted on once");
        return Ok(response);
    }
    // On an error the transaction rolls back: nothing is remembered and the repeat runs again.
    let answer = work.await?;
    sqlx::query!(
        "INSERT INTO idempotency_keys (key, created_at, response) VALUES ($1, $2, $3)",
        key,
        state.clock.now(),
        answer
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(answer)
}

/// The envelope type as a metric label (a fixed set).
fn known_kind(kind: &str) -> &'static str {
    match kind {
        "slash_commands" => "slash_commands",
        "interactive" => "interactive",
        "events_api" => "events_api",
        _ => "other",
    }
}
