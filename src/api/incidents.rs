//! `POST /api/v1/incidents` (declare, idempotent with `Idempotency-Key`), `GET /api/v1/incidents`
//! (list) and `GET /api/v1/incidents/{number}` (show). Fields are checked with the same parse
//! functions as Slack's declaration modal.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, ApiToken};
use crate::app::AppState;
use crate::incident::declare;
use crate::incident::store::{self, Incident, NewIncident};
use crate::incident::{ServiceName, Severity, SlackUserId};

/// The timeline actor and `via` of API declarations.
const ACTOR: &str = "api";
const MAX_SUMMARY: usize = 200;
const MAX_IMPACT: usize = 500;
const MAX_KEY: usize = 255;
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// The declare request. Unknown fields are refused, so a misspelt one is not silently lost.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareRequest {
    service: String,
    severity: Option<String>,
    summary: Option<String>,
    commander: Option<String>,
    impact: Option<String>,
    detected_at: Option<String>,
    /// A private incident (`[services.x] private` makes it one whatever this says).
    private: Option<bool>,
}

pub async fn declare(
    _: ApiToken,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(ApiError::from_body)?;
    let key = idempotency_key(&headers)?;
    let request: DeclareRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid(format!("malformed JSON: {e}")))?;
    let new = new_incident(&state, request).await?;
    // Without a key every call declares: each gets a key of its own.
    let key = format!("api:{}", key.unwrap_or_else(|| format!("anonymous:{}", uuid::Uuid::new_v4())));
    let declared =
        declare::declare(&mut *state.db.acquire().await?, state.reactions(), state.clock.now(), &key, ACTOR, &new)
            .await?;
    if declared.created {
        state.metrics.declared(new.severity.as_str(), ACTOR);
        crate::jobs::wake_everywhere(&state);
        tracing::info!(incident.number = %declared.number, "declared {} through the API", declared.number);
    }
    let incident = store::get(&state.db, declared.id).await?.ok_or(sqlx::Error::RowNotFound)?;
    let status = if declared.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "created": declared.created, "incident": view(&incident) }))).into_response())
}

/// `Idempotency-Key`: optional, 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let refuse = || ApiError::Invalid(format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"));
    let key = value.to_str().map_err(|_| refuse())?.trim();
    if key.is_empty() || key.len() > MAX_KEY || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(refuse());
    }
    Ok(Some(key.to_string()))
}

async fn new_incident(state: &AppState, r: DeclareRequest) -> Result<NewIncident, ApiError> {
    let invalid = |field: &str, m: String| ApiError::Invalid(format!("{field}: {m}"));
    let fields = [
        ("service", Some(&r.service)),
        ("severity", r.severity.as_ref()),
        ("summary", r.summary.as_ref()),
        ("commander", r.commander.as_ref()),
        ("impact", r.impact.as_ref()),
        ("detected_at", r.detected_at.as_ref()),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            crate::input::check(&format!("`{field}`"), value).map_err(ApiError::Invalid)?;
        }
    }
    let service = ServiceName::parse(&r.service).map_err(|m| invalid("service", m))?;
    let severity = Severity::parse(r.severity.as_deref().unwrap_or("P0")).map_err(|m| invalid("severity", m))?;
    // Control characters out (a NUL cannot even be stored), CR and U+2028 as line breaks.
    let clean = |v: String| crate::sanitize::strip_controls(&v).trim().to_string();
    let text = |field: &str, value: Option<String>, max: usize| match value.map(clean) {
        Some(v) if v.chars().count() > max => Err(invalid(field, format!("at most {max} characters"))),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    };
    let summary = text("summary", r.summary, MAX_SUMMARY)?;
    let impact = text("impact", r.impact, MAX_IMPACT)?;
    let detected_at = match r.detected_at.as_deref() {
        None => None,
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| invalid("detected_at", format!("`{t}` is not an RFC 3339 time ({e})")))?
                .with_timezone(&Utc),
        ),
    };
    let commander = match r.commander.as_deref() {
        Some(c) => SlackUserId::parse(c).map_err(|m| invalid("commander", m))?.as_str().to_string(),
        // Nobody named: warroom's own user holds it, and the declaration reads "unassigned".
        None => state.slack.bot_user_id().await.map_err(|e| {
            ApiError::Unavailable(format!(
                "warroom could not ask Slack for its own user (the commander of unassigned incidents): {e}"
            ))
        })?,
    };
    Ok(NewIncident {
        title: summary.unwrap_or_else(|| format!("{} is down", service.as_str())),
        service: service.as_str().to_string(),
        severity,
        commander,
        declared_by: ACTOR.to_string(),
        impact,
        origin_channel: None,
        response_url: None,
        detected_at,
        runbook_url: None,
        roles: Vec::new(),
        private: r.private.unwrap_or(false),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    all: Option<String>,
    limit: Option<String>,
    /// Read by [`ApiToken::include_private`].
    #[allow(dead_code)]
    include_private: Option<String>,
}

/// Open incidents, newest first (`?all=true`: resolved ones too; `?limit=`, at most 200;
/// `?include_private=true` with the private token: private ones too).
pub async fn list(
    token: ApiToken,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let include_private = token.include_private(query.as_deref())?;
    let query: ListQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|e| {
        ApiError::Invalid(format!("query: {e} (use all=true, limit=1..{MAX_LIMIT} and include_private=true)"))
    })?;
    let all = match query.all.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::Invalid(format!("all=`{other}`: use true or false"))),
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::Invalid(format!("limit=`{l}`: use a number from 1 to {MAX_LIMIT}")))?,
    };
    let incidents = store::list_recent(&state.db, all, include_private, limit).await?;
    let views: Vec<Value> = incidents.iter().map(view).collect();
    Ok(Json(json!({ "count": views.len(), "incidents": views })).into_response())
}

/// One incident, by `INC-42` or `42`.
pub async fn show(
    token: ApiToken,
    State(state): State<AppState>,
    Path(number): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let incident = super::reports::incident(&state, token, query.as_deref(), &number).await?;
    Ok(Json(view(&incident)).into_response())
}

/// An incident as the API shows it (the README documents the fields), redacted like the report.
pub fn view(i: &Incident) -> Value {
    let channel = i.channel_id.as_ref().map(|id| json!({ "id": id, "name": i.channel_name }));
    let mut view = json!({
        "id": i.id,
        "number": i.number().to_string(),
        "title": i.title,
        "service": i.service,
        "severity": i.severity,
        "status": i.status,
        "commander": i.commander,
        "declared_by": i.declared_by,
        "impact": i.impact,
        "channel": channel,
        "runbook_url": i.runbook_url,
        "detected_at": i.detected_at,
        "declared_at": i.declared_at,
        "acknowledged_at": i.acknowledged_at,
        "acknowledged_by": i.acknowledged_by,
        "mitigated_at": i.mitigated_at,
        "resolved_at": i.resolved_at,
        "resolved_by": i.resolved_by,
        "private": i.private,
        "links": {
            "self": format!("/api/v1/incidents/{}", i.number),
            "slack_channel": i.channel_id.as_ref().map(|id| format!("https://slack.com/app_redirect?channel={id}")),
            "runbook": i.runbook_url,
        },
    });
    crate::sanitize::redact_json(&mut view);
    view
}
