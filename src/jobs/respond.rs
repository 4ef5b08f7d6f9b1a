//! Jobs that answer a person: an ephemeral reply (through `response_url` while it is valid,
//! else `chat.postEphemeral`), and opening a modal (recorded, so that only its submission is
//! taken: `crate::slack::views`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use slack_morphism::blocks::SlackBlock;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{kind, queue::Job, JobError};
use crate::app::AppState;
use crate::slack::{kit, modals};

/// Who to answer, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub user: String,
    pub channel: Option<String>,
    pub response_url: Option<String>,
}

/// Queues an ephemeral message to `target`.
pub async fn enqueue(
    db: &mut PgConnection,
    incident_id: Option<Uuid>,
    target: &Target,
    text: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    queue_reply(db, incident_id, target, text, serde_json::Value::Null, now).await
}

/// Queues an ephemeral message with Block Kit `blocks` (and `text` as its fallback).
pub async fn enqueue_blocks(
    db: &mut PgConnection,
    incident_id: Option<Uuid>,
    target: &Target,
    text: &str,
    blocks: &[SlackBlock],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    queue_reply(db, incident_id, target, text, kit::json(blocks), now).await
}

/// The job's payload holds the blocks as JSON (null: a text alone).
async fn queue_reply(
    db: &mut PgConnection,
    incident_id: Option<Uuid>,
    target: &Target,
    text: &str,
    blocks: serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let payload = json!({ "target": target, "text": text, "blocks": blocks, "queued_at": now });
    super::queue::enqueue(db, incident_id, kind::RESPOND, &Uuid::new_v4().to_string(), payload, now).await?;
    Ok(())
}

pub async fn respond(state: &AppState, job: &Job) -> Result<(), JobError> {
    let target: Target = serde_json::from_value(job.payload["target"].clone())
        .map_err(|e| JobError::Fatal(format!("bad respond payload: {e}")))?;
    // Slack takes 40,000 characters of text: what is over is said to be left out.
    let text = &crate::slack::limits::text(job.payload["text"].as_str().unwrap_or_default(), "ask again with less");
    let blocks = &job.payload["blocks"];
    if let Some(url) = &target.response_url {
        match state.slack.respond(url, text, blocks).await {
            Ok(()) => return Ok(()),
            // An expired response_url is final; fall through to an ephemeral message.
            Err(e) if !e.is_retryable() && target.channel.is_some() => {}
            // Transient failures are retried while the URL lives; after that its answer will
            // not change, so it is final like any other (and the fallback, if any, is taken).
            Err(e) if e.is_retryable() && !response_url_alive(job, state.clock.now()) => {
                if target.channel.is_none() {
                    return Err(JobError::Fatal(e.to_string()));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    match &target.channel {
        Some(channel) => Ok(state.slack.post_ephemeral(channel, &target.user, text, blocks).await?),
        None => Err(JobError::Fatal(format!("no way to reach <@{}>", target.user))),
    }
}

/// Slack takes a `response_url` for 30 minutes after the command or click that gave it.
const RESPONSE_URL_LIFETIME_MINUTES: i64 = 30;

/// Whether the job's `response_url` may still be taken (a job queued before warroom recorded
/// when it was queued counts as expired).
fn response_url_alive(job: &Job, now: DateTime<Utc>) -> bool {
    let queued: Option<DateTime<Utc>> = serde_json::from_value(job.payload["queued_at"].clone()).ok();
    queued.is_some_and(|at| now - at < chrono::Duration::minutes(RESPONSE_URL_LIFETIME_MINUTES))
}

/// Payload of [`kind::OPEN_MODAL`]: which modal, for whom, about which incident.
#[derive(Debug, Deserialize)]
struct OpenModal {
    trigger_id: String,
    /// `declare`, `update`, `resolve`, or `custom` (the view is in `custom`).
    view: String,
    #[serde(default)]
    custom: Option<serde_json::Value>,
    #[serde(default)]
    channel: String,
    incident_id: Option<Uuid>,
    #[serde(default)]
    user: Option<String>,
}

pub async fn open_modal(state: &AppState, job: &Job) -> Result<(), JobError> {
    let open: OpenModal =
        serde_json::from_value(job.payload.clone()).map_err(|e| JobError::Fatal(format!("bad modal payload: {e}")))?;
    let incident = match open.incident_id {
        Some(id) => crate::incident::store::get(&state.db, id).await?,
        None => None,
    };
    let view = match (open.view.as_str(), &incident) {
        ("declare", _) => {
            let services: Vec<&str> = state.settings.file.services.keys().map(String::as_str).collect();
            let roles: Vec<_> = state.settings.file.roles.others().cloned().collect();
            kit::json(&modals::declare_modal(&open.channel, &services, &roles))
        }
        ("update", Some(incident)) => kit::json(&modals::update_modal(incident)),
        ("resolve", Some(incident)) => kit::json(&modals::resolve_modal(incident)),
        ("custom", _) if open.custom.is_some() => open.custom.unwrap_or_default(),
        (other, _) => return Err(JobError::Fatal(format!("cannot open the {other} modal"))),
    };
    let view_id = state.slack.open_view(&open.trigger_id, &view).await?;
    crate::slack::views::record(&state.db, &view_id, &view, open.user.as_deref(), state.clock.now()).await?;
    Ok(())
}
