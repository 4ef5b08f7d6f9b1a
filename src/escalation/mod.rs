//! Escalation: each severity's ladder of tiers (`[[escalation.P0]]`), fired by durable timers
//! from the declaration or at once by "Escalate now"; a silence check when nobody acknowledges;
//! and PagerDuty events for the tiers that page. A tier fires once: its row in `escalations`.

pub mod fire;
pub mod notify;
pub mod pagerduty;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Postgres, Transaction};

use crate::config::{EscalationTier, FileConfig};
use crate::incident::store::Incident;
use crate::incident::{Severity, SlackUserId};
use crate::jobs::{kind, queue};
use crate::timeline::{self, EventKind};

/// Someone a tier notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Slack user id.
    User(String),
    /// A Slack user group, by handle (without `@`).
    Group(String),
    /// The declared service's `owner` (itself a user or a group).
    Owner,
    /// Who is on call when the tier fires: the declared service's (`oncall`), or one PagerDuty
    /// schedule's (`oncall:PABC123`).
    Oncall(Option<String>),
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "owner" {
            return Ok(Self::Owner);
        }
        if text == "oncall" {
            return Ok(Self::Oncall(None));
        }
        if let Some(id) = text.strip_prefix("oncall:") {
            return if crate::config::is_pagerduty_id(id) {
                Ok(Self::Oncall(Some(id.into())))
            } else {
                Err(format!("`{id}` is not a PagerDuty schedule id (like PABC123: P and capital letters or digits)"))
            };
        }
        if let Some(handle) = text.strip_prefix('@') {
            let valid = !handle.is_empty()
                && handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            return if valid {
                Ok(Self::Group(handle.into()))
            } else {
                Err(format!("`{text}` is not a user group handle"))
            };
        }
        SlackUserId::parse(text)
            .map(|id| Self::User(id.as_str().into()))
            .map_err(|m| format!("{m} (use user ids like U0123456789, user groups like @sre-leads, `owner`, `oncall` or `oncall:<schedule id>`)"))
    }
}

/// The ladder of a severity (empty: no escalation).
pub fn ladder(config: &FileConfig, severity: Severity) -> &[EscalationTier] {
    config.escalation.get(&severity).map_or(&[], Vec::as_slice)
}

/// When each tier falls due for an incident declared at `declared_at`.
pub fn tier_times(config: &FileConfig, severity: Severity, declared_at: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    ladder(config, severity).iter().map(|t| crate::clock::whole_seconds(declared_at + t.after.as_chrono())).collect()
}

/// When the silence check runs (nobody acknowledged by then), if the severity has one.
pub fn ack_check_time(config: &FileConfig, severity: Severity, declared_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let within = config.severity.get(&severity)?.ack_within.filter(|d| !d.0.is_zero())?;
    Some(crate::clock::whole_seconds(declared_at + within.as_chrono()))
}

/// The severity changed: the timers of tiers not yet fired follow the new ladder (a tier already
/// past its time at the new severity fires now).
pub async fn after_severity(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident: &Incident,
    severity: Severity,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    queue::cancel(&mut **tx, incident.id, kind::ESCALATION_TIER).await?;
    let fired = fire::fired_tiers(&mut **tx, incident.id).await?;
    for (index, at) in tier_times(config, severity, incident.declared_at).into_iter().enumerate() {
        let tier = index as i32 + 1;
        if !fired.contains(&tier) {
            let slot = format!("{tier}:{}:{}", severity.as_str(), now.timestamp());
            queue::enqueue(
                &mut **tx,
                Some(incident.id),
                kind::ESCALATION_TIER,
                &slot,
                json!({ "tier": tier }),
                at.max(now),
            )
            .await?;
        }
    }
    Ok(())
}

/// Resolved: pending tiers were cancelled with the other timers; PagerDuty hears the resolution
/// of every tier it was paged for.
pub async fn after_resolve(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    for tier in fire::paged_tiers(&mut **tx, incident.id).await? {
        let payload = json!({ "tier": tier, "action": "resolve" });
        let slot = format!("{tier}:resolve:{}", now.timestamp());
        queue::enqueue_with_attempts(
            &mut **tx,
            Some(incident.id),
            kind::ESCALATION_PAGE,
            &slot,
            payload,
            now,
            fire::PAGE_ATTEMPTS,
        )
        .await?;
    }
    Ok(())
}

/// Why "Escalate now" did nothing.
#[derive(Debug, thiserror::Error)]
pub enum EscalateError {
    #[error("{0} is resolved: nothing to escalate")]
    Resolved(crate::incident::IncidentNumber),
    #[error("{number} has no escalation tiers at {severity} (see `[[escalation.{severity}]]` in warroom.toml)")]
    NoLadder { number: crate::incident::IncidentNumber, severity: Severity },
    #[error("every tier of {0} has been escalated to already")]
    Exhausted(crate::incident::IncidentNumber),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// "Escalate now" / `/incident escalate [why]`: fires the next tier at once. Returns its number.
pub async fn escalate_now(
    db: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    config: &FileConfig,
    now: DateTime<Utc>,
    incident: &Incident,
    actor: &str,
    reason: &str,
) -> Result<i32, EscalateError> {
    if incident.is_resolved() {
        return Err(EscalateError::Resolved(incident.number()));
    }
    let tiers = ladder(config, incident.severity()).len() as i32;
    if tiers == 0 {
        return Err(EscalateError::NoLadder { number: incident.number(), severity: incident.severity() });
    }
    let mut tx = db.begin().await?;
    let fired = fire::fired_tiers(&mut *tx, incident.id).await?;
    let Some(next) = (1..=tiers).find(|t| !fired.contains(t)) else {
        return Err(EscalateError::Exhausted(incident.number()));
    };
    if !fire::fire_in(&mut tx, config, incident, next, actor, reason, now).await? {
        // A timer or another click fired it a moment ago.
        return Err(EscalateError::Exhausted(incident.number()));
    }
    let payload = json!({ "tier": next, "by": actor, "reason": reason });
    timeline::append(&mut *tx, incident.id, now, actor, EventKind::EscalateNow, payload).await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_users_groups_or_the_owner() {
        assert_eq!(Target::parse("U0123456789"), Ok(Target::User("U0123456789".into())));
        assert_eq!(Target::parse("@sre-leads"), Ok(Target::Group("sre-leads".into())));
        assert_eq!(Target::parse("owner"), Ok(Target::Owner));
        assert!(Target::parse("@").is_err());
        assert_eq!(Target::parse("oncall"), Ok(Target::Oncall(None)));
        assert_eq!(Target::parse("oncall:PABC123"), Ok(Target::Oncall(Some("PABC123".into()))));
        assert!(Target::parse("oncall:abc").unwrap_err().contains("not a PagerDuty schedule id"));
        assert!(Target::parse("bob").unwrap_err().contains("user groups like @sre-leads"));
    }

    #[test]
    fn the_default_p0_ladder_follows_seed_002() {
        let config = FileConfig::default();
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 15, 0, 0).unwrap();
        let times: Vec<String> =
            tier_times(&config, Severity::P0, at).iter().map(|t| t.format("%H:%M").to_string()).collect();
        assert_eq!(times, ["15:15", "15:30", "16:00"]);
        assert_eq!(ladder(&config, Severity::P0)[0].notify, ["owner", "@sre-leads"]);
        assert!(tier_times(&config, Severity::P2, at).is_empty());
        assert_eq!(
            ack_check_time(&config, Severity::P0, at).map(|t| t.format("%H:%M").to_string()).as_deref(),
            Some("15:05")
        );
    }
}
