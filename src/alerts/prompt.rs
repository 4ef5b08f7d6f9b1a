//! [`kind::ALERT_RESOLVED_PROMPT`](crate::jobs::kind::ALERT_RESOLVED_PROMPT): "alert resolved —
//! resolve the incident?" in the incident channel, with the declaration's Resolve button (which
//! opens the resolve modal, for the commander or a responder). Queued once per time the alert
//! group goes from firing to resolved.

use serde_json::json;

use crate::app::AppState;
use crate::jobs::{queue, JobError};
use crate::slack::blocks::{hhmm, resolve_button};
use crate::timeline::{self, EventKind, WARROOM};

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    if incident.is_resolved() {
        // Someone resolved it since: there is nothing left to ask.
        return Ok(());
    }
    let channel = incident.channel_id.as_deref().ok_or_else(JobError::channel_pending)?;
    let now = state.clock.now();
    state.limiter.acquire(channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let source =
        job.payload["source"].as_str().and_then(super::Source::parse).map_or("The alert source", |s| s.label());
    let alerts: Vec<String> = job.payload["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .map(|a| format!("• {a}"))
        .collect();
    let count = job.payload["count"].as_u64().unwrap_or(alerts.len() as u64);
    let more = count.saturating_sub(alerts.len() as u64);
    let mut text = format!(
        ":white_check_mark: *Alert resolved — resolve the incident?*\n{source} reports {} alert group resolved at {} UTC:\n{}",
        incident.number(),
        hhmm(job_time(job).unwrap_or(now)),
        alerts.join("\n")
    );
    if more > 0 {
        text.push_str(&format!("\n…and {more} more"));
    }
    text.push_str(&format!(
        "\nIf the service is back, resolve {} (the Incident Commander or a responder may).",
        incident.number()
    ));
    let mut blocks = crate::slack::limits::sections(&text);
    let resolve = resolve_button(&incident, &format!("Resolve {}", incident.number()));
    blocks.push(crate::slack::kit::actions(Some("alert_resolved"), vec![resolve]));
    let fallback = format!("Alert resolved — resolve {}?", incident.number());
    let (channel, ts) = crate::jobs::post_once::post(state, job, channel, &fallback, &blocks).await?;
    let payload = json!({ "channel": channel, "ts": ts, "message": "alert resolved prompt" });
    timeline::append(&state.db, incident.id, state.clock.now(), WARROOM, EventKind::MessagePosted, payload).await?;
    Ok(())
}

/// When the group resolved (the job was queued then).
fn job_time(job: &queue::Job) -> Option<chrono::DateTime<chrono::Utc>> {
    job.payload["at"].as_str().and_then(|t| t.parse().ok())
}
