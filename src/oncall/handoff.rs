//! The hand-over at a shift's end. A commander who got command for being on call has a timer
//! at the end of that shift; when it fires with the incident open and them still commanding, the
//! next on-call is asked — in the channel and by DM — to take command, with a "Take command"
//! button. The button is for that person and the `change_commander` principals (the outgoing
//! commander can hand over); it makes the next on-call commander, once, however often it is
//! clicked. The message is built on slack-morphism's Block Kit types.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackBlock;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{on_call, OnCall};
use crate::app::AppState;
use crate::config::{OncallSource, Permission};
use crate::error::AppError;
use crate::incident::lifecycle::{self, Because};
use crate::incident::store::{self, Incident};
use crate::jobs::{kind, queue, JobError};
use crate::slack::{kit, limits};

/// The "Take command" button's `action_id`; its value is the offer's id.
pub const ACTION_TAKE_COMMAND: &str = "oncall.take_command";

/// Plans the hand-over at `end`, the end of `commander`'s shift for `source`.
pub async fn plan(
    tx: &mut Transaction<'_, Postgres>,
    incident_id: Uuid,
    commander: &str,
    source: &OncallSource,
    on_call_for: &str,
    end: DateTime<Utc>,
) -> sqlx::Result<()> {
    let payload = json!({ "source": source, "commander": commander, "end": end, "on_call_for": on_call_for });
    let slot = format!("{}:{commander}", end.timestamp());
    queue::enqueue(&mut **tx, Some(incident_id), kind::ONCALL_SHIFT_END, &slot, payload, end).await?;
    Ok(())
}

/// [`kind::ONCALL_SHIFT_END`]: `{ "source", "commander", "end", "on_call_for" }`.
pub async fn shift_end(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let p = &job.payload;
    let commander = p["commander"].as_str().unwrap_or_default();
    // Resolved, or command changed hands since: this shift's end concerns nobody.
    if incident.is_resolved() || incident.commander != commander {
        return Ok(());
    }
    let source: OncallSource = serde_json::from_value(p["source"].clone())
        .map_err(|e| JobError::Fatal(format!("a shift end without its on-call source: {e}")))?;
    let end: DateTime<Utc> = serde_json::from_value(p["end"].clone()).unwrap_or_else(|_| state.clock.now());
    let now = state.clock.now();
    let next = match on_call(state, &source, end).await {
        Ok(next) => next,
        Err(e) => return Err(super::assign::failed(state, job, &incident, "oncall-handoff", &e, now).await?),
    };
    let mut tx = state.db.begin().await?;
    if next.slack_user == commander {
        // Their next shift follows at once: the hand-over moves to its end.
        if let Some(until) = next.until.filter(|u| *u > end) {
            plan(&mut tx, incident.id, commander, &source, &next.on_call_for, until).await?;
        }
    } else {
        offer(&mut tx, &incident, commander, &next, end, now).await?;
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// Records the offer and queues its two messages (channel, DM).
async fn offer(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    from: &str,
    next: &OnCall,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO oncall_handoffs (id, incident_id, from_user, to_user, on_call_for, shift_end, offered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (incident_id, shift_end, to_user) DO NOTHING RETURNING id"#,
        id,
        incident.id,
        from,
        next.slack_user,
        next.on_call_for,
        end,
        now,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if inserted.is_none() {
        return Ok(());
    }
    let (to, number) = (&next.slack_user, incident.number());
    let name = crate::templates::escape_mrkdwn(&next.on_call_for);
    let text = format!(
        ":hourglass: <@{from}>'s on-call shift for {name} ended at {} UTC. <@{to}> is on call now{}: <@{to}>, will you take command of {number}?",
        end.format("%H:%M"),
        super::assign::until(next.until, now),
    );
    for (to_where, user) in [("channel", None), ("dm", Some(to))] {
        let payload = json!({ "offer": id, "to": to_where, "user": user, "text": text });
        queue::enqueue(&mut **tx, Some(incident.id), kind::ONCALL_OFFER, &format!("{id}:{to_where}"), payload, now)
            .await?;
    }
    Ok(())
}

/// The offer's blocks: the question and its "Take command" button.
pub fn offer_blocks(text: &str, offer: Uuid) -> Vec<SlackBlock> {
    let button = kit::primary(kit::button(ACTION_TAKE_COMMAND, "Take command", offer.to_string()));
    let mut blocks = limits::sections(text);
    blocks.push(kit::actions(None, vec![button]));
    blocks
}

/// [`kind::ONCALL_OFFER`]: `{ "offer", "to": "channel" | "dm", "user", "text" }`.
pub async fn post_offer(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let p = &job.payload;
    let target = match (p["to"].as_str(), p["user"].as_str()) {
        (Some("dm"), Some(user)) => state.slack.open_dm(user).await?,
        _ => incident.channel_id.clone().ok_or_else(JobError::channel_pending)?,
    };
    state.limiter.acquire(&target, state.clock.now(), job.holds_slot).map_err(JobError::Defer)?;
    let fallback = limits::label(p["text"].as_str().unwrap_or_default(), 150);
    let offer = p["offer"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let Some(id) = offer else { return Err(JobError::Fatal("the offer job names no offer".into())) };
    let blocks = offer_blocks(p["text"].as_str().unwrap_or_default(), id);
    let (channel, ts) = crate::jobs::post_once::post(state, job, &target, &fallback, &blocks).await?;
    // Kept so that the button can be taken away once someone took command.
    let message = json!([{ "channel": channel, "ts": ts }]);
    sqlx::query!("UPDATE oncall_handoffs SET messages = messages || $2 WHERE id = $1", offer, message)
        .execute(&state.db)
        .await?;
    Ok(())
}

/// [`kind::ONCALL_OFFER_TAKEN`]: `{ "offer", "text" }`: each posted offer message now says who took
/// command, without its button.
pub async fn offer_taken(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let offer = job.payload["offer"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let text = job.payload["text"].as_str().unwrap_or_default();
    let messages = sqlx::query_scalar!("SELECT messages FROM oncall_handoffs WHERE id = $1", offer)
        .fetch_optional(&state.db)
        .await?
        .unwrap_or_default();
    let blocks = limits::sections(text);
    let fallback = limits::label(text, 150);
    for message in messages.as_array().into_iter().flatten() {
        let (Some(channel), Some(ts)) = (message["channel"].as_str(), message["ts"].as_str()) else { continue };
        state.slack.update_message(channel, ts, &fallback, &blocks).await?;
    }
    Ok(())
}

/// A "Take command" click by `user`: what to tell them. Refused (and nothing changed) unless
/// they are the next on-call or hold `change_commander`; a second click finds the offer taken.
pub async fn click(state: &AppState, db: &mut PgConnection, user: &str, payload: &Value) -> Result<String, AppError> {
    let offer = payload["actions"][0]["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let Some(offer) = offer else { return Ok("That offer no longer exists in warroom.".into()) };
    let found = sqlx::query!(
        r#"SELECT incident_id, from_user, to_user, on_call_for, taken_by, taken_at FROM oncall_handoffs
           WHERE id = $1 FOR UPDATE"#,
        offer
    )
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = found else { return Ok("That offer no longer exists in warroom.".into()) };
    let Some(incident) = store::get(&mut *db, row.incident_id).await? else {
        return Ok("That incident no longer exists in warroom.".into());
    };
    let (to, number) = (row.to_user.as_str(), incident.number());
    if let (Some(by), Some(at)) = (&row.taken_by, row.taken_at) {
        return Ok(format!(
            ":information_source: <@{to}> already took command of {number} (<@{by}> clicked at {} UTC); nothing changed.",
            at.format("%H:%M")
        ));
    }
    if incident.is_resolved() {
        return Ok(format!(":no_entry: {number} is resolved; nothing changed."));
    }
    if user != to {
        if let Some(refusal) =
            crate::slack::authorize::refusal(state, db, &incident, user, Permission::ChangeCommander).await?
        {
            return Ok(format!("{refusal} This button is for <@{to}>, on call now."));
        }
    }
    let now = state.clock.now();
    sqlx::query!("UPDATE oncall_handoffs SET taken_by = $2, taken_at = $3 WHERE id = $1", offer, user, now)
        .execute(&mut *db)
        .await?;
    let name = crate::templates::escape_mrkdwn(&row.on_call_for);
    let settled = format!(":white_check_mark: <@{to}> took command of {number} (on call for {name}; <@{user}> clicked Take command at {} UTC).", now.format("%H:%M"));
    let payload = json!({ "offer": offer, "text": settled });
    queue::enqueue(&mut *db, Some(incident.id), kind::ONCALL_OFFER_TAKEN, &offer.to_string(), payload, now).await?;
    if incident.commander != to {
        let by = if user == to { String::new() } else { format!(", handed over by <@{user}>") };
        let text = format!(
            ":busts_in_silhouette: <@{to}> took command of {number}: on call for {name} (was <@{}>{by}).",
            incident.commander
        );
        let because = Because { text: &text, details: json!({ "oncall": row.on_call_for, "handoff": offer }) };
        lifecycle::change_commander_because(&mut *db, state.reactions(), now, &incident, user, to, Some(&because))
            .await
            .map_err(|e| match e {
                lifecycle::LifecycleError::Database(e) => AppError::from(e),
                other => AppError::BadRequest(other.to_string()),
            })?;
    }
    Ok(format!(":white_check_mark: <@{to}> is now Incident Commander of {number}."))
}
