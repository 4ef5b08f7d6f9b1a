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
//!
//! The acknowledgement's payload is slack-morphism's: the handler's answer read into
//! `SlackCommandEventResponse` (commands) or `SlackInteractionResponse` (interactions: a
//! modal's `response_action`). The envelope and the acknowledgement around it are two small
//! types of ours ([`Envelope`], [`Ack`]), field for field slack-morphism's
//! `SlackSocketModeEventEnvelopeParams` and `SlackSocketModeEventCommonAcknowledge` /
//! `SlackSocketModeCommandEventAck` / `SlackSocketModeInteractiveEventAck`: slack-morphism
//! 2.31 defines those in `models::socket_mode`, which no path outside the crate reaches (the
//! crate root's own `pub mod socket_mode`, the listener, shadows it, and `prelude::socket_mode`
//! is ambiguous between the two globs: rustc refuses it, E0432 with `ambiguous_glob_imports`).

use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::events::{SlackCommandEventResponse, SlackInteractionResponse};
use sqlx::PgConnection;

use super::super::{commands, events, interactions, submissions, MAX_BODY};
use crate::app::AppState;
use crate::error::AppError;

/// A Socket Mode envelope: slack-morphism's `SlackSocketModeEventEnvelopeParams` (with
/// `accepts_response_payload` read as false when absent: that type requires it, and an
/// envelope without it is still one to handle), its type, and the payload as JSON.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    pub envelope_id: String,
    #[serde(default)]
    pub accepts_response_payload: bool,
    #[serde(default)]
    pub payload: Value,
}

/// What to do with an envelope once it has been handled.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Send this acknowledgement (the frame's text).
    Ack(String),
    /// Send nothing: the failure was ours (the database is unreachable), and Slack's repeat
    /// may succeed.
    Unacknowledged,
}

/// Handles one envelope (`slash_commands`, `interactive`, `events_api`); `not_unicode` when its
/// text held a string escape that is no Unicode (read as U+FFFD): refused as not UTF-8.
pub async fn handle(state: &AppState, envelope: &Envelope, not_unicode: bool) -> Outcome {
    let envelope_id = envelope.envelope_id.as_str();
    let kind = envelope.kind.as_str();
    let payload = &envelope.payload;
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
        Ok(answer) => Outcome::Ack(acknowledgement(envelope, answer)),
        // Malformed input will be just as malformed when repeated: acknowledge it (with the
        // answer HTTP would give), act on nothing.
        Err(e) if e.is_bad_input() => {
            tracing::warn!(envelope.kind = kind, "refused a Socket Mode envelope: {e}");
            let answer = match envelope.accepts_response_payload {
                true => refusal(kind, payload, &e, not_unicode).await,
                false => None,
            };
            Outcome::Ack(acknowledgement(envelope, answer))
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
    };
    state.metrics.socket_envelope(known_kind(kind), label);
    outcome
}

/// An acknowledgement: the envelope id, and the answer where Slack takes one.
#[derive(Debug, Serialize)]
pub struct Ack<'a, P: Serialize> {
    pub envelope_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<P>,
}

/// The acknowledgement of `envelope`, with the handler's `answer` as its payload where Slack
/// takes one, read into slack-morphism's types. An answer those types cannot hold is a bug of
/// ours: it is logged and the envelope acknowledged bare (Slack would refuse the payload
/// anyway, and a repeat would get the same answer).
pub fn acknowledgement(envelope: &Envelope, answer: Option<Value>) -> String {
    fn with<P: Serialize + serde::de::DeserializeOwned>(id: &str, answer: Value) -> serde_json::Result<String> {
        let payload: P = serde_json::from_value(answer)?;
        serde_json::to_string(&Ack { envelope_id: id, payload: Some(payload) })
    }
    let id = envelope.envelope_id.as_str();
    let answer = answer.filter(|_| envelope.accepts_response_payload);
    let typed = answer.and_then(|answer| {
        let frame = match envelope.kind.as_str() {
            "slash_commands" => with::<SlackCommandEventResponse>(id, answer),
            "interactive" => with::<SlackInteractionResponse>(id, answer),
            _ => return None,
        };
        frame
            .map_err(|e| {
                tracing::error!(envelope.kind = %envelope.kind, "an answer Slack does not take in an acknowledgement: {e}")
            })
            .ok()
    });
    // An id and nothing else: serializing it cannot fail.
    typed.unwrap_or_else(|| serde_json::to_string(&Ack::<()> { envelope_id: id, payload: None }).unwrap_or_default())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(kind: &str, accepts: Option<bool>) -> Envelope {
        let mut frame = json!({ "type": kind, "envelope_id": "e-1", "payload": {} });
        if let Some(accepts) = accepts {
            frame["accepts_response_payload"] = json!(accepts);
        }
        serde_json::from_value(frame).unwrap()
    }

    fn ack(kind: &str, accepts: Option<bool>, answer: Option<Value>) -> Value {
        serde_json::from_str(&acknowledgement(&envelope(kind, accepts), answer)).unwrap()
    }

    #[test]
    fn a_modals_response_action_goes_back_in_the_ack() {
        let errors = json!({ "response_action": "errors", "errors": { "summary": "keep it under 200 characters" } });
        assert_eq!(
            ack("interactive", Some(true), Some(errors.clone())),
            json!({ "envelope_id": "e-1", "payload": errors })
        );
        let clear = json!({ "response_action": "clear" });
        assert_eq!(
            ack("interactive", Some(true), Some(clear.clone())),
            json!({ "envelope_id": "e-1", "payload": clear })
        );
    }

    #[test]
    fn a_commands_answer_goes_back_in_the_ack_as_slack_morphism_reads_it() {
        let answer = json!({ "response_type": "ephemeral", "text": "Declared",
                             "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "*P0*" } }] });
        assert_eq!(
            ack("slash_commands", Some(true), Some(answer.clone())),
            json!({ "envelope_id": "e-1", "payload": answer })
        );
    }

    #[test]
    fn no_payload_where_slack_takes_none() {
        let bare = json!({ "envelope_id": "e-1" });
        let answer = json!({ "response_action": "clear" });
        assert_eq!(ack("interactive", Some(false), Some(answer.clone())), bare);
        assert_eq!(ack("events_api", Some(true), Some(answer)), bare, "an event's ack has no payload");
        assert_eq!(ack("slash_commands", Some(true), None), bare);
        // Without the flag an envelope is still handled, and answered bare.
        assert!(!envelope("interactive", None).accepts_response_payload);
    }

    #[test]
    fn an_answer_the_ack_types_cannot_hold_is_acknowledged_bare_not_a_panic() {
        let odd = json!({ "response_action": "teleport" });
        assert_eq!(ack("interactive", Some(true), Some(odd)), json!({ "envelope_id": "e-1" }));
        assert_eq!(ack("slash_commands", Some(true), Some(json!(42))), json!({ "envelope_id": "e-1" }));
    }

    #[test]
    fn a_frame_without_an_envelope_id_is_no_envelope() {
        assert!(serde_json::from_value::<Envelope>(json!({ "type": "something_new" })).is_err());
    }
}
