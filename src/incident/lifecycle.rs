//! What happens to an open incident: updates, notes, commander and severity changes, resolve
//! and reopen. Each is one transaction: the change, its timeline event, its status update
//! timers and what the parts react with ([`super::change`]: the Slack posts, the status page,
//! escalation), so nothing is half done. Each takes a pool, or a connection already in a transaction (a Slack request's: the
//! change is then a savepoint of it).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Acquire, PgExecutor, Postgres, Transaction};

use super::change::{Change, Reactions};
use super::store::{self, Incident, UpdateFields};
use super::Severity;
use crate::config::FileConfig;
use crate::jobs::{kind, queue};
use crate::timeline::{self, EventKind};

/// Why a lifecycle change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0} is resolved: it takes notes, but not updates (`/incident reopen` first)")]
    Resolved(super::IncidentNumber),
    #[error("{0} is not resolved")]
    NotResolved(super::IncidentNumber),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// When the next scheduled status update after `from` is due at `severity` (none without a cadence).
pub fn next_update_due(config: &FileConfig, severity: Severity, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let every = config.severity.get(&severity).and_then(|s| s.status_update_every).filter(|d| !d.0.is_zero())?;
    Some(crate::clock::whole_seconds(from + every.as_chrono()))
}

/// Plans the next scheduled status update `every` after `from` (none when the severity has no
/// cadence), replacing any planned one. Returns when it is due.
pub async fn plan_status_updates(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident: &Incident,
    severity: Severity,
    from: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    queue::cancel(&mut **tx, incident.id, kind::STATUS_UPDATE).await?;
    let due = next_update_due(config, severity, from);
    if let Some(due) = due {
        let slot = due.timestamp().to_string();
        queue::enqueue(&mut **tx, Some(incident.id), kind::STATUS_UPDATE, &slot, json!({ "due": due }), due).await?;
    }
    store::set_next_update(&mut **tx, incident.id, due).await?;
    Ok(due)
}

/// Queues a post in the incident channel (`announce` also posts it in the announcement channel).
pub async fn post(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    text: &str,
    announce: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let targets: &[&str] = if announce { &["channel", "announce"] } else { &["channel"] };
    for to in targets {
        let payload = json!({ "text": text, "to": to });
        queue::enqueue(&mut **tx, Some(incident.id), kind::POST, &uuid::Uuid::new_v4().to_string(), payload, now)
            .await?;
    }
    Ok(())
}

/// `/incident update`: records the fields (the reactions post them); they are also what the
/// next scheduled status update says.
pub async fn update(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    fields: &UpdateFields,
) -> Result<Incident, LifecycleError> {
    if incident.is_resolved() {
        return Err(LifecycleError::Resolved(incident.number()));
    }
    let mut tx = db.begin().await?;
    let updated = store::record_update(&mut *tx, incident.id, fields, now).await?;
    let payload = json!({
        "status": fields.status.map(|s| s.as_str()), "status_text": fields.status_text, "root_cause": fields.root_cause,
        "action": fields.action, "eta": fields.eta, "impact": fields.impact,
    });
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::Updated, payload).await?;
    if updated.mitigated_at == Some(now) && incident.mitigated_at.is_none() {
        timeline::append(&mut *tx, incident.id, now, actor, EventKind::Mitigated, json!({})).await?;
    }
    let change = Change::Updated { incident: &updated, fields };
    reactions.react(&mut tx, &reactions.context(now, actor), &change, None).await?;
    tx.commit().await?;
    Ok(updated)
}

/// `/incident note <text>`: a timeline entry (resolved incidents take notes too).
pub async fn note(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    text: &str,
) -> sqlx::Result<()> {
    timeline::append(db, incident.id, now, actor, EventKind::Note, json!({ "text": text })).await
}

/// `/incident ic @user`: a new commander (announced in the channel by the reactions).
pub async fn change_commander(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    commander: &str,
) -> Result<(), LifecycleError> {
    change_commander_because(db, reactions, now, incident, actor, commander, None).await
}

/// Why warroom changed a commander itself (the on-call's assignment, a hand-over): the channel
/// is told `text` instead of the plain announcement, and `details` join the timeline event.
#[derive(Debug)]
pub struct Because<'a> {
    pub text: &'a str,
    pub details: serde_json::Value,
}

/// [`change_commander`], with the reason warroom changed it when it did.
pub async fn change_commander_because(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    commander: &str,
    because: Option<&Because<'_>>,
) -> Result<(), LifecycleError> {
    let mut tx = db.begin().await?;
    store::set_commander(&mut *tx, incident.id, commander).await?;
    let mut payload = json!({ "from": incident.commander, "to": commander });
    if let (Some(payload), Some(details)) = (payload.as_object_mut(), because.and_then(|b| b.details.as_object())) {
        payload.extend(details.clone());
    }
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::CommanderChanged, payload).await?;
    let changed = Incident { commander: commander.to_string(), ..incident.clone() };
    let announce = because.map(|b| b.text);
    let change = Change::CommanderChanged { incident: &changed, from: &incident.commander, to: commander, announce };
    reactions.react(&mut tx, &reactions.context(now, actor), &change, None).await?;
    tx.commit().await?;
    Ok(())
}

/// `/incident sev P1`: a new severity, and the status update cadence re-planned from now.
pub async fn change_severity(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    severity: Severity,
) -> Result<Option<DateTime<Utc>>, LifecycleError> {
    if incident.is_resolved() {
        return Err(LifecycleError::Resolved(incident.number()));
    }
    let mut tx = db.begin().await?;
    store::set_severity(&mut *tx, incident.id, severity).await?;
    let payload = json!({ "from": incident.severity, "to": severity.as_str() });
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::SeverityChanged, payload).await?;
    let next = plan_status_updates(&mut tx, reactions.config, incident, severity, now).await?;
    let changed = Incident { severity: severity.as_str().to_string(), next_update_at: next, ..incident.clone() };
    let change = Change::SeverityChanged { incident: &changed, from: incident.severity(), to: severity };
    reactions.react(&mut tx, &reactions.context(now, actor), &change, None).await?;
    tx.commit().await?;
    Ok(next)
}

/// Resolves: stops every timer (the reactions post the resolution). Who may resolve is the
/// caller's check (`[permissions] resolve`).
pub async fn resolve(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    fields: &UpdateFields,
    resolution: Option<&str>,
) -> Result<Incident, LifecycleError> {
    let mut tx = db.begin().await?;
    let resolved = resolve_in(&mut tx, reactions, now, incident, actor, fields, resolution).await?;
    tx.commit().await?;
    Ok(resolved)
}

/// Resolves on behalf of the alert source whose alert group declared the incident, when that
/// group resolved and `[alerts] auto_resolve` is on (`source` is the actor: `alertmanager`,
/// `grafana`). This is the one resolution that is not a person's (so no permission applies): callers
/// pass only an incident the source's own group declared, inside the transaction that records
/// the group's resolution.
pub async fn resolve_for_alert_source(
    tx: &mut Transaction<'_, Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    source: &str,
    resolution: &str,
) -> Result<Incident, LifecycleError> {
    resolve_in(tx, reactions, now, incident, source, &UpdateFields::default(), Some(resolution)).await
}

async fn resolve_in(
    tx: &mut Transaction<'_, Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    fields: &UpdateFields,
    resolution: Option<&str>,
) -> Result<Incident, LifecycleError> {
    let Some(resolved) = store::resolve(&mut **tx, incident.id, actor, fields, resolution, now).await? else {
        return Err(LifecycleError::Resolved(incident.number()));
    };
    let cancelled = queue::cancel_timers(&mut **tx, incident.id).await?;
    let payload = json!({ "root_cause": resolved.root_cause, "resolution": resolved.resolution, "impact": resolved.impact,
                          "duration_secs": (now - incident.declared_at).num_seconds(), "timers_cancelled": cancelled });
    timeline::append(&mut **tx, incident.id, now, actor, EventKind::Resolved, payload).await?;
    let change = Change::Resolved { incident: &resolved };
    reactions.react(tx, &reactions.context(now, actor), &change, None).await?;
    Ok(resolved)
}

/// Reopens a resolved incident and restarts its status update cadence.
pub async fn reopen(
    db: impl Acquire<'_, Database = Postgres>,
    reactions: Reactions<'_>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
) -> Result<(), LifecycleError> {
    let mut tx = db.begin().await?;
    let Some(reopened) = store::reopen(&mut *tx, incident.id).await? else {
        return Err(LifecycleError::NotResolved(incident.number()));
    };
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::Reopened, json!({})).await?;
    plan_status_updates(&mut tx, reactions.config, &reopened, reopened.severity(), now).await?;
    let change = Change::Reopened { incident: &reopened };
    reactions.react(&mut tx, &reactions.context(now, actor), &change, None).await?;
    tx.commit().await?;
    Ok(())
}
