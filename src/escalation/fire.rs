//! Firing a tier (its timer, or "Escalate now") and the silence check. Firing is one row in
//! `escalations` plus the queued work it causes, in one transaction: whoever inserts the row
//! first fires the tier; everyone else finds it fired.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::app::AppState;
use crate::config::FileConfig;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// PagerDuty throttles bursts; a page is worth more attempts than a Slack post.
pub const PAGE_ATTEMPTS: i32 = 20;

/// The tiers of the incident that have fired.
pub async fn fired_tiers(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<i32>> {
    sqlx::query_scalar!("SELECT tier FROM escalations WHERE incident_id = $1 ORDER BY tier", incident_id)
        .fetch_all(db)
        .await
}

/// The fired tiers that page PagerDuty.
pub async fn paged_tiers(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<i32>> {
    sqlx::query_scalar!("SELECT tier FROM escalations WHERE incident_id = $1 AND paged ORDER BY tier", incident_id)
        .fetch_all(db)
        .await
}

/// Fires `tier` (1-based) unless it has fired: records it, and queues the notifications and the
/// page. Returns whether this call fired it.
pub async fn fire_in(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident: &Incident,
    tier: i32,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let ladder = super::ladder(config, incident.severity());
    let Some(step) = usize::try_from(tier - 1).ok().and_then(|i| ladder.get(i)) else { return Ok(false) };
    let fired = sqlx::query_scalar!(
        r#"INSERT INTO escalations (incident_id, tier, fired_at, fired_by, reason, paged) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (incident_id, tier) DO NOTHING RETURNING tier"#,
        incident.id,
        tier,
        now,
        actor,
        reason,
        step.pagerduty,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if fired.is_none() {
        return Ok(false);
    }
    let payload = json!({ "tier": tier, "of": ladder.len(), "notify": step.notify, "pagerduty": step.pagerduty,
                          "by": actor, "reason": reason });
    timeline::append(&mut **tx, incident.id, now, actor, EventKind::Escalated, payload).await?;
    let notify = json!({ "tier": tier, "reason": reason, "by": actor });
    queue::enqueue(&mut **tx, Some(incident.id), kind::ESCALATION_NOTIFY, &format!("tier:{tier}"), notify, now).await?;
    if step.pagerduty {
        let page = json!({ "tier": tier, "action": "trigger" });
        let slot = format!("{tier}:trigger");
        queue::enqueue_with_attempts(
            &mut **tx,
            Some(incident.id),
            kind::ESCALATION_PAGE,
            &slot,
            page,
            now,
            PAGE_ATTEMPTS,
        )
        .await?;
    }
    Ok(true)
}

/// [`kind::ESCALATION_TIER`]: a tier's timer. Does nothing if the incident is resolved or the
/// tier already fired ("Escalate now" got there first).
pub async fn tier(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let tier = job.payload["tier"].as_i64().unwrap_or(0) as i32;
    if incident.is_resolved() {
        return Ok(());
    }
    let config = &state.settings.file;
    let after = super::ladder(config, incident.severity())
        .get((tier - 1).max(0) as usize)
        .map(|t| t.after.to_string())
        .unwrap_or_default();
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let reason = format!("not resolved after {after}");
    fire_in(&mut tx, config, &incident, tier, WARROOM, &reason, now).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// [`kind::ESCALATION_ACK_CHECK`]: nobody acknowledged within `ack_within`: tier 1's targets
/// are pinged (without firing tier 1, which keeps its own time).
pub async fn ack_check(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    if incident.is_resolved() || incident.acknowledged_at.is_some() {
        return Ok(());
    }
    if super::ladder(&state.settings.file, incident.severity()).is_empty() {
        return Ok(());
    }
    let now = state.clock.now();
    let waited = crate::slack::blocks::human_span(now - incident.declared_at);
    let mut tx = state.db.begin().await?;
    let payload = json!({ "tier": 1, "waited_secs": (now - incident.declared_at).num_seconds() });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::EscalationSilence, payload).await?;
    let reason = format!("nobody has acknowledged {} after {waited}", incident.number());
    let notify = json!({ "tier": 1, "reason": reason, "by": WARROOM, "silence": true });
    queue::enqueue(&mut *tx, Some(incident.id), kind::ESCALATION_NOTIFY, "silence", notify, now).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}
