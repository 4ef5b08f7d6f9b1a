//! The archiving's jobs: the warning (posted once, with its Keep open button), the archiving
//! (`conversations.archive`, `already_archived` counting as done) and the unarchiving of a
//! reopened incident's channel (`not_archived` counting as done). Each reads the incident again
//! when it runs: a reopened incident is neither warned nor archived.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::app::AppState;
use crate::duration::HumanDuration;
use crate::incident::store::{self, Incident};
use crate::jobs::{queue, JobError};
use crate::slack::{kit, limits};
use crate::timeline::{self, EventKind, WARROOM};

/// "7 days", "1 day", else the duration as written ("12h", "90m").
pub fn describe(after: HumanDuration) -> String {
    match after.0.as_secs() {
        86_400 => "1 day".into(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        _ => after.to_string(),
    }
}

/// When the job's plan archives the channel.
fn archive_at(job: &queue::Job) -> Result<DateTime<Utc>, JobError> {
    serde_json::from_value(job.payload["archive_at"].clone())
        .map_err(|e| JobError::Fatal(format!("{} without its archive_at: {e}", job.kind)))
}

/// The incident, if it is still resolved (a reopen ends the plan quietly).
async fn resolved(state: &AppState, job: &queue::Job) -> Result<Option<Incident>, JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    Ok(Some(incident).filter(Incident::is_resolved))
}

/// The warning's blocks: the text, and Keep open unless it was kept open already.
pub fn warning_blocks(text: &str, incident_id: Uuid, extended: bool) -> Vec<slack_morphism::blocks::SlackBlock> {
    let mut blocks = limits::sections(text);
    if !extended {
        let button = kit::button(super::ACTION_KEEP_OPEN, "Keep open", incident_id.to_string());
        blocks.push(kit::actions(None, vec![button]));
    }
    blocks
}

/// [`crate::jobs::kind::ARCHIVE_WARN`]: `{ "archive_at", "extended" }`.
pub async fn warn(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let Some(incident) = resolved(state, job).await? else { return Ok(()) };
    let Some(after) = state.settings.file.archive_after else { return Ok(()) };
    let at = archive_at(job)?;
    let extended = job.payload["extended"] == true;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let now = state.clock.now();
    state.limiter.acquire(&channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let data = json!({ "archive_at": at.format("%Y-%m-%d %H:%M").to_string(), "after": describe(after),
                       "number": incident.number().to_string(), "extended": extended });
    let text = state.templates.render("archive_warning", &data)?;
    let blocks = warning_blocks(&text, incident.id, extended);
    let (channel, ts) = crate::jobs::post_once::post(state, job, &channel, &limits::label(&text, 150), &blocks).await?;
    // Once per plan, even when the post was found delivered by an earlier attempt.
    let payload = json!({ "archive_at": at, "extended": extended, "channel": channel, "ts": ts });
    let already: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM timeline_events WHERE incident_id = $1 AND kind = $2 AND payload->>'ts' = $3)",
    )
    .bind(incident.id)
    .bind(EventKind::ArchiveWarned.as_str())
    .bind(&ts)
    .fetch_one(&state.db)
    .await?;
    if !already {
        timeline::append(&state.db, incident.id, now, WARROOM, EventKind::ArchiveWarned, payload).await?;
    }
    Ok(())
}

/// [`crate::jobs::kind::ARCHIVE`]: `{ "archive_at" }`. Under the incident's row lock, so a reopen
/// waits for the archiving to finish and then finds it archived (and unarchives it); the lock is
/// held over one Slack call, bounded by the client's timeout.
pub async fn archive(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.incident_id.ok_or_else(|| JobError::Fatal("an archiving without its incident".into()))?;
    let mut tx = state.db.begin().await?;
    let Some(incident) = store::lock(&mut *tx, id).await?.filter(Incident::is_resolved) else { return Ok(()) };
    if super::archived(&mut tx, id).await? {
        return Ok(());
    }
    let Some(channel) = incident.channel_id.clone() else { return Ok(()) };
    state.slack.archive(&channel).await?;
    let now = state.clock.now();
    let payload = json!({ "channel": channel, "archive_at": archive_at(job)? });
    timeline::append(&mut *tx, id, now, WARROOM, EventKind::ChannelArchived, payload).await?;
    tx.commit().await?;
    Ok(())
}

/// [`crate::jobs::kind::UNARCHIVE`]: `{}`. Whatever was posted for the reopen waits for it.
pub async fn unarchive(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let Some(channel) = incident.channel_id.clone() else { return Ok(()) };
    let mut tx = state.db.begin().await?;
    if !super::archived(&mut tx, incident.id).await? {
        return Ok(());
    }
    state.slack.unarchive(&channel).await?;
    let now = state.clock.now();
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::ChannelUnarchived, json!({ "channel": channel }))
        .await?;
    tx.commit().await?;
    Ok(())
}
