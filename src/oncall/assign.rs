//! An incident declared without a commander (by an alert or the API: warroom's own user holds
//! it, "unassigned") gets its service's on-call as commander, from a job queued with the
//! declaration. The job looks PagerDuty and Slack up, sets the commander the way `/incident ic`
//! does (timeline, channel post, invitation, declaration refreshed) with why — "on call for
//! Primary until 15:00 UTC" — and plans the hand-over at the shift's end. A look-up that fails
//! says why in the channel once and is tried again later; someone taking command meanwhile ends it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{on_call, source_for, OnCall, OncallError};
use crate::app::AppState;
use crate::config::{FileConfig, OncallSource};
use crate::incident::lifecycle::{self, Because};
use crate::incident::store::{Incident, NewIncident};
use crate::jobs::{kind, queue, JobError};
use crate::timeline::WARROOM;

/// Look-ups are tried this many times (about two hours with [`retry_wait`]) before warroom
/// says it gave up.
pub const ATTEMPTS: i32 = 30;

/// Whether a declaration queues the assignment: its service has an on-call, and nobody
/// declared it who would be its commander (an alert source or the API did). The job itself
/// checks the commander is still warroom's own user when it runs.
pub fn wanted(config: &FileConfig, new: &NewIncident) -> bool {
    source_for(config, &new.service).is_some() && !crate::slack::blocks::is_person(&new.declared_by)
}

/// How long after a failed look-up the next one runs: 30 s, 1 min, 2 min, then every 5 min.
pub fn retry_wait(attempt: i32) -> std::time::Duration {
    std::time::Duration::from_secs((15u64 << attempt.clamp(1, 5)).min(300))
}

/// "until 15:00 UTC" (with the day when it is not within a day of `now`); empty when never.
pub fn until(end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match end {
        None => String::new(),
        Some(end) if end - now < chrono::Duration::hours(24) => format!(" until {} UTC", end.format("%H:%M")),
        Some(end) => format!(" until {} UTC", end.format("%a %d %b %H:%M")),
    }
}

/// [`kind::ONCALL_ASSIGN`]: `{}`.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let Some(source) = source_for(&state.settings.file, &incident.service) else { return Ok(()) };
    let bot = state.slack.bot_user_id().await?;
    if incident.is_resolved() || incident.commander != bot {
        return Ok(());
    }
    // Said in the channel, after the declaration.
    if incident.channel_id.is_none() {
        return Err(JobError::channel_pending());
    }
    let now = state.clock.now();
    match on_call(state, &source, now).await {
        Ok(oncall) => assign(state, &incident, &bot, &source, &oncall, now).await,
        Err(e) => Err(failed(state, job, &incident, "oncall-assign", &e, now).await?),
    }
}

async fn assign(
    state: &AppState,
    incident: &Incident,
    bot: &str,
    source: &OncallSource,
    oncall: &OnCall,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    let mut tx = state.db.begin().await?;
    // Whoever took command while PagerDuty was asked keeps it.
    let held = sqlx::query!("SELECT commander, resolved_at FROM incidents WHERE id = $1 FOR UPDATE", incident.id)
        .fetch_one(&mut *tx)
        .await?;
    if held.commander != bot || held.resolved_at.is_some() {
        return Ok(());
    }
    let user = &oncall.slack_user;
    let name = crate::templates::escape_mrkdwn(&oncall.on_call_for);
    let text = format!(":busts_in_silhouette: <@{user}> is commander: on call for {name}{}.", until(oncall.until, now));
    let because = Because { text: &text, details: json!({ "oncall": oncall.on_call_for, "until": oncall.until }) };
    lifecycle::change_commander_because(&mut *tx, state.reactions(), now, incident, WARROOM, user, Some(&because))
        .await
        .map_err(|e| JobError::Retry { error: e.to_string(), after: None })?;
    if let Some(end) = oncall.until {
        super::handoff::plan(&mut tx, incident.id, user, source, &oncall.on_call_for, end).await?;
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// A look-up failed: the reason goes to the channel once per `what` (the job's slot keeps it
/// once however often it fails), then the job is retried — after PagerDuty's `Retry-After`
/// when it gave one — until its attempts run out, which is said too.
pub(super) async fn failed(
    state: &AppState,
    job: &queue::Job,
    incident: &Incident,
    what: &str,
    error: &OncallError,
    now: DateTime<Utc>,
) -> Result<JobError, JobError> {
    let number = incident.number();
    let last = job.attempts >= job.max_attempts;
    let (slot, text) = if last {
        (
            format!("{what}:gave-up:{}", job.id),
            format!(":warning: warroom gave up asking PagerDuty who is on call for {number}: {error}. Name a commander with `/incident ic @someone`."),
        )
    } else {
        (
            format!("{what}:reason:{}", job.id),
            format!(":warning: warroom could not find who is on call for {number}: {error}. It will try again; meanwhile `/incident ic @someone` names a commander."),
        )
    };
    tracing::warn!(incident.number = %number, "on-call look-up for {number} failed: {error}");
    let payload = json!({ "text": text, "to": "channel", "what": "oncall" });
    if queue::enqueue(&state.db, Some(incident.id), kind::POST, &slot, payload, now).await? {
        crate::jobs::wake(state);
    }
    Ok(if last {
        JobError::Reported(error.to_string())
    } else {
        JobError::Retry {
            error: error.to_string(),
            after: Some(error.retry_after().unwrap_or(retry_wait(job.attempts))),
        }
    })
}
