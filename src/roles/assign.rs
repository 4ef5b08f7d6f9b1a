//! Filling a role other than the commander (the commander goes through
//! `incident::lifecycle::change_commander`): the holder, its `role_assigned` event, the post
//! telling the channel, the new holder's invitation and the declaration re-rendered, in the
//! caller's transaction. Roles given in the declare modal are written with the declaration and
//! shown by it, so they are not announced again.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::AppState;
use crate::config::Role;
use crate::incident::roles;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind};

/// What an assignment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assigned {
    /// `user` holds it now; `from` held it before.
    Now { from: Option<String> },
    /// `user` held it already: nothing written, nobody told.
    Already,
}

/// Gives `role` of `incident` to `user`, as `by` asked (permission already checked).
pub async fn assign(
    db: &mut PgConnection,
    now: DateTime<Utc>,
    incident: &Incident,
    role: &Role,
    user: &str,
    by: &str,
) -> sqlx::Result<Assigned> {
    let from = roles::holder(&mut *db, incident.id, &role.key).await?;
    if from.as_deref() == Some(user) {
        return Ok(Assigned::Already);
    }
    roles::set(&mut *db, incident.id, &[(role.key.clone(), user.to_string())], now, by).await?;
    let payload = json!({ "role": role.key, "name": role.name, "user": user, "from": from, "via": "command" });
    timeline::append(&mut *db, incident.id, now, by, EventKind::RoleAssigned, payload).await?;
    let was = from.as_deref().map(|f| format!("was <@{f}>; ")).unwrap_or_default();
    let text = format!(
        ":label: <@{user}> is now *{}* of {} ({was}assigned by <@{by}>).",
        crate::templates::escape_mrkdwn(&role.name),
        incident.number()
    );
    // A slot of its own for each assignment (two can fall in one tick of the clock).
    let slot = format!("role:{}:{}", role.key, Uuid::new_v4());
    let post = json!({ "text": text, "to": "channel", "what": "role" });
    queue::enqueue(&mut *db, Some(incident.id), kind::POST, &slot, post, now).await?;
    queue_invite(db, incident.id, &[user.to_string()], now).await?;
    let refresh = format!("role:{}", Uuid::new_v4());
    queue::enqueue(&mut *db, Some(incident.id), kind::REFRESH_DECLARATION, &refresh, json!({}), now).await?;
    Ok(Assigned::Now { from })
}

/// The roles given at declaration (`NewIncident::roles`), written in the declaring transaction.
pub async fn at_declaration(
    db: &mut PgConnection,
    now: DateTime<Utc>,
    incident_id: Uuid,
    given: &[(Role, String)],
    by: &str,
) -> sqlx::Result<()> {
    let rows: Vec<(String, String)> = given.iter().map(|(role, user)| (role.key.clone(), user.clone())).collect();
    roles::set(&mut *db, incident_id, &rows, now, by).await?;
    let payloads: Vec<serde_json::Value> = given
        .iter()
        .map(|(role, user)| json!({ "role": role.key, "name": role.name, "user": user, "from": null, "via": "declaration" }))
        .collect();
    timeline::append_many(&mut *db, incident_id, now, by, EventKind::RoleAssigned, &payloads).await?;
    let users: Vec<String> = given.iter().map(|(_, user)| user.clone()).collect();
    queue_invite(db, incident_id, &users, now).await
}

async fn queue_invite(
    db: &mut PgConnection,
    incident_id: Uuid,
    users: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let slot = Uuid::new_v4().to_string();
    queue::enqueue(db, Some(incident_id), kind::ROLES_INVITE, &slot, json!({ "users": users }), now).await?;
    Ok(())
}

/// [`kind::ROLES_INVITE`]: `{ "users" }` invited once the incident channel exists (at
/// declaration it is still being made).
pub async fn invite(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    if incident.channel_id.is_none() {
        return Err(JobError::channel_pending());
    }
    let slot = format!("role:{}", job.id);
    let payload = json!({ "users": job.payload["users"] });
    queue::enqueue(&state.db, Some(incident.id), kind::INVITE, &slot, payload, state.clock.now()).await?;
    crate::jobs::wake(state);
    Ok(())
}
