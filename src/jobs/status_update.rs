//! The scheduled status update: one job per (incident, due time). It posts seed 002's update
//! and plans the next one in the same transaction that records the post, so a restart or a
//! second replica can neither skip nor repeat a slot. After downtime, an overdue update is sent
//! once and the cadence continues from then.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{kind, queue, JobError};
use crate::app::AppState;
use crate::incident::store;
use crate::slack::messages;
use crate::timeline::{self, EventKind, WARROOM};

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let id = incident.id;
    let due: DateTime<Utc> = serde_json::from_value(job.payload["due"].clone())
        .map_err(|e| JobError::Fatal(format!("status update without a due time: {e}")))?;
    // Resolved, or re-planned (a severity change): this slot is no longer the plan.
    if incident.is_resolved() || incident.next_update_at != Some(due) {
        return Ok(());
    }
    let Some(every) = state.settings.file.severity.get(&incident.severity()).and_then(|s| s.status_update_every) else {
        return Ok(());
    };
    let channel = incident.channel_id.as_deref().ok_or_else(JobError::channel_pending)?;
    let now = state.clock.now();
    let every = every.as_chrono();
    // On time: keep the grid (no drift). Late by a whole interval or more (downtime): one
    // catch-up now, and the cadence continues from here.
    let next = if now - due < every { due + every } else { crate::clock::whole_seconds(now + every) };
    let previous = incident.last_status_post_at.unwrap_or(incident.declared_at);
    let silent = incident.last_update_at.is_none_or(|at| at <= previous);

    state.limiter.acquire(channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let text = messages::status_update(&state.templates, &incident, now, Some(next), silent)?;
    let blocks = json!([{ "type": "section", "text": { "type": "mrkdwn", "text": text } }]);
    let fallback = format!("🔄 {} update: {}", incident.number(), incident.status);
    let (channel, ts) = state.slack.post_message(channel, &fallback, &blocks).await?;

    let mut tx = state.db.begin().await?;
    let silent_posts = store::record_status_post(&mut *tx, id, now, silent, Some(next)).await?;
    let payload = json!({ "due": due, "posted_at": now, "lag_ms": (now - due).num_milliseconds(), "silent": silent,
                          "next": next, "channel": channel, "ts": ts });
    timeline::append(&mut *tx, id, now, WARROOM, EventKind::StatusUpdatePosted, payload).await?;
    queue::enqueue(
        &mut *tx,
        Some(id),
        kind::STATUS_UPDATE,
        &next.timestamp().to_string(),
        json!({ "due": next }),
        next,
    )
    .await?;
    queue::enqueue(
        &mut *tx,
        Some(id),
        kind::REFRESH_DECLARATION,
        &format!("next:{}", next.timestamp()),
        json!({}),
        now,
    )
    .await?;
    if silent_posts >= 2 {
        let text = format!(
            ":warning: *{}* ({} `{}`) has had no update for {silent_posts} status intervals in a row. <@{}>, please post one in <#{channel}>.",
            incident.number(),
            incident.severity(),
            incident.service,
            incident.commander
        );
        let payload = json!({ "text": text, "to": "announce" });
        queue::enqueue(&mut *tx, Some(id), kind::POST, &format!("silence:{}", due.timestamp()), payload, now).await?;
    }
    tx.commit().await?;
    super::wake(state);
    Ok(())
}
