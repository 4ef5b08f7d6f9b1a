//! The jobs that put the checklist in Slack. [`kind::CHECKLIST_POST`] posts one message of it
//! (exactly once, [`post_once`]) and queues the next, so the messages keep their order in the
//! channel, after the declaration that queued the first. [`kind::CHECKLIST_REFRESH`] edits the
//! messages whose steps changed. Both hold the incident's checklist lock while they render and
//! call Slack: an edit never overtakes a newer one.
//!
//! [`post_once`]: crate::jobs::post_once

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::render::{self, Frame};
use super::{layout, store, Checklist};
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// `posting` of the checklist posted at declaration.
pub const DECLARED: &str = "declared";

/// After the declaration is posted: queues the checklist's first message, when the incident's
/// service has a runbook.
pub async fn after_declaration(db: &mut PgConnection, state: &AppState, incident: &Incident) -> sqlx::Result<()> {
    if state.runbooks.get(&incident.service).is_none() {
        return Ok(());
    }
    queue_posting(db, incident.id, DECLARED, state.clock.now()).await
}

/// Queues a posting of the whole checklist (its first message; each queues the next).
pub async fn queue_posting(
    db: impl sqlx::PgExecutor<'_>,
    incident_id: Uuid,
    posting: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    let payload = json!({ "posting": posting, "part": 0 });
    queue::enqueue(db, Some(incident_id), kind::CHECKLIST_POST, &format!("{posting}:0"), payload, now).await?;
    Ok(())
}

/// The incident's checklist; stored now from the service's runbook (with its time-window
/// timers) when the incident has none yet.
async fn checklist_of(state: &AppState, incident: &Incident) -> Result<Checklist, JobError> {
    if let Some(checklist) = store::get(&state.db, incident.id).await? {
        return Ok(checklist);
    }
    let checklist = state.runbooks.get(&incident.service).cloned().ok_or_else(|| {
        JobError::Fatal(format!("no runbook for {}: set [services.{0}] runbook in warroom.toml", incident.service))
    })?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if store::create(&mut *tx, incident.id, &checklist, now).await? {
        let (run, request, done) = checklist.buttons();
        let payload = json!({
            "title": checklist.title, "source": checklist.source, "steps": run + request + done,
            "run": run, "request": request, "done": done, "checklist": checklist,
        });
        timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::ChecklistCreated, payload).await?;
        super::remind::schedule(&mut tx, incident, &checklist).await?;
    }
    tx.commit().await?;
    Ok(store::get(&state.db, incident.id).await?.unwrap_or(checklist))
}

/// [`kind::CHECKLIST_POST`]: `{ "posting", "part" }`.
pub async fn post(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let posting = job.payload["posting"].as_str().unwrap_or(DECLARED).to_string();
    let index = job.payload["part"].as_u64().unwrap_or(0) as usize;
    let checklist = checklist_of(state, &incident).await?;
    let parts = layout::parts(&checklist);
    if index >= parts.len() {
        return Err(JobError::Fatal(format!("the checklist has {} messages, not {}", parts.len(), index + 1)));
    }
    state.limiter.acquire(&channel, state.clock.now(), job.holds_slot).map_err(JobError::Defer)?;
    let mut tx = state.db.begin().await?;
    store::lock(&mut tx, incident.id, true).await?;
    if !store::posted(&mut *tx, incident.id, &posting, index as i32).await? {
        let states = store::states(&mut *tx, incident.id).await?;
        let number = incident.number().to_string();
        let frame = Frame {
            incident_id: incident.id,
            number: &number,
            declared_at: incident.declared_at,
            now: state.clock.now(),
        };
        let message = render::part(&checklist, &parts, index, &frame, &states);
        let (channel, ts) = crate::jobs::post_once::post(state, job, &channel, &message.text, &message.blocks).await?;
        let now = state.clock.now();
        let row = store::Message {
            posting: posting.clone(),
            part: index as i32,
            channel_id: channel.clone(),
            ts,
            shown: message.digest(),
        };
        store::add_message(&mut *tx, incident.id, &row, now).await?;
        let what = format!("runbook checklist (part {} of {})", index + 1, parts.len());
        let payload = json!({ "channel": channel, "ts": row.ts, "message": what, "posting": posting });
        timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::MessagePosted, payload).await?;
        if index == 0 {
            // The channel's "Runbook checklist" bookmark points at the newest posting.
            let slot = format!("runbook:{posting}");
            crate::bookmarks::queue_refresh(&mut *tx, &state.settings.file, incident.id, &slot, now).await?;
        }
    }
    if index + 1 < parts.len() {
        let payload = json!({ "posting": posting, "part": index + 1 });
        let slot = format!("{posting}:{}", index + 1);
        queue::enqueue(&mut *tx, Some(incident.id), kind::CHECKLIST_POST, &slot, payload, state.clock.now()).await?;
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// How soon a job that found the checklist's lock taken comes back.
const BUSY_WAIT: chrono::Duration = chrono::Duration::milliseconds(250);

/// Another job is posting or editing the checklist: this one runs again shortly (not an
/// attempt), and then draws the state as it is by then.
fn busy(state: &AppState) -> JobError {
    JobError::Defer(state.clock.now() + BUSY_WAIT)
}

/// Queues an edit of the checklist's messages (after a tick, a run, an approval's decision).
pub async fn queue_refresh(
    db: impl sqlx::PgExecutor<'_>,
    incident_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    let slot = Uuid::new_v4().simple().to_string();
    queue::enqueue(db, Some(incident_id), kind::CHECKLIST_REFRESH, &slot, json!({}), now).await?;
    Ok(())
}

/// [`kind::CHECKLIST_REFRESH`]: redraws every message of the checklist and edits those that
/// changed since Slack was last sent them.
pub async fn refresh(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let mut tx = state.db.begin().await?;
    let checklist = match store::lock(&mut tx, incident.id, false).await? {
        store::Locked::Mine(checklist) => checklist,
        store::Locked::Busy => return Err(busy(state)),
        store::Locked::None => return Ok(()),
    };
    let messages = store::messages(&mut *tx, incident.id).await?;
    let states = store::states(&mut *tx, incident.id).await?;
    let parts = layout::parts(&checklist);
    let number = incident.number().to_string();
    let frame =
        Frame { incident_id: incident.id, number: &number, declared_at: incident.declared_at, now: state.clock.now() };
    for message in messages.iter().filter(|m| (m.part as usize) < parts.len()) {
        let rendered = render::part(&checklist, &parts, message.part as usize, &frame, &states);
        let digest = rendered.digest();
        if digest == message.shown {
            continue;
        }
        match state.slack.update_message(&message.channel_id, &message.ts, &rendered.text, &rendered.blocks).await {
            Ok(()) => {}
            // Deleted by someone, or the channel archived: nothing left to edit.
            Err(e) if matches!(e.code(), Some("message_not_found" | "cant_update_message" | "is_archived")) => {
                tracing::info!(incident.number = %number, "checklist message {} not edited: {e}", message.ts);
            }
            Err(e) => return Err(e.into()),
        }
        store::set_shown(&mut *tx, incident.id, message, &digest).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `/incident runbook`: posts the checklist again, with its state, once per command (its
/// trigger); the reply to whoever typed it.
pub async fn repost(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    trigger_id: &str,
) -> sqlx::Result<String> {
    let service = &incident.service;
    if state.runbooks.get(service).is_none() && store::get(&mut *db, incident.id).await?.is_none() {
        return Ok(format!(":x: No runbook for {service}: set [services.{service}] runbook in warroom.toml."));
    }
    queue_posting(&mut *db, incident.id, &format!("again:{trigger_id}"), state.clock.now()).await?;
    Ok(match &incident.channel_id {
        Some(channel) => format!(":clipboard: Posting the runbook checklist of {} in <#{channel}>.", incident.number()),
        None => {
            format!(":clipboard: The runbook checklist of {} is posted once its channel exists.", incident.number())
        }
    })
}
