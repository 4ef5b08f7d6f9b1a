//! [`kind::CANVAS`]: with `[slack] postmortem_canvas`, each `/incident export` also writes the
//! Markdown report into the incident channel's canvas: created the first time
//! (`conversations.canvases.create`), replaced on later exports (`canvases.edit`). Exactly once:
//! `incident_canvases.uncertain` is set before a create goes out, and an attempt after an unknown
//! outcome looks for the channel's canvas (`conversations.info`) before creating. Where the plan
//! or the workspace refuses canvases, the uploaded file is the report, the channel is told why
//! once, and no canvas is tried again for the incident. So too when the channel already has a
//! canvas warroom did not make: someone wrote it during the incident, and it is left as it is.

use serde_json::json;

use super::{kind, queue, JobError};
use crate::app::AppState;
use crate::slack::api::{canvas_refusal, SlackError};
use crate::timeline::export::{self, ExportError, Format};

#[derive(sqlx::FromRow, Default)]
struct Row {
    canvas_id: Option<String>,
    uncertain: bool,
    refused: Option<String>,
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let db = &state.db;
    let row: Row = sqlx::query_as("SELECT canvas_id, uncertain, refused FROM incident_canvases WHERE incident_id = $1")
        .bind(incident.id)
        .fetch_optional(db)
        .await?
        .unwrap_or_default();
    if row.refused.is_some() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    export::write(&super::export::source(state, &incident).await?, Format::Markdown, &mut bytes).await.map_err(
        |e| match e {
            ExportError::Database(e) => JobError::from(e),
            other => JobError::Fatal(other.to_string()),
        },
    )?;
    let markdown = String::from_utf8_lossy(&bytes);
    let mut canvas = row.canvas_id;
    if canvas.is_none() && row.uncertain {
        // An earlier create's answer was lost: it may have been carried out.
        canvas = state.slack.channel_canvas(&channel).await?;
        if let Some(id) = &canvas {
            tracing::info!(incident.id = %incident.id, "the channel canvas {id} was created by an earlier attempt");
            record(state, incident.id, &channel, Some(id), false).await?;
        }
    }
    if let Some(id) = canvas {
        return match state.slack.replace_canvas(&id, &markdown).await {
            // Someone deleted the canvas: the next attempt creates the channel's canvas anew.
            Err(e) if e.code() == Some("canvas_not_found") => {
                record(state, incident.id, &channel, None, false).await?;
                Err(JobError::Retry { error: e.to_string(), after: None })
            }
            other => other.map_err(Into::into),
        };
    }
    // Written (and committed) before the request: a worker that dies waiting for the answer
    // leaves the create uncertain, and the next attempt looks before creating.
    record(state, incident.id, &channel, None, true).await?;
    let title = format!("{} post-mortem", incident.number());
    match state.slack.create_channel_canvas(&channel, &title, &markdown).await {
        Ok(id) => record(state, incident.id, &channel, Some(&id), false).await,
        Err(e) if e.code().and_then(canvas_refusal).is_some() => refused(state, &incident, &e).await,
        Err(e) if e.outcome_unknown() => Err(e.into()),
        Err(e) => {
            record(state, incident.id, &channel, None, false).await?;
            Err(e.into())
        }
    }
}

/// Records what Slack is known to have: the canvas (or none yet), and whether a create is out.
async fn record(
    state: &AppState,
    incident_id: uuid::Uuid,
    channel: &str,
    canvas: Option<&str>,
    uncertain: bool,
) -> Result<(), JobError> {
    sqlx::query(
        "INSERT INTO incident_canvases (incident_id, channel_id, canvas_id, uncertain, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (incident_id) DO UPDATE SET channel_id = $2, canvas_id = $3, uncertain = $4, updated_at = $5",
    )
    .bind(incident_id)
    .bind(channel)
    .bind(canvas)
    .bind(uncertain)
    .bind(state.clock.now())
    .execute(&state.db)
    .await?;
    Ok(())
}

/// The plan refused: recorded, and the channel told why, once (the post is a job of its own).
async fn refused(
    state: &AppState,
    incident: &crate::incident::store::Incident,
    e: &SlackError,
) -> Result<(), JobError> {
    let code = e.code().unwrap_or_default();
    let reason = canvas_refusal(code).unwrap_or_default();
    tracing::warn!(incident.id = %incident.id, "no post-mortem canvas: Slack answered {code}");
    let data = json!({ "code": code, "reason": reason, "number": incident.number().to_string() });
    let text = state.templates.render("canvas_refused", &data)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE incident_canvases SET refused = $2, uncertain = false, updated_at = $3 WHERE incident_id = $1")
        .bind(incident.id)
        .bind(code)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let payload = json!({ "text": text, "to": "channel", "what": "canvas_refused" });
    queue::enqueue(&mut *tx, Some(incident.id), kind::POST, "canvas_refused", payload, now).await?;
    tx.commit().await?;
    Ok(())
}
