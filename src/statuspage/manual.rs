//! Manual mode: each update's customer text is drafted and shown in the incident channel with
//! "Post to status page" (behind a confirm dialog) and "Edit…" (a modal with the text); nothing
//! reaches customers until a person confirms it, once. The clicks and the edit modal are read
//! and written through the Slack request's transaction (`db`).

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use slack_morphism::blocks::{SlackBlock, SlackView};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::push::{Action, Push};
use super::text::{self, Snapshot};
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::store::Incident;
use crate::jobs::respond::{self, Target};
use crate::jobs::{kind, queue, JobError};
use crate::slack::{kit, limits};
use crate::timeline::{self, EventKind, WARROOM};

pub const ACTION_POST: &str = "statuspage_post";
pub const ACTION_EDIT: &str = "statuspage_edit";
pub const VIEW_EDIT: &str = "statuspage_edit";

/// Slack's limit on a text input's value.
const INPUT_LIMIT: usize = 3000;

/// Queues the preview of `incident`'s customer text as it is now.
pub async fn enqueue_preview(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    actor: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let draft = Uuid::new_v4();
    let push = Push::new(Action::Update, incident, actor, now);
    let payload = json!({ "draft": draft, "push": push });
    queue::enqueue(&mut **tx, Some(incident.id), kind::STATUSPAGE_PREVIEW, &draft.to_string(), payload, now).await?;
    Ok(())
}

/// The preview job: stores the draft and shows it with its buttons.
pub async fn preview(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let bad = |e: serde_json::Error| JobError::Fatal(format!("unreadable preview: {e}"));
    let draft: Uuid = serde_json::from_value(job.payload["draft"].clone()).map_err(bad)?;
    let push: Push = serde_json::from_value(job.payload["push"].clone()).map_err(bad)?;
    let incident = crate::jobs::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let request = text::request(&state.templates, &state.settings.file, &push.snapshot, None, push.at)?;
    let body = request.body.unwrap_or_default();
    let now = state.clock.now();
    let snapshot = serde_json::to_value(&push.snapshot).expect("a snapshot serializes");
    sqlx::query!(
        r#"INSERT INTO statuspage_drafts (id, incident_id, snapshot, body, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"#,
        draft,
        incident.id,
        snapshot,
        body,
        push.by,
        now
    )
    .execute(&state.db)
    .await?;
    state.limiter.acquire(&channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let (fallback, blocks) = preview_blocks(&incident, draft, &body);
    crate::jobs::post_once::post(state, job, &channel, &fallback, &blocks).await?;
    let payload = json!({ "draft": draft, "body": body });
    timeline::append(&state.db, incident.id, now, WARROOM, EventKind::StatuspageDraft, payload).await?;
    Ok(())
}

fn preview_blocks(incident: &Incident, draft: Uuid, body: &str) -> (String, Vec<SlackBlock>) {
    let quoted: String = crate::templates::escape_mrkdwn(body).lines().map(|l| format!(">{l}\n")).collect::<String>();
    let fallback = format!("Status page update for {} waiting for confirmation", incident.number());
    let intro = if incident.private {
        ":lock: *Status page update waiting for confirmation* (a private incident: nothing reaches the status page unless someone who may publish it, `[permissions] publish_private`, posts this). Customers will read:".to_string()
    } else {
        format!(
            ":memo: *Status page update waiting for confirmation* ({} is in manual mode). Customers will read:",
            incident.severity()
        )
    };
    // The customer text whole (quoting and escaping can take it past one section's 3,000).
    let mut blocks = limits::sections(&intro);
    blocks.extend(limits::sections(&quoted));
    let confirm = kit::confirm(
        "Post to the status page?",
        "Customers will see this text, and subscribers will be notified.",
        "Post",
        "Cancel",
    );
    let post = kit::primary(kit::button(ACTION_POST, "Post to status page", draft.to_string()));
    let edit = kit::button(ACTION_EDIT, "Edit…", draft.to_string());
    blocks.push(kit::actions(None, vec![post.with_confirm(confirm), edit]));
    (fallback, blocks)
}

/// A draft as stored.
struct Draft {
    incident_id: Uuid,
    body: String,
    posted_by: Option<String>,
    posted_at: Option<DateTime<Utc>>,
}

async fn load(db: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Draft>> {
    sqlx::query_as!(Draft, "SELECT incident_id, body, posted_by, posted_at FROM statuspage_drafts WHERE id = $1", id)
        .fetch_optional(db)
        .await
}

/// "Post to status page" and "Edit…".
pub async fn click(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
    target: &Target,
) -> Result<Response, AppError> {
    let action = &payload["actions"][0];
    let draft_id = action["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let draft = match draft_id {
        Some(id) => load(db, id).await?.map(|d| (id, d)),
        None => None,
    };
    let Some((id, draft)) = draft else {
        return tell(state, db, target, "That status page draft no longer exists.").await;
    };
    if let Err(refusal) = may_edit(state, db, &draft, user).await? {
        return tell(state, db, target, &format!(":no_entry: {refusal}")).await;
    }
    if let (Some(by), Some(at)) = (&draft.posted_by, draft.posted_at) {
        let text = format!("<@{by}> already posted this update at {} UTC.", at.format("%H:%M"));
        return tell(state, db, target, &text).await;
    }
    if action["action_id"].as_str() == Some(ACTION_EDIT) {
        let trigger = payload["trigger_id"].as_str().unwrap_or_default();
        let view = edit_modal(id, &draft.body);
        queue::enqueue(
            &mut *db,
            None,
            kind::OPEN_MODAL,
            &format!("trigger:{trigger}"),
            json!({ "trigger_id": trigger, "view": "custom", "custom": kit::json(&view) }),
            state.clock.now(),
        )
        .await?;
        return Ok(().into_response());
    }
    let text = match confirm(state, db, id, &draft, user, None).await? {
        Ok(()) => ":white_check_mark: Sent to the status page.".to_string(),
        Err(refusal) => format!(":no_entry: {refusal}"),
    };
    tell(state, db, target, &text).await
}

fn edit_modal(draft: Uuid, body: &str) -> SlackView {
    let initial: String = body.chars().take(INPUT_LIMIT).collect();
    let element = kit::text_input("What customers read", Some(&initial), true).with_max_length(INPUT_LIMIT as u64);
    let blocks = vec![kit::input("body", "Customer text", element, false).into()];
    kit::modal(VIEW_EDIT, draft.to_string(), "Status page update", "Post", blocks)
}

/// The edit modal was submitted: post the edited text.
pub async fn edit_submission(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let errors = |message: &str| {
        let errors = HashMap::from([("body".to_string(), message.to_string())]);
        Ok(axum::Json(kit::submission_errors(errors)).into_response())
    };
    let id = payload["view"]["private_metadata"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let draft = match id {
        Some(id) => load(db, id).await?.map(|d| (id, d)),
        None => None,
    };
    let Some((id, draft)) = draft else { return errors("this draft no longer exists") };
    let body = payload["view"]["state"]["values"]["body"]["value"]["value"].as_str().unwrap_or("").trim();
    if body.is_empty() {
        return errors("write what customers should read");
    }
    match confirm(state, db, id, &draft, user, Some(body)).await? {
        Ok(()) => Ok(axum::Json(kit::submission_clear()).into_response()),
        Err(refusal) => errors(&refusal),
    }
}

/// Marks the draft posted (once) and queues its push, in one transaction.
async fn confirm(
    state: &AppState,
    db: &mut PgConnection,
    id: Uuid,
    draft: &Draft,
    user: &str,
    edited: Option<&str>,
) -> Result<Result<(), String>, AppError> {
    let now = state.clock.now();
    let incident = match may_edit(state, db, draft, user).await? {
        Ok(incident) => incident,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if incident.is_resolved() {
        return Ok(Err(format!("{} is resolved; the status page says so already", incident.number())));
    }
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    let posted = sqlx::query!(
        r#"UPDATE statuspage_drafts SET posted_by = $2, posted_at = $3, body = coalesce($4, body)
           WHERE id = $1 AND posted_at IS NULL RETURNING snapshot, body"#,
        id,
        user,
        now,
        edited
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(posted) = posted else { return Ok(Err("someone posted this update already".into())) };
    let Ok(snapshot) = serde_json::from_value::<Snapshot>(posted.snapshot) else {
        return Ok(Err("this draft is unreadable; post a new update".into()));
    };
    let mut push = Push {
        seq: 0,
        action: Action::Update,
        at: now,
        by: user.into(),
        snapshot,
        body: Some(posted.body),
        scheduled: None,
    };
    super::store::enqueue_push(&mut tx, incident.id, &mut push, true, now).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// The draft's incident, when `user` may write or confirm its status page text
/// (`[permissions] edit_statuspage`; for a private incident `publish_private`, since posting
/// it is what puts the incident on the public page); else why not.
async fn may_edit(
    state: &AppState,
    db: &mut PgConnection,
    draft: &Draft,
    user: &str,
) -> Result<Result<Incident, String>, AppError> {
    let Some(incident) = crate::incident::store::get(&mut *db, draft.incident_id).await? else {
        return Ok(Err("that incident no longer exists".into()));
    };
    let (config, now) = (&state.settings.file, state.clock.now());
    let permission = if incident.private {
        crate::config::Permission::PublishPrivate
    } else {
        crate::config::Permission::EditStatuspage
    };
    Ok(match crate::permissions::check(db, config, now, &incident, user, permission).await? {
        Ok(()) => Ok(incident),
        Err(refusal) => Err(refusal.to_string()),
    })
}

async fn tell(state: &AppState, db: &mut PgConnection, target: &Target, text: &str) -> Result<Response, AppError> {
    respond::enqueue(db, None, target, text, state.clock.now()).await?;
    Ok(().into_response())
}
