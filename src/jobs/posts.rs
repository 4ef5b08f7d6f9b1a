//! Posting messages for the lifecycle: a queued text (to the incident channel, the announcement
//! channel or both), a manual update, and the resolution with its checklist.

use serde_json::json;
use slack_morphism::blocks::SlackBlock;

use super::{kind, queue, JobError};
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::slack::{kit, limits, messages};
use crate::timeline::{self, EventKind, WARROOM};

/// Posts `text` where `to` says (`channel`, `announce`), recording it in the timeline.
async fn post_text(
    state: &AppState,
    job: &queue::Job,
    incident: &Incident,
    to: &str,
    text: &str,
    what: &str,
) -> Result<(), JobError> {
    let target = match to {
        // Nothing about a private incident reaches the announcement channel but its number
        // ([`post_resolution`] queues that line as `announce_number`); everything else a change
        // or a failure would announce (a severity raised, a reopen, a silence, a failed step)
        // stays in its channel.
        "announce" if incident.private => return Ok(()),
        "announce" | "announce_number" => state.settings.file.announce_channel.clone(),
        _ => incident.channel_id.clone().ok_or_else(JobError::channel_pending)?,
    };
    let now = state.clock.now();
    state.limiter.acquire(&target, now, job.holds_slot).map_err(JobError::Defer)?;
    let (blocks, overflow) = fit(text, what);
    let fallback = limits::label(text, 150);
    let (channel, ts) = super::post_once::post(state, job, &target, &fallback, &blocks).await?;
    if let Some(file) = overflow {
        // The whole text as a file, right after its first part (a retry of the post keeps the
        // slot, so the file is queued once).
        let slot = format!("{}:whole", job.slot);
        queue::enqueue(&state.db, Some(incident.id), kind::UPLOAD, &slot, file, now).await?;
        super::wake(state);
    }
    let payload = json!({ "channel": channel, "ts": ts, "message": what });
    timeline::append(&state.db, incident.id, now, WARROOM, EventKind::MessagePosted, payload).await?;
    Ok(())
}

/// `text` as a message's blocks: sections of at most 3,000 characters, split at line
/// boundaries. Text beyond one message's 50 blocks is shared whole as a file (the
/// [`kind::UPLOAD`] payload returned), and the message says so.
fn fit(text: &str, what: &str) -> (Vec<SlackBlock>, Option<serde_json::Value>) {
    let mut blocks = limits::sections(text);
    if blocks.len() <= limits::MAX_BLOCKS {
        return (blocks, None);
    }
    let left_out = blocks.len() - (limits::MAX_BLOCKS - 1);
    blocks.truncate(limits::MAX_BLOCKS - 1);
    let filename = format!("{what}.txt");
    let marker = format!(
        "{} — too long for one Slack message: the whole text is shared as the file `{filename}` in the incident channel.",
        limits::more(left_out, "parts")
    );
    blocks.push(kit::context(marker));
    let file = json!({ "filename": filename, "title": format!("{what} (full text)"), "content": text });
    (blocks, Some(file))
}

/// [`kind::POST`]: `{ "text": ..., "to": "channel" | "announce" | "announce_number" }` (the last
/// the one line a private incident's announcement channel may hear).
pub async fn post(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let text = job.payload["text"].as_str().unwrap_or_default();
    let to = job.payload["to"].as_str().unwrap_or("channel");
    post_text(state, job, &incident, to, text, job.payload["what"].as_str().unwrap_or("notice")).await
}

/// [`kind::POST_UPDATE`]: a person's update, in the status update's words.
pub async fn post_update(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let mut incident = super::load_incident(state, job).await?;
    let snapshot = &job.payload["snapshot"];
    let text = |key: &str| snapshot[key].as_str().map(str::to_string);
    if snapshot.is_object() {
        incident.status = text("status").unwrap_or(incident.status);
        incident.status_text = text("status_text");
        incident.root_cause = text("root_cause");
        incident.current_action = text("current_action");
        incident.eta = text("eta");
        incident.impact = text("impact");
    }
    let roles = super::roles_of(state, &incident).await?;
    let text = messages::status_update(
        &state.templates,
        &incident,
        state.clock.now(),
        incident.next_update_at,
        false,
        &roles,
    )?;
    let by = job.payload["by"].as_str().unwrap_or(WARROOM);
    post_text(state, job, &incident, "channel", &format!("{text}\n_posted by <@{by}>_"), "update").await
}

/// [`kind::POST_RESOLUTION`]: queues the ✅ RESOLVED post (channel and announcement channel)
/// and the validation checklist, as separate posts so a retry repeats none of them; and cancels
/// the changes that have not started (pending and approved requests, tasks waiting for a runner).
pub async fn post_resolution(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let resolved = messages::resolved(&state.templates, &incident)?;
    let checklist = messages::validation_checklist(&state.templates, &incident)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    // A private incident's resolution is announced by its number only, or not at all.
    let announced = match (incident.private, state.settings.file.private.announce) {
        (false, _) => Some(("announce", resolved.clone())),
        (true, true) => Some(("announce_number", crate::private::resolution(&state.templates, incident.number())?)),
        (true, false) => None,
    };
    let posts = [
        Some(("channel", resolved.clone(), "resolution")),
        announced.map(|(to, text)| (to, text, "resolution")),
        Some(("channel", checklist, "checklist")),
    ];
    // The slots keep their places (`:0`, `:1`, `:2`) whatever is left out.
    for (i, (to, text, what)) in posts.into_iter().enumerate().filter_map(|(i, p)| p.map(|p| (i, p))) {
        let slot = format!("{}:{i}", job.slot);
        let payload = json!({ "text": text, "to": to, "what": what });
        queue::enqueue(&mut *tx, Some(incident.id), kind::POST, &slot, payload, now).await?;
    }
    // Changes that have not started (pending, approved, waiting for a remote runner) never will.
    crate::diagnostics::change::after_resolve(&mut tx, now, incident.id).await?;
    tx.commit().await?;
    super::wake(state);
    Ok(())
}

/// [`kind::UPLOAD`]: `{ "filename", "title", "content" }` shared in the incident channel.
pub async fn upload(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = incident.channel_id.as_deref().ok_or_else(JobError::channel_pending)?;
    let field = |key: &str| job.payload[key].as_str().unwrap_or_default().to_string();
    let (filename, title, content) = (field("filename"), field("title"), field("content"));
    let length = content.len();
    let file_id = state.slack.upload_file(channel, &filename, &title, content.into_bytes(), "").await?;
    let payload = json!({ "channel": channel, "file": file_id, "filename": filename, "bytes": length });
    timeline::append(&state.db, incident.id, state.clock.now(), WARROOM, EventKind::FileUploaded, payload).await?;
    Ok(())
}
