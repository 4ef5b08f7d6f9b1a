//! One Socket Mode envelope: hand its payload to the same handlers the HTTP endpoints use, and
//! build the acknowledgement (with the handler's answer as its payload where Slack takes one).
//!
//! Slack delivers an envelope again when its acknowledgement was lost with a dropped
//! connection. Commands and interactions are therefore acted on once per trigger id: the
//! handler runs inside the transaction that keeps its answer (in `idempotency_keys`, under a
//! transaction-scoped advisory lock, so a repeat arriving while the first is still running
//! waits for it), so the effect and the key commit together — a repeat gets the same answer
//! and acts on nothing, and a failure leaves neither, so the repeat does the work. Events are
//! deduplicated by their `event_id`, as over HTTP. Bad input (text warroom cannot take) is
//! acknowledged, with the same answer HTTP gives, and changes nothing.

use axum::response::Response;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::super::{commands, events, interactions, submissions, MAX_BODY};
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

/// Handles one envelope (`slash_commands`, `interactive`, `events_api`); `not_unicode` when its
/// text held a string escape that is no Unicode (read as U+FFFD): refused as not UTF-8.
pub async fn handle(state: &AppState, envelope: &Value, not_unicode: bool) -> Outcome {
    let Some(envelope_id) = envelope["envelope_id"].as_str() else { return Outcome::Ignored };
    let kind = envelope["type"].as_str().unwrap_or_default();
    let payload = &envelope["payload"];
    let result = match kind {
        _ if not_unicode => Err(AppError::BadRequest("the envelope is not valid UTF-8 text".into())),
        "slash_commands" | "interactive" => once(state, envelope_id, kind, payload).await,
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
        // Malformed input will be just as malformed when repeated: acknowledge it (with the
        // answer HTTP would give), act on nothing.
        Err(e) if e.is_bad_input() => {
            tracing::warn!(envelope.kind = kind, "refused a Socket Mode envelope: {e}");
            let mut ack = json!({ "envelope_id": envelope_id });
            if envelope["accepts_response_payload"] == true {
                if let Some(answer) = refusal(kind, payload, &e, not_unicode).await {
                    ack["payload"] = answer;
                }
            }
            Outcome::Ack(ack)
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

/// What a refused envelope is answered, as over HTTP: text the database refused or that is not
/// UTF-8 is told to the person (an ephemeral message, the modal's error); malformed input and
/// refused clicks get nothing.
async fn refusal(kind: &str, payload: &Value, e: &AppError, not_unicode: bool) -> Option<Value> {
    let (command, form) = match e {
        AppError::Unprocessable(_) => (commands::unstorable(e), interactions::unstorable(e)),
        _ if not_unicode => (commands::NOT_UTF8.to_string(), interactions::NOT_UTF8.to_string()),
        _ => return None,
    };
    match kind {
        "slash_commands" => Some(commands::refused(&command)),
        "interactive" => answer(Ok(submissions::refuse_input(payload, None, &form))).await.ok().flatten(),
        _ => None,
    }
}

async fn slash(state: &AppState, db: &mut PgConnection, payload: &Value) -> Result<Option<Value>, AppError> {
    let form: commands::SlashCommand = serde_json::from_value(payload.clone())
        .map_err(|e| AppError::BadRequest(format!("malformed slash command payload: {e}")))?;
    answer(commands::dispatch(state, db, form).await).await
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

/// Handles the command or interaction unless this delivery (by trigger id, else envelope id)
/// was acted on before, in one transaction with the key and the answer; a repeat gets the
/// first answer back.
async fn once(state: &AppState, envelope_id: &str, kind: &str, payload: &Value) -> Result<Option<Value>, AppError> {
    let key = match payload["trigger_id"].as_str() {
        Some(trigger) if !trigger.is_empty() => format!("socket:{trigger}"),
        _ => format!("socket:envelope:{envelope_id}"),
    };
    crate::input::check("the delivery's trigger or envelope id", &key).map_err(AppError::BadRequest)?;
    let mut tx = state.db.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key).execute(&mut *tx).await?;
    let seen = sqlx::query_scalar!("SELECT response FROM idempotency_keys WHERE key = $1", key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(response) = seen {
        tracing::info!(envelope.key = %key, "a repeated Socket Mode delivery: answered as the first time, acted on once");
        return Ok(response);
    }
    // On an error the transaction rolls back, the handler's work with it: nothing is
    // remembered and the repeat runs again.
    let answer = match kind {
        "slash_commands" => slash(state, &mut tx, payload).await?,
        _ => answer(interactions::dispatch(state, &mut tx, payload).await).await?,
    };
    sqlx::query!(
        "INSERT INTO idempotency_keys (key, created_at, response) VALUES ($1, $2, $3)",
        key,
        state.clock.now(),
        answer
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    crate::jobs::wake_everywhere(state);
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
