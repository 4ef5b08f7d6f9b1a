//! Declaring and acknowledging: the incident, its first timeline event and its queued Slack
//! work are written in one transaction, so the request can be answered at once and nothing is
//! lost if the process dies right after.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::store::{self, Incident, NewIncident};
use super::IncidentNumber;
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

/// Declares `new` once per `idempotency_key` (a Slack trigger id, a view id, an API key).
pub async fn declare(
    db: &PgPool,
    now: DateTime<Utc>,
    idempotency_key: &str,
    via: &str,
    new: &NewIncident,
) -> sqlx::Result<Declared> {
    let mut tx = db.begin().await?;
    let id = Uuid::new_v4();
    // The key row is written first (with the incident id it will name), so a concurrent
    // duplicate waits here for this transaction and then finds the incident.
    let fresh = sqlx::query!(
        "INSERT INTO idempotency_keys (key, created_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        idempotency_key,
        now
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        let existing = sqlx::query!(
            r#"SELECT i.id, i.number FROM idempotency_keys k JOIN incidents i ON i.id = k.incident_id WHERE k.key = $1"#,
            idempotency_key
        )
        .fetch_one(&mut *tx)
        .await?;
        return Ok(Declared { id: existing.id, number: IncidentNumber(existing.number), created: false });
    }
    let number = store::insert(&mut *tx, id, new, now).await?;
    sqlx::query!("UPDATE idempotency_keys SET incident_id = $2 WHERE key = $1", idempotency_key, id)
        .execute(&mut *tx)
        .await?;
    let payload = json!({
        "number": IncidentNumber(number).to_string(), "service": new.service, "severity": new.severity.as_str(),
        "title": new.title, "commander": new.commander, "impact": new.impact, "via": via,
    });
    timeline::append(&mut *tx, id, now, &new.declared_by, EventKind::Declared, payload).await?;
    queue::enqueue(&mut *tx, Some(id), kind::CREATE_CHANNEL, "", json!({}), now).await?;
    tx.commit().await?;
    Ok(Declared { id, number: IncidentNumber(number), created: true })
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
pub async fn acknowledge(db: &PgPool, now: DateTime<Utc>, id: Uuid, user: &str) -> sqlx::Result<Acknowledged> {
    let mut tx = db.begin().await?;
    let Some(incident) = store::acknowledge(&mut *tx, id, user, now).await? else {
        drop(tx);
        return Ok(match store::get(db, id).await? {
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
