//! What happens to an open incident: updates, notes, commander and severity changes, resolve
//! and reopen. Each is one transaction: the change, its timeline event and the Slack work it
//! causes (queued jobs), so nothing is half done. Each takes a pool, or a connection already in
//! a transaction (a Slack request's: the change is then a savepoint of it).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Acquire, PgExecutor, Postgres, Transaction};

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

/// Queues a re-render of the declaration (its "Next update", status, commander, buttons).
async fn refresh_declaration(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let slot = format!("at:{}", now.timestamp_micros());
    queue::enqueue(&mut **tx, Some(incident.id), kind::REFRESH_DECLARATION, &slot, json!({}), now).await?;
    Ok(())
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

/// `/incident update`: records the fields and posts them; they are also what the next
/// scheduled status update says.
pub async fn update(
    db: impl Acquire<'_, Database = Postgres>,
    config: &FileConfig,
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
    let slot = uuid::Uuid::new_v4().to_string();
    // The post shows this update as it was made, even if a later one lands before it is sent.
    let snapshot = json!({
        "status": updated.status, "status_text": updated.status_text, "root_cause": updated.root_cause,
        "current_action": updated.current_action, "eta": updated.eta, "impact": updated.impact,
    });
    let payload = json!({ "by": actor, "snapshot": snapshot });
    queue::enqueue(&mut *tx, Some(incident.id), kind::POST_UPDATE, &slot, payload, now).await?;
    refresh_declaration(&mut tx, incident, now).await?;
    crate::statuspage::after_update(&mut tx, config, &updated, actor, now).await?;
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

/// `/incident ic @user`: a new commander, announced in the channel.
pub async fn change_commander(
    db: impl Acquire<'_, Database = Postgres>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    commander: &str,
) -> Result<(), LifecycleError> {
    let text = format!(
        ":busts_in_silhouette: <@{commander}> is now Incident Commander of {} (was <@{}>; changed by <@{actor}>).",
        incident.number(),
        incident.commander
    );
    change_commander_saying(db, now, incident, actor, commander, &text, json!({})).await
}

/// [`change_commander`], announced with `text`; `why` joins the timeline event's payload (the
/// on-call assignment and hand-over say which schedule).
pub async fn change_commander_saying(
    db: impl Acquire<'_, Database = Postgres>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    commander: &str,
    text: &str,
    why: serde_json::Value,
) -> Result<(), LifecycleError> {
    let mut tx = db.begin().await?;
    store::set_commander(&mut *tx, incident.id, commander).await?;
    let mut payload = json!({ "from": incident.commander, "to": commander });
    if let (Some(payload), Some(why)) = (payload.as_object_mut(), why.as_object()) {
        payload.extend(why.clone());
    }
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::CommanderChanged, payload).await?;
    post(&mut tx, incident, text, false, now).await?;
    if incident.channel_id.is_some() {
        queue::enqueue(
            &mut *tx,
            Some(incident.id),
            kind::INVITE,
            &format!("ic:{commander}"),
            json!({ "users": [commander] }),
            now,
        )
        .await?;
    }
    refresh_declaration(&mut tx, incident, now).await?;
    tx.commit().await?;
    Ok(())
}

/// `/incident sev P1`: a new severity, and the status update cadence re-planned from now.
pub async fn change_severity(
    db: impl Acquire<'_, Database = Postgres>,
    config: &FileConfig,
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
    let next = plan_status_updates(&mut tx, config, incident, severity, now).await?;
    let cadence =
        next.map_or("no scheduled updates".to_string(), |at| format!("next update {} UTC", at.format("%H:%M")));
    let text = format!(
        ":rotating_light: {} is now *{severity}* ({}), set by <@{actor}>; {cadence}.",
        incident.number(),
        severity.label()
    );
    post(&mut tx, incident, &text, severity.is_major(), now).await?;
    refresh_declaration(&mut tx, incident, now).await?;
    let changed = Incident { severity: severity.as_str().to_string(), ..incident.clone() };
    crate::statuspage::after_severity(&mut tx, config, &changed, actor, now).await?;
    crate::escalation::after_severity(&mut tx, config, &changed, severity, now).await?;
    tx.commit().await?;
    Ok(next)
}

/// Resolves: stops every timer, posts the resolution (channel and announcement channel) and
/// the validation checklist. Who may resolve is the caller's check (`[permissions] resolve`).
pub async fn resolve(
    db: impl Acquire<'_, Database = Postgres>,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    fields: &UpdateFields,
    resolution: Option<&str>,
) -> Result<Incident, LifecycleError> {
    let mut tx = db.begin().await?;
    let resolved = resolve_in(&mut tx, now, incident, actor, fields, resolution).await?;
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
    now: DateTime<Utc>,
    incident: &Incident,
    source: &str,
    resolution: &str,
) -> Result<Incident, LifecycleError> {
    resolve_in(tx, now, incident, source, &UpdateFields::default(), Some(resolution)).await
}

async fn resolve_in(
    tx: &mut Transaction<'_, Postgres>,
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
    queue::enqueue(
        &mut **tx,
        Some(incident.id),
        kind::POST_RESOLUTION,
        &format!("at:{}", now.timestamp()),
        json!({}),
        now,
    )
    .await?;
    refresh_declaration(tx, incident, now).await?;
    crate::statuspage::after_resolve(tx, &resolved, actor, now).await?;
    crate::escalation::after_resolve(tx, &resolved, now).await?;
    Ok(resolved)
}

/// Reopens a resolved incident and restarts its status update cadence.
pub async fn reopen(
    db: impl Acquire<'_, Database = Postgres>,
    config: &FileConfig,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
) -> Result<(), LifecycleError> {
    let mut tx = db.begin().await?;
    let Some(reopened) = store::reopen(&mut *tx, incident.id).await? else {
        return Err(LifecycleError::NotResolved(incident.number()));
    };
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::Reopened, json!({})).await?;
    plan_status_updates(&mut tx, config, &reopened, reopened.severity(), now).await?;
    let text = format!(":leftwards_arrow_with_hook: {} was reopened by <@{actor}>.", incident.number());
    post(&mut tx, incident, &text, true, now).await?;
    refresh_declaration(&mut tx, incident, now).await?;
    crate::statuspage::after_reopen(&mut tx, config, &reopened, actor, now).await?;
    tx.commit().await?;
    Ok(())
}
