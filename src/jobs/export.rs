//! [`kind::EXPORT`]: `/incident export [md|json|csv]` — the report, written and shared in the
//! incident channel as a file (`files.getUploadURLExternal` → upload → `files.completeUploadExternal`).

use serde_json::json;

use super::{queue, JobError};
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::timeline::export::{self, ExportError, Format, Source};
use crate::timeline::{self, EventKind};

/// The report's inputs for `incident` (its status page link included).
pub async fn source<'a>(state: &'a AppState, incident: &'a Incident) -> sqlx::Result<Source<'a>> {
    Ok(Source {
        db: &state.db,
        templates: &state.templates,
        config: &state.settings.file,
        incident,
        statuspage: crate::statuspage::link(&state.db, incident.id).await?,
    })
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let format = Format::parse(job.payload["format"].as_str().unwrap_or("md")).map_err(JobError::Fatal)?;
    let by = job.payload["by"].as_str().unwrap_or(timeline::WARROOM);
    // Slack needs the length before the upload: the report is written to memory first, once,
    // and that buffer becomes the upload's body (nothing copies it).
    let mut bytes = Vec::new();
    export::write(&source(state, &incident).await?, format, &mut bytes).await.map_err(|e| match e {
        ExportError::Database(e) => JobError::from(e),
        other => JobError::Fatal(other.to_string()),
    })?;
    let filename = export::filename(&incident, format);
    let title = format!("{} post-incident report ({})", incident.number(), format.extension());
    let comment = format!("Post-incident report of {}, exported by <@{by}>.", incident.number());
    let length = bytes.len();
    let file = state.slack.upload_file(&channel, &filename, &title, bytes, &comment).await?;
    let now = state.clock.now();
    let payload = json!({ "format": format.extension(), "bytes": length, "file": file, "filename": filename });
    let mut tx = state.db.begin().await?;
    timeline::append(&mut *tx, incident.id, now, by, EventKind::ReportExported, payload).await?;
    // The channel's "Post-incident report" bookmark points at the newest report.
    crate::bookmarks::queue_refresh(&mut *tx, &state.settings.file, incident.id, &format!("report:{file}"), now)
        .await?;
    // The post-mortem canvas follows each export (whatever its format, the canvas has the
    // Markdown report); the job's slot is this export's, so a repeated export job queues none.
    if state.settings.file.feedback.postmortem_canvas {
        let slot = format!("export:{}", job.id);
        queue::enqueue(&mut *tx, Some(incident.id), super::kind::CANVAS, &slot, json!({}), now).await?;
    }
    tx.commit().await?;
    Ok(())
}
