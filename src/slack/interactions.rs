//! `POST /slack/interactions`: button clicks (`block_actions`) and modal submissions
//! (`view_submission`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::blocks::{hhmm, ACTION_ACKNOWLEDGE, VIEW_DECLARE};
use super::verify_request;
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::declare::{self, Acknowledged};
use crate::incident::store::NewIncident;
use crate::incident::{ServiceName, Severity, SlackUserId};
use crate::jobs::respond::{self, Target};

#[derive(Deserialize)]
struct Form {
    payload: String,
}

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    verify_request(&state, &headers, &body)?;
    let form: Form =
        serde_urlencoded::from_bytes(&body).map_err(|e| AppError::BadRequest(format!("malformed interaction: {e}")))?;
    let payload: Value = serde_json::from_str(&form.payload)
        .map_err(|e| AppError::BadRequest(format!("malformed interaction payload: {e}")))?;
    let user = payload["user"]["id"].as_str().unwrap_or_default();
    if user.is_empty() {
        return Err(AppError::BadRequest("malformed interaction payload: no user".into()));
    }
    match payload["type"].as_str() {
        Some("block_actions") => block_actions(&state, user, &payload).await,
        Some("view_submission") if payload["view"]["callback_id"] == VIEW_DECLARE => {
            declare_submission(&state, user, &payload).await
        }
        // Other interaction types (view_closed, shortcuts) need no answer but a 200.
        _ => Ok(().into_response()),
    }
}

async fn block_actions(state: &AppState, user: &str, payload: &Value) -> Result<Response, AppError> {
    let action = &payload["actions"][0];
    if action["action_id"] != ACTION_ACKNOWLEDGE {
        return Ok(().into_response());
    }
    let id = action["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| AppError::BadRequest("acknowledge: the button carries no incident id".into()))?;
    let now = state.clock.now();
    let notice = match declare::acknowledge(&state.db, now, id, user).await? {
        Acknowledged::Now(_) => None,
        Acknowledged::Already(i) => Some(format!(
            "{} was already acknowledged by <@{}> at {} UTC; nothing changed.",
            i.number(),
            i.acknowledged_by.as_deref().unwrap_or("someone"),
            i.acknowledged_at.map(hhmm).unwrap_or_default()
        )),
        Acknowledged::NoSuchIncident => Some("That incident no longer exists in warroom.".into()),
    };
    if let Some(text) = notice {
        let target = Target {
            user: user.to_string(),
            channel: payload["channel"]["id"].as_str().map(str::to_string),
            response_url: payload["response_url"].as_str().map(str::to_string),
        };
        let mut tx = state.db.begin().await?;
        respond::enqueue(&mut tx, None, &target, &text, now).await?;
        tx.commit().await?;
    }
    crate::jobs::wake_everywhere(state);
    Ok(().into_response())
}

/// A field of the submitted modal: text input value, selected option or selected user.
fn field<'a>(payload: &'a Value, block: &str) -> Option<&'a str> {
    let v = &payload["view"]["state"]["values"][block]["value"];
    v["value"]
        .as_str()
        .or(v["selected_option"]["value"].as_str())
        .or(v["selected_user"].as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

async fn declare_submission(state: &AppState, user: &str, payload: &Value) -> Result<Response, AppError> {
    let mut errors = serde_json::Map::new();
    let service = ServiceName::parse(field(payload, "service").unwrap_or(""))
        .map_err(|m| errors.insert("service".into(), json!(m)))
        .ok();
    let severity = Severity::parse(field(payload, "severity").unwrap_or("P0"))
        .map_err(|m| errors.insert("severity".into(), json!(m)))
        .ok();
    let summary = field(payload, "summary").unwrap_or("");
    if summary.chars().count() > 200 {
        errors.insert("summary".into(), json!("keep the summary under 200 characters"));
    }
    let commander = match field(payload, "commander") {
        Some(c) => SlackUserId::parse(c)
            .map_err(|m| errors.insert("commander".into(), json!(m)))
            .ok()
            .map(|c| c.as_str().to_string()),
        None => Some(user.to_string()),
    };
    let (Some(service), Some(severity), Some(commander), true) = (service, severity, commander, errors.is_empty())
    else {
        // Slack shows these under the fields; the modal stays open and nothing is created.
        return Ok(Json(json!({ "response_action": "errors", "errors": errors })).into_response());
    };
    let origin = payload["view"]["private_metadata"].as_str().filter(|s| !s.is_empty());
    let new = NewIncident {
        title: if summary.is_empty() { format!("{} is down", service.as_str()) } else { summary.to_string() },
        service: service.as_str().to_string(),
        severity,
        commander,
        declared_by: user.to_string(),
        impact: field(payload, "impact").map(str::to_string),
        origin_channel: origin.map(str::to_string),
        response_url: None,
        detected_at: None,
    };
    let view_id = payload["view"]["id"].as_str().unwrap_or_default();
    let key = format!("view:{view_id}");
    declare::declare(&state.db, state.clock.now(), &key, "modal", &new).await?;
    crate::jobs::wake_everywhere(state);
    Ok(Json(json!({ "response_action": "clear" })).into_response())
}
