//! Required roles left unfilled (`[severity.Px] roles_required`, `remind_unfilled`): one timer
//! per incident, planned with the declaration at `remind_unfilled` (re-planned by a severity
//! change made before it reminded anyone). When it fires with a required role unfilled, the
//! commander is mentioned once in the incident channel and the second stage is planned one
//! `remind_unfilled` later; if a required role is still unfilled then, the announcement channel
//! hears of it once. Each stage re-reads the incident under its row's lock and reads the
//! severity's required roles as they are at that moment: a filled role, a resolved incident or
//! a severity that requires nothing ends it quietly. The posts go through the queue (a fixed
//! slot each), so no retry, restart or second replica repeats one.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::AppState;
use crate::config::{FileConfig, COMMANDER};
use crate::incident::roles::{self, Holder};
use crate::incident::store::{self, Incident};
use crate::incident::Severity;
use crate::jobs::{kind, queue, JobError};
use crate::templates::escape_mrkdwn;
use crate::timeline::{self, EventKind, WARROOM};

/// When the first reminder of an incident declared at `declared_at` is due at `severity`, if
/// that severity requires roles.
pub fn first_due(config: &FileConfig, severity: Severity, declared_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let required = config.roles.required(severity)?;
    Some(crate::clock::whole_seconds(declared_at + required.remind_unfilled.as_chrono()))
}

/// Whether the incident was reminded at `stage` already.
async fn reminded(db: &mut PgConnection, incident_id: Uuid, stage: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM timeline_events
                          WHERE incident_id = $1 AND kind = $2 AND (payload->>'stage')::bigint = $3) AS "reminded!""#,
        incident_id,
        EventKind::RoleReminder.as_str(),
        stage,
    )
    .fetch_one(db)
    .await
}

/// A new severity, before anyone was reminded: the first reminder follows the new severity's
/// `remind_unfilled` from the declaration (at once if that is past), or goes when it requires
/// nothing. After the first reminder, the second one stands and reads the new severity when
/// it fires.
pub async fn replan(
    db: &mut PgConnection,
    config: &FileConfig,
    incident: &Incident,
    to: Severity,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if reminded(db, incident.id, 1).await? {
        return Ok(());
    }
    queue::cancel(&mut *db, incident.id, kind::ROLES_REMIND).await?;
    if let Some(due) = first_due(config, to, incident.declared_at) {
        let due = due.max(now);
        let slot = format!("1:{}", now.timestamp_micros());
        queue::enqueue(&mut *db, Some(incident.id), kind::ROLES_REMIND, &slot, json!({ "stage": 1 }), due).await?;
    }
    Ok(())
}

/// [`kind::ROLES_REMIND`]: `{ "stage": 1 | 2 }`.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.incident_id.ok_or_else(|| JobError::Fatal("a role reminder without its incident".into()))?;
    let stage = job.payload["stage"].as_i64().filter(|s| (1..=2).contains(s)).unwrap_or(1);
    let config = &state.settings.file;
    let now = state.clock.now();
    // Known since the channel was made; it tells an unassigned commander from a person.
    let bot = state.slack.bot_user_id().await?;
    let mut tx = state.db.begin().await?;
    // Under the row's lock: a second run of this stage waits here, then finds it done.
    let Some(incident) = store::lock(&mut *tx, id).await?.filter(|i| !i.is_resolved()) else { return Ok(()) };
    let Some(required) = config.roles.required(incident.severity()) else { return Ok(()) };
    let holders = roles::current(&mut *tx, &config.roles, &incident, Some(&bot)).await?;
    let unfilled: Vec<&Holder> =
        holders.iter().filter(|h| h.user.is_none() && required.roles.contains(&h.key)).collect();
    if unfilled.is_empty() || reminded(&mut tx, id, stage).await? {
        return Ok(());
    }
    let names: Vec<&str> = unfilled.iter().map(|h| h.name.as_str()).collect();
    let keys: Vec<&str> = unfilled.iter().map(|h| h.key.as_str()).collect();
    let commander = holders.iter().find(|h| h.key == COMMANDER).and_then(|h| h.user.clone());
    let payload = json!({ "stage": stage, "roles": keys, "names": names, "commander": commander });
    timeline::append(&mut *tx, id, now, WARROOM, EventKind::RoleReminder, payload).await?;
    let open_for = format!("{} min", (now - incident.declared_at).num_minutes());
    let missing = escape_mrkdwn(&names.join(", "));
    let (to, text) = if stage == 1 {
        let who =
            commander.as_deref().map_or_else(|| "Nobody commands this incident yet".to_string(), |c| format!("<@{c}>"));
        let first = keys[0];
        let text = format!(
            ":bell: {who}: {} ({}) has been open for {open_for} without: *{missing}*. Fill a role with `/incident role {first} @someone`.",
            incident.number(),
            incident.severity(),
        );
        let later = now + required.remind_unfilled.as_chrono();
        queue::enqueue(&mut *tx, Some(id), kind::ROLES_REMIND, "2", json!({ "stage": 2 }), later).await?;
        ("channel", text)
    } else {
        let channel = incident.channel_id.as_deref().map_or_else(|| "its channel".to_string(), |c| format!("<#{c}>"));
        let text = format!(
            ":bell: *{}* ({} `{}`) still has no *{missing}* after {open_for}. Can someone take it? Join {channel} and `/incident role {} @you`.",
            incident.number(),
            incident.severity(),
            incident.service,
            keys[0],
        );
        ("announce", text)
    };
    let post = json!({ "text": text, "to": to, "what": "role reminder" });
    queue::enqueue(&mut *tx, Some(id), kind::POST, &format!("roles.remind:{stage}"), post, now).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}
