//! `GET /api/v1/incidents/{number}/timeline` and `.../export?format=md|json|csv`: the timeline
//! as JSON, and the post-incident report — the same bytes as `/incident export` and `warroom
//! export`, streamed as they are written. Both are redacted (`crate::sanitize`) as the report is.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{ApiError, ApiToken};
use crate::app::AppState;
use crate::incident::store::{self, Incident};
use crate::incident::IncidentNumber;
use crate::timeline::export::{self, Format, Source};

/// How many events one timeline request returns at most.
const MAX_EVENTS: i64 = 5000;

/// The incident `number` names, as this request may see it: a private one only for the private
/// token asking with `include_private=true`, and 404 for anyone else (as for no incident).
pub(super) async fn incident(
    state: &AppState,
    token: ApiToken,
    query: Option<&str>,
    number: &str,
) -> Result<Incident, ApiError> {
    let number = IncidentNumber::parse(number).map_err(ApiError::NotFound)?;
    let include_private = token.include_private(query)?;
    store::by_number(&state.db, number)
        .await?
        .filter(|i| include_private || !i.private)
        .ok_or_else(|| ApiError::NotFound(format!("no incident {number}")))
}

/// `name=value` from a raw query string.
fn param<'a>(query: &'a Option<String>, name: &str) -> Option<&'a str> {
    query.as_deref()?.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The timeline: `?offset=` and `?limit=` (1 to 5000, default 1000) page through long ones.
pub async fn timeline(
    token: ApiToken,
    State(state): State<AppState>,
    Path(number): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let incident = incident(&state, token, query.as_deref(), &number).await?;
    let number_param = |name: &str, default: i64, max: i64| match param(&query, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| ApiError::Invalid(format!("{name}=`{v}`: use a number from 0 to {max}"))),
    };
    let limit = number_param("limit", 1000, MAX_EVENTS)?;
    let offset = number_param("offset", 0, i64::MAX)?;
    let events = crate::timeline::page(&state.db, incident.id, offset, limit).await?;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| {
            let description = crate::timeline::describe::plain(&crate::timeline::describe::what(&e));
            let mut event = json!({ "id": e.id, "at": e.at, "actor": e.actor, "kind": e.kind,
                                    "description": description, "payload": e.payload });
            crate::sanitize::redact_json(&mut event);
            event
        })
        .collect();
    Ok(Json(
        json!({ "incident": incident.number().to_string(), "offset": offset, "count": events.len(), "events": events }),
    )
    .into_response())
}

/// The report, streamed: written by a task into a pipe whose other end is the response body.
pub async fn report(
    token: ApiToken,
    State(state): State<AppState>,
    Path(number): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let format = Format::parse(param(&query, "format").unwrap_or("md")).map_err(ApiError::Invalid)?;
    let incident = incident(&state, token, query.as_deref(), &number).await?;
    Ok(download(state, incident, format))
}

/// The report of `incident` in `format` as a download (`Content-Disposition: attachment`),
/// streamed: written by a task into a pipe whose other end is the response body. The API's
/// export and the console's downloads both answer with it.
pub fn download(state: AppState, incident: Incident, format: Format) -> Response {
    let filename = export::filename(&incident, format);
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let statuspage = match crate::statuspage::link(&state.db, incident.id).await {
            Ok(link) => link,
            Err(e) => return tracing::warn!("report of {} not written: {e}", incident.number()),
        };
        let source = Source {
            db: &state.db,
            templates: &state.templates,
            config: &state.settings.file,
            incident: &incident,
            statuspage,
        };
        // A failure mid-way ends the body early; the client sees a short read.
        if let Err(e) = export::write(&source, format, &mut writer).await {
            tracing::warn!("report of {} cut short: {e}", incident.number());
        }
    });
    let chunks = futures_util::stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        [(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(chunks),
    )
        .into_response()
}
