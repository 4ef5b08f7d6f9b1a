//! Declaring and acknowledging: the incident, its first timeline event and what the parts
//! react with (its Slack work first, as queued jobs) are written in one transaction, so the
//! request can be answered at once and nothing is lost if the process dies right after.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Acquire, PgConnection, Postgres};
use uuid::Uuid;

use super::change::{Change, Plan, Reactions};
use super::store::{self, Incident, NewIncident};
use super::IncidentNumber;
use crate::config::FileConfig;
use crate::jobs::kind;
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
/// its first status update timer and what the `reactions` plan with it (a replay of the key
/// tells them nothing).
pub async fn declare(
    db: &mut PgConnection,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    idempotency_key: &str,
    via: &str,
    new: &NewIncident,
) -> sqlx::Result<Declared> {
    let id = Uuid::new_v4();
    // `[services.x] private` makes every declaration of the service private, however it came
    // (slash command, modal, API, alert), before any reactor plans with it.
    let forced;
    let new = if !new.private && reactions.config.service_is_private(&new.service) {
        forced = NewIncident { private: true, ..new.clone() };
        &forced
    } else {
        new
    };
    let ctx = reactions.context(now, &new.declared_by);
    let plan = reactions.plan(&ctx, new);
    let number = if plan.then.is_empty() {
        // The hot path: nothing but the one statement (and its commit, or the request's).
        insert(&mut *db, id, reactions.config, now, idempotency_key, via, new, &plan).await?
    } else {
        let mut tx = db.begin().await?;
        let number = insert(&mut tx, id, reactions.config, now, idempotency_key, via, new, &plan).await?;
        if let Some(number) = number {
            let change = Change::Declared { id, number: IncidentNumber(number), new };
            reactions.react(&mut tx, &ctx, &change, Some(&plan.then)).await?;
        }
        tx.commit().await?;
        number
    };
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

/// Writes the declaration; its number, or `None` when the key had been seen (nothing written).
#[allow(clippy::too_many_arguments)]
async fn insert(
    db: &mut PgConnection,
    id: Uuid,
    config: &FileConfig,
    now: DateTime<Utc>,
    idempotency_key: &str,
    via: &str,
    new: &NewIncident,
    plan: &Plan,
) -> sqlx::Result<Option<i64>> {
    let first_update = super::lifecycle::next_update_due(config, new.severity, now);
    let first_update_slot = first_update.map(|at| at.timestamp().to_string());
    let jobs = plan.jobs();
    let kinds: Vec<String> = jobs.iter().map(|j| j.kind.to_string()).collect();
    let slots: Vec<String> = jobs.iter().map(|j| j.slot.clone()).collect();
    let payloads: Vec<serde_json::Value> = jobs.iter().map(|j| j.payload.clone()).collect();
    let run_ats: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.run_at).collect();
    let attempts: Vec<Option<i32>> = jobs.iter().map(|j| j.max_attempts).collect();
    // One statement, so one round trip and one commit on the acknowledgement path: the key, the
    // incident, its `declared` event, its first status update timer and the jobs the reactions
    // planned (the channel's creation first) are written together or not at all. A key seen
    // before inserts nothing (a concurrent duplicate waits on the key's unique index, then finds
    // it taken); foreign keys are checked at the end of the statement.
    sqlx::query_scalar!(
        r#"WITH key AS (
               INSERT INTO idempotency_keys (key, incident_id, created_at) VALUES ($1, $2, $3)
               ON CONFLICT (key) DO NOTHING
               RETURNING key),
           incident AS (
               INSERT INTO incidents (id, title, service, severity, commander, declared_by, impact,
                                      origin_channel, response_url, detected_at, declared_at, next_update_at,
                                      runbook_url, private)
               SELECT $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $3, $15, $18, $24 FROM key
               RETURNING id, number),
           timer AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT id, $16, $17, jsonb_build_object('due', $15::timestamptz), $15, $3 FROM incident
               WHERE $15::timestamptz IS NOT NULL),
           planned AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT i.id, p.kind, p.slot, p.payload, p.run_at, $3
               FROM incident i, unnest($19::text[], $20::text[], $21::jsonb[], $22::timestamptz[], $23::int4[])
                    AS p(kind, slot, payload, run_at, attempts)
               WHERE p.attempts IS NULL),
           counted AS (
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at, max_attempts)
               SELECT i.id, p.kind, p.slot, p.payload, p.run_at, $3, p.attempts
               FROM incident i, unnest($19::text[], $20::text[], $21::jsonb[], $22::timestamptz[], $23::int4[])
                    AS p(kind, slot, payload, run_at, attempts)
               WHERE p.attempts IS NOT NULL),
           event AS (
               INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
               SELECT id, $3, $8, $13, jsonb_build_object(
                   'number', 'INC-' || number, 'service', $5::text, 'severity', $6::text, 'title', $4::text,
                   'commander', $7::text, 'impact', $9::text, 'via', $14::text, 'private', $24::bool)
               FROM incident)
           SELECT number AS "number!" FROM incident"#,
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
        first_update,
        kind::STATUS_UPDATE,
        first_update_slot,
        new.runbook_url,
        &kinds,
        &slots,
        &payloads,
        &run_ats,
        &attempts as &[Option<i32>],
        new.private,
    )
    .fetch_optional(&mut *db)
    .await
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
    reactions: Reactions<'_>,
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
    let change = Change::Acknowledged { incident: &incident };
    reactions.react(&mut tx, &reactions.context(now, user), &change, None).await?;
    tx.commit().await?;
    Ok(Acknowledged::Now(incident))
}
