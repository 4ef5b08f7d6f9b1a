//! What people say that matters: a message in an incident channel that is pinned (`pin_added`)
//! or marked with 📌 (`reaction_added`, `pushpin`) is copied into the timeline with its author
//! and time. Once per message (the job's slot is the message), however many pins and reactions;
//! later edits and deletions in Slack never reach the stored copy. The copy keeps the message's
//! text without control characters (Postgres stores no NUL), its author and its ts.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind};

/// Acts on an Events API event (first delivery only), in the transaction that took the event's
/// key: queues the capture of a pinned or 📌-marked message in an incident channel. Everything
/// else is ignored, as is an event whose channel, ts or user is not plain text.
pub async fn on_event(state: &AppState, db: &mut PgConnection, event: &Value) -> sqlx::Result<()> {
    let (via, channel, ts, by, message) = match event["type"].as_str() {
        Some("reaction_added") if event["reaction"] == "pushpin" && event["item"]["type"] == "message" => {
            ("reaction", &event["item"]["channel"], &event["item"]["ts"], &event["user"], Value::Null)
        }
        Some("pin_added") if event["item"]["type"] == "message" => {
            let message = copy(&event["item"]["message"]);
            let channel =
                if event["channel_id"].is_string() { &event["channel_id"] } else { &event["item"]["channel"] };
            let ts = if message["ts"].is_string() { &event["item"]["message"]["ts"] } else { &event["item"]["ts"] };
            ("pin", channel, ts, &event["user"], message)
        }
        _ => return Ok(()),
    };
    let (Some(channel), Some(ts), Some(by)) = (channel.as_str(), ts.as_str(), by.as_str()) else { return Ok(()) };
    if [channel, ts, by].into_iter().any(|v| crate::input::refused_char(v).is_some()) {
        tracing::warn!("ignored a {via} event with a control character in its channel, ts or user");
        return Ok(());
    }
    let Some(incident) = crate::incident::store::by_channel(&mut *db, channel).await? else { return Ok(()) };
    let payload = json!({ "channel": channel, "ts": ts, "via": via, "by": by, "message": message });
    let now = state.clock.now();
    queue::enqueue(db, Some(incident.id), kind::CAPTURE, &format!("{channel}:{ts}"), payload, now).await?;
    Ok(())
}

/// What the capture keeps of a message Slack sent (or `null`): its ts, author and text, without
/// the characters warroom refuses (NUL cannot be stored in jsonb).
fn copy(message: &Value) -> Value {
    if !message.is_object() {
        return Value::Null;
    }
    let text = |v: &Value| v.as_str().map(crate::input::strip);
    json!({ "ts": text(&message["ts"]), "user": text(&message["user"]), "text": text(&message["text"]) })
}

/// When a message was posted, from its ts (`1700000000.000100`).
fn posted_at(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    DateTime::from_timestamp(secs.parse().ok()?, micros.parse::<u32>().ok()?.min(999_999) * 1000)
}

/// [`kind::CAPTURE`]: copies the message (reading it from Slack when the event did not carry it).
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let p = &job.payload;
    let (channel, ts) = (p["channel"].as_str().unwrap_or_default(), p["ts"].as_str().unwrap_or_default());
    let message = if p["message"]["text"].is_string() {
        p["message"].clone()
    } else {
        state.slack.message(channel, ts).await?.ok_or_else(|| JobError::Fatal(format!("message {ts} is gone")))?
    };
    let text: String = crate::input::strip(message["text"].as_str().unwrap_or_default()).chars().take(4000).collect();
    let author = crate::input::strip(message["user"].as_str().unwrap_or("unknown"));
    let at = posted_at(ts).unwrap_or_else(|| state.clock.now());
    let payload = json!({ "author": author, "text": text, "ts": ts, "channel": channel, "via": p["via"], "by": p["by"],
                          "captured_at": state.clock.now() });
    timeline::append(&state.db, incident.id, at, &author, EventKind::MessageCaptured, payload).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_ts_is_its_posting_time() {
        let at = super::posted_at("1795446060.000100").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T15:01:00.000100+00:00");
        assert!(super::posted_at("not-a-ts").is_none());
    }
}
