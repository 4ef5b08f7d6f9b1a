//! The scheduled status update: one timer job per (incident, due time). When it fires it plans
//! the next slot and queues its post in one transaction, whatever then becomes of the post (a
//! Slack outage, a final error): the cadence never ends early and "Next update" stays true.
//! A restart or a second replica can neither skip nor repeat a slot. After downtime, an overdue
//! update is sent once and the cadence continues from then; a post still waiting out an outage
//! when the next slot fires is superseded by that one (one catch-up, not a pile of stale ones).
//! In `auto` mode the same transaction queues the slot's status page push
//! ([`crate::statuspage::scheduled`]).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{kind, queue, JobError};
use crate::app::AppState;
use crate::incident::store;
use crate::slack::messages;
use crate::timeline::{self, EventKind, WARROOM};

/// [`kind::STATUS_UPDATE`]: the timer.
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
    let now = state.clock.now();
    let every = every.as_chrono();
    // On time: keep the grid (no drift). Late by a whole interval or more (downtime): one
    // catch-up now, and the cadence continues from here.
    let next = if now - due < every { due + every } else { crate::clock::whole_seconds(now + every) };

    let mut tx = state.db.begin().await?;
    // Read again under the row's lock: a second run of this slot (another replica, a claim whose
    // lock ran out) waits here, then finds the slot taken and does nothing.
    let Some(incident) = store::lock(&mut *tx, id).await?.filter(|i| !i.is_resolved() && i.next_update_at == Some(due))
    else {
        return Ok(());
    };
    let previous = incident.last_status_post_at.unwrap_or(incident.declared_at);
    let silent = incident.last_update_at.is_none_or(|at| at <= previous);
    let silent_posts = store::record_status_post(&mut *tx, id, now, silent, Some(next)).await?;
    let post = json!({ "due": due, "fired_at": now, "silent": silent });
    let slot = due.timestamp().to_string();
    queue::enqueue(&mut *tx, Some(id), kind::POST_STATUS_UPDATE, &slot, post, now).await?;
    queue::enqueue(
        &mut *tx,
        Some(id),
        kind::STATUS_UPDATE,
        &next.timestamp().to_string(),
        json!({ "due": next }),
        next,
    )
    .await?;
    let refresh = format!("next:{}", next.timestamp());
    queue::enqueue(&mut *tx, Some(id), kind::REFRESH_DECLARATION, &refresh, json!({}), now).await?;
    // The status page hears the same news, with the slot's "Last Updated" (auto mode only).
    crate::statuspage::after_scheduled(&mut tx, &state.settings.file, &incident, due, now).await?;
    if silent_posts >= 2 {
        let channel = incident.channel_id.as_deref().unwrap_or("the incident channel");
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

/// [`kind::POST_STATUS_UPDATE`]: `{ "due", "fired_at", "silent" }`, the post a timer queued,
/// rendered when it goes out (the incident as it is then, the next slot as planned).
pub async fn post(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let at = |key: &str| serde_json::from_value::<DateTime<Utc>>(job.payload[key].clone());
    let (Ok(due), Ok(fired_at)) = (at("due"), at("fired_at")) else {
        return Err(JobError::Fatal("a status update post without its slot".into()));
    };
    // A later slot fired while this one waited (an outage): that post carries the news.
    let superseded =
        incident.last_status_post_at.is_some_and(|last| last > fired_at + chrono::Duration::milliseconds(1));
    if incident.is_resolved() || superseded {
        return Ok(());
    }
    let channel = incident.channel_id.as_deref().ok_or_else(JobError::channel_pending)?;
    let now = state.clock.now();
    let silent = job.payload["silent"] == true;
    state.limiter.acquire(channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let roles = super::roles_of(state, &incident).await?;
    let text = messages::status_update(&state.templates, &incident, now, incident.next_update_at, silent, &roles)?;
    // Five fields of 500 characters, escaped, pass one section's 3,000: split at lines.
    let blocks = crate::slack::limits::sections(&text);
    let fallback = format!("🔄 {} update: {}", incident.number(), incident.status);
    let (channel, ts) = super::post_once::post(state, job, channel, &fallback, &blocks).await?;
    let payload = json!({ "due": due, "posted_at": now, "lag_ms": (now - due).num_milliseconds(), "silent": silent,
                          "next": incident.next_update_at, "channel": channel, "ts": ts });
    timeline::append(&state.db, incident.id, now, WARROOM, EventKind::StatusUpdatePosted, payload).await?;
    Ok(())
}
