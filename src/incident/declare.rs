//! Declaring and acknowledging: the incident, its first timeline event and its queued Slack
//! work are written in one transaction, so the request can be answered at once and nothing is
//! lost if the process dies right after.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::store::{self, Incident, NewIncident};
use super::IncidentNumber;
use crate::config::FileConfig;
use crate::jobs::{kind, queue};
use crate::timeline::{self, EventKind};

/// The outcome of a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub id: Uuid,
    pub number: IncidentNumber,
    /// False when the idempotency key had been seen: this is the incident it declared then.
    pub created: bool,
}

/// Declares `new` once per `idempotency_key` (a Slack trigger id, a view id, an API key), with
/// its first status update timer and, when its severity is shown there, the push that opens it
/// on the status page.
pub async fn declare(
    db: &mut PgConnection,
    config: &FileConfig,
    now: DateTime<Utc>,
    idempotency_key: &str,
    via: &str,
    new: &NewIncident,
) -> sqlx::Result<Declared> {
    let id = Uuid::new_v4();
    let first_update = super::lifecycle::next_update_due(config, new.severity, now);
    let opening = crate::statuspage::opening_push(config, new, now)
        .map(|push| serde_json::to_value(push).expect("a push serializes"));
    let tiers = crate::escalation::tier_times(config, new.severity, now);
    let ack_check = crate::escalation::ack_check_time(config, new.severity, now)
        .filter(|_| !crate::escalation::ladder(config, new.severity).is_empty());
    let first_update_slot = first_update.map(|at| at.timestamp().to_string());
    // One statement, so one round trip and one commit on the acknowledgement path: the key, the
    // incident, its `declared` event, its first job, its first status update timer and its
    // status page mirror with the opening push, and the escalation timers are written together or not
    // at all. A
    // key seen before inserts nothing (a concurrent duplicate waits on the key's unique index,
    // then finds it taken); foreign keys are checked at the end of the statement.
    let number = sqlx::query_scalar!(
        r#"WITH key AS (
               INSERT INTO idempotency_keys (key, incident_id, created_at) VALUES ($1, $2, $3)
               ON CONFLICT (key) DO NOTHING
               RETURNING key),
           incident AS (
               INSERT INTO incidents (id, title, service, severity, commander, declared_by, impact,
                                      origin_channel, response_url, detected_at, declared_at, next_update_at,
                                      runbook_url)
               SELECT $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $3, $16, $27 FROM key
               RETURNING id, number),
           timer AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT id, $17, $18, jsonb_build_object('due', $16::timestamptz), $16, $3 FROM incident
               WHERE $16::timestamptz IS NOT NULL),
           mirror AS (
               INSERT INTO statuspage_sync (incident_id, next_seq)
               SELECT id, 2 FROM incident WHERE $19::jsonb IS NOT NULL
               RETURNING incident_id),
           opening AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at, max_attempts)
               SELECT incident_id, $20, $21, $19, $3, $3, $22 FROM mirror),
           tiers AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT i.id, $23, t.n::text, jsonb_build_object('tier', t.n), t.at, $3
               FROM incident i, unnest($24::timestamptz[]) WITH ORDINALITY AS t(at, n)),
           ack AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT id, $25, 'ack', '{}'::jsonb, $26, $3 FROM incident WHERE $26::timestamptz IS NOT NULL),
           -- ON-CALL HOOK (crate::oncall::assign): the service's on-call becomes the commander.
           oncall AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at, max_attempts)
               SELECT id, $28, 'declared', '{}'::jsonb, $3, $3, $29 FROM incident WHERE $30),
           event AS (
               INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
               SELECT id, $3, $8, $13, jsonb_build_object(
                   'number', 'INC-' || number, 'service', $5::text, 'severity', $6::text, 'title', $4::text,
                   'commander', $7::text, 'impact', $9::text, 'via', $14::text)
               FROM incident)
           INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
           SELECT id, $15, '', '{}'::jsonb, $3, $3 FROM incident
           RETURNING (SELECT number FROM incident) AS "number!""#,
        idempotency_key,
        id,
        now,
        new.title,
        new.service,
        new.severity.as_str(),
        new.commander,
        new.declared_by,
        new.impact,
        new.origin_channel,
        new.response_url,
        new.detected_at,
        EventKind::Declared.as_str(),
        via,
        kind::CREATE_CHANNEL,
        first_update,
        kind::STATUS_UPDATE,
        first_update_slot,
        opening,
        kind::STATUSPAGE_PUSH,
        crate::statuspage::store::slot(1),
        crate::statuspage::store::PUSH_MAX_ATTEMPTS,
        kind::ESCALATION_TIER,
        &tiers,
        kind::ESCALATION_ACK_CHECK,
        ack_check,
        new.runbook_url,
        // ON-CALL HOOK: an incident declared without a commander gets the on-call's.
        kind::ONCALL_ASSIGN,
        crate::oncall::assign::ATTEMPTS,
        crate::oncall::assign::wanted(config, new),
    )
    .fetch_optional(&mut *db)
    .await?;
    if let Some(number) = number {
        return Ok(Declared { id, number: IncidentNumber(number), created: true });
    }
    let existing = sqlx::query!(
        "SELECT i.id, i.number FROM idempotency_keys k JOIN incidents i ON i.id = k.incident_id WHERE k.key = $1",
        idempotency_key
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(Declared { id: existing.id, number: IncidentNumber(existing.number), created: false })
}

/// The outcome of an Acknowledge click.
#[derive(Debug, Clone)]
pub enum Acknowledged {
    /// This click acknowledged it.
    Now(Incident),
    /// Someone had already.
    Already(Incident),
    NoSuchIncident,
}

/// Sets `acknowledged_at` on the first click; later clicks change nothing.
pub async fn acknowledge(
    db: impl Acquire<'_, Database = Postgres>,
    now: DateTime<Utc>,
    id: Uuid,
    user: &str,
) -> sqlx::Result<Acknowledged> {
    let mut tx = db.begin().await?;
    let Some(incident) = store::acknowledge(&mut *tx, id, user, now).await? else {
        return Ok(match store::get(&mut *tx, id).await? {
            Some(incident) => Acknowledged::Already(incident),
            None => Acknowledged::NoSuchIncident,
        });
    };
    let seconds = (now - incident.declared_at).num_seconds();
    timeline::append(&mut *tx, id, now, user, EventKind::Acknowledged, json!({ "time_to_acknowledge_secs": seconds }))
        .await?;
    queue::enqueue(&mut *tx, Some(id), kind::REFRESH_DECLARATION, "ack", json!({}), now).await?;
    tx.commit().await?;
    Ok(Acknowledged::Now(incident))
}
