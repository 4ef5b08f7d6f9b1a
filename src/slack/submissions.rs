//! Modal submissions (`view_submission`): declare, update and resolve. A submission is a
//! request like any other: it is checked against `[permissions]` when it is made, whatever was
//! checked when the modal opened. Read and written through the request's transaction (`db`).

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use slack_morphism::blocks::SlackViewSubmissionResponse;
use sqlx::PgConnection;
use uuid::Uuid;

use super::modals::SERVICE_TYPED;
use super::{authorize, kit};
use crate::app::AppState;
use crate::config::Permission;
use crate::error::AppError;
use crate::incident::declare;
use crate::incident::lifecycle::{self, LifecycleError};
use crate::incident::store::{self, Incident, NewIncident, UpdateFields};
use crate::incident::{ServiceName, Severity, SlackUserId, Status};

/// The incident a submitted update or resolve modal is about (its `private_metadata`).
async fn submitted_incident(db: &mut PgConnection, payload: &Value) -> Result<Option<Incident>, AppError> {
    let id = payload["view"]["private_metadata"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    match id {
        Some(id) => Ok(store::get(db, id).await?),
        None => Ok(None),
    }
}

/// Keeps the modal open with `message` under `block`.
pub(super) fn modal_error(block: &str, message: impl Into<String>) -> Response {
    answer(kit::submission_errors(HashMap::from([(block.to_string(), message.into())])))
}

/// Slack's `response_action`, as the body of the answer to the submission.
pub(super) fn answer(response: SlackViewSubmissionResponse) -> Response {
    Json(response).into_response()
}

/// The answer to an interaction refused as bad input, which changed nothing: for a submission
/// the modal stays open with `message` under `block` (else its first field); a click gets an
/// empty 200.
pub(super) fn refuse_input(payload: &Value, block: Option<&str>, message: &str) -> Response {
    if payload["type"] != "view_submission" {
        return ().into_response();
    }
    let values = payload["view"]["state"]["values"].as_object();
    let first = values.and_then(|v| v.keys().next()).map(String::as_str);
    let block = block.filter(|b| values.is_some_and(|v| v.contains_key(*b))).or(first).unwrap_or("form");
    modal_error(block, message)
}

/// A modal field that failed validation: shown under its block.
struct FieldError(&'static str, &'static str);

fn text_field(payload: &Value, block: &'static str) -> Result<Option<String>, FieldError> {
    match field(payload, block) {
        Some(v) if v.chars().count() > 500 => Err(FieldError(block, "at most 500 characters")),
        other => Ok(other.map(str::to_string)),
    }
}

pub(super) async fn update(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let Some(incident) = submitted_incident(db, payload).await? else {
        return Ok(modal_error("status", "this incident no longer exists"));
    };
    if let Some(permission) = authorize::update_permission(state, &incident) {
        if let Some(refusal) = authorize::refusal(state, db, &incident, user, permission).await? {
            return Ok(modal_error("status", refusal));
        }
    }
    let status = match field(payload, "status").map(Status::parse) {
        Some(Ok(Status::Resolved)) => return Ok(modal_error("status", "to resolve, use Resolve")),
        Some(Ok(status)) => Some(status),
        Some(Err(m)) => return Ok(modal_error("status", m)),
        None => None,
    };
    let fields = (|| {
        Ok(UpdateFields {
            status,
            status_text: text_field(payload, "status_text")?,
            root_cause: text_field(payload, "cause")?,
            action: text_field(payload, "action")?,
            eta: text_field(payload, "eta")?,
            impact: text_field(payload, "impact")?,
        })
    })();
    let fields = match fields {
        Ok(fields) => fields,
        Err(FieldError(block, message)) => return Ok(modal_error(block, message)),
    };
    match lifecycle::update(&mut *db, state.reactions(), state.clock.now(), &incident, user, &fields).await {
        Ok(_) => {}
        Err(LifecycleError::Database(e)) => return Err(e.into()),
        Err(other) => return Ok(modal_error("status", other.to_string())),
    }
    Ok(answer(kit::submission_clear()))
}

pub(super) async fn resolve(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let Some(incident) = submitted_incident(db, payload).await? else {
        return Ok(modal_error("resolution", "this incident no longer exists"));
    };
    if let Some(refusal) = authorize::refusal(state, db, &incident, user, Permission::Resolve).await? {
        return Ok(modal_error("resolution", refusal));
    }
    let parsed =
        (|| Ok((text_field(payload, "cause")?, text_field(payload, "resolution")?, text_field(payload, "impact")?)))();
    let (root_cause, resolution, impact) = match parsed {
        Ok(values) => values,
        Err(FieldError(block, message)) => return Ok(modal_error(block, message)),
    };
    let fields = UpdateFields { root_cause, impact, ..Default::default() };
    match lifecycle::resolve(
        &mut *db,
        state.reactions(),
        state.clock.now(),
        &incident,
        user,
        &fields,
        resolution.as_deref(),
    )
    .await
    {
        Ok(resolved) => state.metrics.resolved(&resolved),
        Err(LifecycleError::Database(e)) => return Err(e.into()),
        Err(other) => return Ok(modal_error("resolution", other.to_string())),
    }
    Ok(answer(kit::submission_clear()))
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

/// Whether a checkboxes block's option `value` is ticked.
fn ticked(payload: &Value, block: &str) -> bool {
    let selected = &payload["view"]["state"]["values"][block]["value"]["selected_options"];
    selected.as_array().is_some_and(|options| options.iter().any(|o| o["value"] == block))
}

pub(super) async fn declare(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let mut errors = HashMap::new();
    // A typed service wins over the list (it is there for services the list cannot hold).
    let typed = field(payload, SERVICE_TYPED);
    let service_block = if typed.is_some() { SERVICE_TYPED } else { "service" };
    let service = ServiceName::parse(typed.or(field(payload, "service")).unwrap_or(""))
        .map_err(|m| errors.insert(service_block.into(), m.to_string()))
        .ok();
    let severity = Severity::parse(field(payload, "severity").unwrap_or("P0"))
        .map_err(|m| errors.insert("severity".into(), m.to_string()))
        .ok();
    let summary = field(payload, "summary").unwrap_or("");
    if summary.chars().count() > 200 {
        errors.insert("summary".into(), "keep the summary under 200 characters".into());
    }
    let commander = match field(payload, "commander") {
        Some(c) => SlackUserId::parse(c)
            .map_err(|m| errors.insert("commander".into(), m.to_string()))
            .ok()
            .map(|c| c.as_str().to_string()),
        None => Some(user.to_string()),
    };
    let roles = crate::roles::modal::submitted(state.settings.file.roles.others(), |b| field(payload, b), &mut errors);
    let (Some(service), Some(severity), Some(commander), true) = (service, severity, commander, errors.is_empty())
    else {
        // Slack shows these under the fields; the modal stays open and nothing is created.
        return Ok(answer(kit::submission_errors(errors)));
    };
    let origin = payload["view"]["private_metadata"].as_str().filter(|s| !s.is_empty());
    let private = ticked(payload, super::modals::PRIVATE);
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
        runbook_url: None,
        roles,
        private,
    };
    let view_id = payload["view"]["id"].as_str().unwrap_or_default();
    let key = format!("view:{view_id}");
    let declared = declare::declare(db, state.reactions(), state.clock.now(), &key, "modal", &new).await?;
    if declared.created {
        state.metrics.declared(new.severity.as_str(), "modal");
    }
    Ok(answer(kit::submission_clear()))
}
