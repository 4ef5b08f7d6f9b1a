//! The webhook handlers: token, body (at most 1 MiB), parse, apply, answer — 200 with what
//! happened, 202 when nothing was declared, 422 when the body cannot be used.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::ingest::{self, IngestError, Outcome};
use super::payload::{self, Source};
use crate::api::{ApiError, ApiToken};
use crate::app::AppState;

pub async fn alertmanager(
    _: ApiToken,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    receive(&state, Source::Alertmanager, body).await
}

pub async fn grafana(
    _: ApiToken,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    receive(&state, Source::Grafana, body).await
}

async fn receive(state: &AppState, source: Source, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body.map_err(ApiError::from_body)?;
    // NUL or another control character anywhere (a label, an annotation): refused whole, since
    // the alerts are stored as they came.
    let unusable = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => crate::input::check_json(&value).err(),
        Err(_) => None,
    };
    let notification = unusable.map_or_else(|| payload::parse(source, &body), Err).map_err(|m| {
        tracing::warn!(alert.source = source.as_str(), "refused a {} webhook: {m}", source.label());
        ApiError::Invalid(m)
    })?;
    let key = &notification.group_key;
    match ingest::ingest(state, &notification).await {
        Ok(Outcome::NotDeclared { reason }) => {
            tracing::info!(alert.source = source.as_str(), alert.group_key = %key,
                "{} alert group {key}: nothing declared ({reason})", source.label());
            Ok((StatusCode::ACCEPTED, Json(json!({ "declared": false, "reason": reason }))).into_response())
        }
        Ok(Outcome::Applied(a)) => {
            if a.created {
                tracing::info!(alert.source = source.as_str(), alert.group_key = %key, incident.number = %a.number,
                    "{} alert group {key} declared {}", source.label(), a.number);
            }
            Ok(Json(json!({
                "incident": a.number.to_string(),
                "created": a.created,
                "new_alerts": a.new_alerts,
                "resolved_alerts": a.resolved_alerts,
                "group": a.group_status.as_str(),
                "resolution": a.resolution.map(|r| r.as_str()),
            }))
            .into_response())
        }
        Err(IngestError::Unusable(why)) => {
            tracing::warn!(alert.source = source.as_str(), alert.group_key = %key,
                "{} alert group {key} cannot be declared: {why}", source.label());
            Err(ApiError::Invalid(why.to_string()))
        }
        Err(IngestError::Slack(e)) => Err(ApiError::Unavailable(IngestError::Slack(e).to_string())),
        Err(IngestError::Database(e)) => Err(ApiError::Database(e)),
    }
}
