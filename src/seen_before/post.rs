//! [`kind::SEEN_BEFORE`]: the "Seen before" post, once per incident, right after its
//! declaration in the incident channel (a message of its own, not a thread reply: at 3 a.m. a
//! thread is one click too far). Nothing is posted when nothing was seen before.
//!
//! Each past incident links to its report: the newest exported report's file (`/incident
//! export` records the file id in its `report_exported` event; Slack gives its permalink), else
//! the incident's channel, where its timeline and updates are.

use chrono::Duration;
use serde::Serialize;
use serde_json::json;

use super::Past;
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::slack::limits;
use crate::timeline::{self, EventKind, WARROOM};

/// How soon a post waiting for the declaration looks again.
const DECLARATION_WAIT_SECS: i64 = 5;

/// How much of a past incident's title, root cause and resolution is shown.
const FIELD_MAX: usize = 300;

#[derive(Serialize)]
struct Line {
    number: String,
    title: String,
    service: String,
    same_service: bool,
    when: String,
    duration: String,
    root_cause: Option<String>,
    resolution: Option<String>,
    /// mrkdwn made here (a permalink or a channel mention), not user text.
    link: String,
}

#[derive(Serialize)]
struct View {
    pasts: Vec<Line>,
    same_service_only: bool,
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let now = state.clock.now();
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    if incident.declaration_ts.is_none() {
        // After the declaration, never before it; a declaration that failed for good ends it.
        if declaration_failed(state, &incident).await? {
            return Ok(());
        }
        return Err(JobError::Defer(now + Duration::seconds(DECLARATION_WAIT_SECS)));
    }
    let pasts = super::similar(&state.db, state.seen_before, &incident).await?;
    if pasts.is_empty() {
        return Ok(());
    }
    state.limiter.acquire(&channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let mut lines = Vec::with_capacity(pasts.len());
    for past in &pasts {
        lines.push(line(past, link(state, past).await?));
    }
    let view = View { pasts: lines, same_service_only: state.seen_before == super::Matching::SameServiceOnly };
    let text = state.templates.render("seen_before", &view)?;
    let blocks = limits::sections(&text);
    let fallback =
        format!("Seen before: {}", pasts.iter().map(|p| p.number().to_string()).collect::<Vec<_>>().join(", "));
    let (channel, ts) = crate::jobs::post_once::post(state, job, &channel, &fallback, &blocks).await?;
    let numbers: Vec<i64> = pasts.iter().map(|p| p.number).collect();
    let payload = json!({ "channel": channel, "ts": ts, "message": "seen before", "incidents": numbers });
    timeline::append(&state.db, incident.id, now, WARROOM, EventKind::MessagePosted, payload).await?;
    Ok(())
}

async fn declaration_failed(state: &AppState, incident: &Incident) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND kind = $2 AND state = 'failed') AS "failed!""#,
        incident.id,
        kind::POST_DECLARATION,
    )
    .fetch_one(&state.db)
    .await
}

/// The past incident's report, else its channel. Slack throttling or failing retries the job
/// (nothing was posted yet); a file Slack no longer has falls back to the channel.
async fn link(state: &AppState, past: &Past) -> Result<String, JobError> {
    if let Some(file) = &past.report_file {
        match state.slack.file_permalink(file).await {
            Ok(Some(url)) => return Ok(format!("<{url}|report>")),
            Ok(None) => {}
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => tracing::info!("report {file} of {} has no permalink ({e}): linking its channel", past.number()),
        }
    }
    Ok(match &past.channel_id {
        Some(channel) => format!("<#{channel}>"),
        None => "no channel".to_string(),
    })
}

fn line(past: &Past, link: String) -> Line {
    let cut = |text: &Option<String>| text.as_deref().map(|t| limits::label(t.trim(), FIELD_MAX));
    Line {
        number: past.number().to_string(),
        title: limits::label(&past.title, FIELD_MAX),
        service: past.service.clone(),
        same_service: past.same_service,
        when: past.declared_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        duration: crate::duration::human_span(past.duration()),
        root_cause: cut(&past.root_cause).filter(|t| !t.is_empty()),
        resolution: cut(&past.resolution).filter(|t| !t.is_empty()),
        link,
    }
}
