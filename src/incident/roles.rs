//! Who holds each role of an incident (`[roles] names`). The commander is one of the roles and
//! stays the incident's `commander` column; the other holders are rows of `incident_roles`, one
//! per filled role, each assignment also a `role_assigned` timeline event. What assigning means
//! for Slack (the post, the invitation, the reminders) belongs to `crate::roles`; this is the
//! storage and the one read every renderer shares (declaration, status update, report, the
//! catch-up card).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::store::Incident;
use super::SlackUserId;
use crate::config::{RolesConfig, COMMANDER};

/// One role of an incident and whoever holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// `scribe`.
    pub key: String,
    /// `Scribe`.
    pub name: String,
    /// The Slack user holding it; `None`: unfilled (for the commander: warroom's own user, or
    /// an alert source, commands it).
    pub user: Option<String>,
}

/// Every configured role of `incident` with its holder, the commander first, in the
/// configuration's order: one primary-key read of `incident_roles`. `unassigned` is warroom's
/// own Slack user (the commander of an incident nobody was given), when known. A row for a role
/// the configuration no longer names is left out.
pub async fn current(
    db: impl PgExecutor<'_>,
    config: &RolesConfig,
    incident: &Incident,
    unassigned: Option<&str>,
) -> sqlx::Result<Vec<Holder>> {
    let rows = holders(db, incident.id).await?;
    Ok(assemble(config, &incident.commander, unassigned, |key| {
        rows.iter().find(|(role, _)| role == key).map(|(_, user)| user.clone())
    }))
}

/// Every configured role with its holder, the commander first: the commander from `commander`
/// (none while `unassigned`, warroom's own user, or an alert source commands), the others from
/// `filled` (role key → user). What [`current`] reads, for a caller that read the rows itself.
pub fn assemble(
    config: &RolesConfig,
    commander: &str,
    unassigned: Option<&str>,
    filled: impl Fn(&str) -> Option<String>,
) -> Vec<Holder> {
    let commander = Some(commander).filter(|c| is_person(c) && Some(*c) != unassigned);
    config
        .all()
        .iter()
        .map(|role| Holder {
            key: role.key.clone(),
            name: role.name.clone(),
            user: match role.key == COMMANDER {
                true => commander.map(str::to_string),
                false => filled(&role.key),
            },
        })
        .collect()
}

/// The filled roles other than the commander: (role, user).
pub async fn holders(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query!("SELECT role, user_id FROM incident_roles WHERE incident_id = $1", incident_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.role, r.user_id)).collect())
}

/// Who holds `role` (not the commander) now.
pub async fn holder(db: impl PgExecutor<'_>, incident_id: Uuid, role: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT user_id FROM incident_roles WHERE incident_id = $1 AND role = $2 FOR UPDATE",
        incident_id,
        role
    )
    .fetch_optional(db)
    .await
}

/// Gives each `(role, user)` of `roles` (never the commander) to its user, replacing whoever
/// held it. The caller records the timeline events in the same transaction.
pub async fn set(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    roles: &[(String, String)],
    at: DateTime<Utc>,
    by: &str,
) -> sqlx::Result<()> {
    let (keys, users): (Vec<String>, Vec<String>) = roles.iter().cloned().unzip();
    sqlx::query!(
        r#"INSERT INTO incident_roles (incident_id, role, user_id, assigned_at, assigned_by)
           SELECT $1, r.role, r.user_id, $4, $5 FROM unnest($2::text[], $3::text[]) AS r(role, user_id)
           ON CONFLICT (incident_id, role)
           DO UPDATE SET user_id = EXCLUDED.user_id, assigned_at = EXCLUDED.assigned_at, assigned_by = EXCLUDED.assigned_by"#,
        incident_id,
        &keys,
        &users,
        at,
        by,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A Slack user id as such (not `alertmanager`, `api`).
fn is_person(actor: &str) -> bool {
    SlackUserId::parse(actor).is_ok_and(|id| id.as_str() == actor)
}
