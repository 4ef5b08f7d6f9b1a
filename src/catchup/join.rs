//! Who gets the card when they join: `member_joined_channel` for an incident channel queues one
//! card job for the join, in the transaction that takes the event's key.
//!
//! Once per join, whatever Slack sends: a redelivery (the same `event_id`) is stopped by the
//! event's key before it reaches here; a second join event for someone already present (Slack
//! sends one now and then, with a new `event_id`) finds their `catchup_joins` row present and
//! changes nothing; a leave marks them gone, so the next join is a new join with a new card.
//! The people warroom invited with the declaration — the declarer and the commander named at
//! declaration — were there from the first minute: their first join gets no card (a later
//! re-join does). The card job itself skips warroom's own user, which cannot be known here
//! without asking Slack inside the request.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::jobs::{kind, queue};

/// Acts on an Events API event (first delivery only); other events are ignored, as is one whose
/// channel or user is not plain text or not a person's id.
pub async fn on_event(db: &mut PgConnection, event: &Value, now: DateTime<Utc>) -> sqlx::Result<()> {
    let joined = match event["type"].as_str() {
        Some("member_joined_channel") => true,
        Some("member_left_channel") => false,
        _ => return Ok(()),
    };
    let (Some(channel), Some(user)) = (event["channel"].as_str(), event["user"].as_str()) else { return Ok(()) };
    if crate::input::refused_char(channel).is_some() || !crate::slack::blocks::is_person(user) {
        return Ok(());
    }
    // The incident of the channel, and who warroom invited with its declaration.
    let incident = sqlx::query!(
        r#"SELECT i.id, i.declared_by,
                  (SELECT e.payload->>'commander' FROM timeline_events e
                    WHERE e.incident_id = i.id AND e.kind = 'declared' ORDER BY e.at, e.id LIMIT 1) AS declared_commander
           FROM incidents i WHERE i.channel_id = $1"#,
        channel
    )
    .fetch_optional(&mut *db)
    .await?;
    let Some(incident) = incident else { return Ok(()) };
    if !joined {
        return left(db, incident.id, user).await;
    }
    let Some(joins) = arrived(db, incident.id, user).await? else { return Ok(()) };
    let declared_with = user == incident.declared_by || Some(user) == incident.declared_commander.as_deref();
    if joins == 1 && declared_with {
        return Ok(());
    }
    let payload = json!({ "user": user, "channel": channel });
    queue::enqueue(db, Some(incident.id), kind::CATCHUP_CARD, &format!("join:{user}:{joins}"), payload, now).await?;
    Ok(())
}

/// Records a join; returns which join of `user` it is (1 for the first), or `None` when they
/// were present already (a repeated join event).
async fn arrived(db: &mut PgConnection, incident_id: uuid::Uuid, user: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "INSERT INTO catchup_joins (incident_id, user_id, present, joins) VALUES ($1, $2, true, 1)
         ON CONFLICT (incident_id, user_id) DO UPDATE SET present = true, joins = catchup_joins.joins + 1
         WHERE NOT catchup_joins.present
         RETURNING joins",
        incident_id,
        user
    )
    .fetch_optional(db)
    .await
}

/// Records a leave. Someone never seen joining joined before warroom heard (as the declarer
/// does): their join is counted, so that coming back is a later join and gets the card.
async fn left(db: &mut PgConnection, incident_id: uuid::Uuid, user: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO catchup_joins (incident_id, user_id, present, joins) VALUES ($1, $2, false, 1)
         ON CONFLICT (incident_id, user_id) DO UPDATE SET present = false",
        incident_id,
        user
    )
    .execute(db)
    .await?;
    Ok(())
}
