//! SQL for the `incidents` table.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{IncidentNumber, Severity, Status};

/// One incident row.
#[derive(Debug, Clone)]
pub struct Incident {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub service: String,
    pub severity: String,
    pub status: String,
    pub commander: String,
    pub declared_by: String,
    pub impact: Option<String>,
    pub origin_channel: Option<String>,
    pub response_url: Option<String>,
    pub channel_id: Option<String>,
    pub channel_name: Option<String>,
    pub declaration_ts: Option<String>,
    pub announce_channel_id: Option<String>,
    pub announce_ts: Option<String>,
    pub detected_at: Option<DateTime<Utc>>,
    pub declared_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub status_text: Option<String>,
    pub root_cause: Option<String>,
    pub current_action: Option<String>,
    pub eta: Option<String>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub last_update_at: Option<DateTime<Utc>>,
    pub last_status_post_at: Option<DateTime<Utc>>,
    pub silent_posts: i32,
    pub next_update_at: Option<DateTime<Utc>>,
    /// The runbook the declaring alert linked (`runbook_url` annotation), http(s) only.
    pub runbook_url: Option<String>,
    /// A private incident: a private channel, no public trail, shown only to its members.
    pub private: bool,
}

impl Incident {
    pub fn number(&self) -> IncidentNumber {
        IncidentNumber(self.number)
    }

    /// The database's CHECK constraint guarantees a valid value.
    pub fn severity(&self) -> Severity {
        Severity::parse(&self.severity).unwrap_or(Severity::P0)
    }

    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Investigating)
    }

    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }
}

/// The fields of an update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateFields {
    pub status: Option<Status>,
    pub status_text: Option<String>,
    pub root_cause: Option<String>,
    pub action: Option<String>,
    pub eta: Option<String>,
    pub impact: Option<String>,
}

/// What is needed to record a new incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub service: String,
    pub severity: Severity,
    pub commander: String,
    pub declared_by: String,
    pub impact: Option<String>,
    pub origin_channel: Option<String>,
    pub response_url: Option<String>,
    pub detected_at: Option<DateTime<Utc>>,
    /// An http(s) link to the runbook, shown in the declaration.
    pub runbook_url: Option<String>,
    /// Roles other than the commander filled at declaration: (role key, Slack user id).
    pub roles: Vec<(String, String)>,
    /// Declared privately (`--private`, the modal's box, or `[services.x] private`).
    pub private: bool,
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE id = $1", id).fetch_optional(db).await
}

/// The incident, its row locked until the caller's transaction ends: a timer that acts on what
/// it reads (its slot still being the plan) cannot act twice alongside another replica.
pub async fn lock(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE id = $1 FOR UPDATE", id).fetch_optional(db).await
}

pub async fn by_number(db: impl PgExecutor<'_>, number: IncidentNumber) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE number = $1", number.0).fetch_optional(db).await
}

/// Open incidents, newest first.
pub async fn list_open(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE resolved_at IS NULL ORDER BY number DESC LIMIT 50")
        .fetch_all(db)
        .await
}

/// The newest incidents first, open ones only unless `include_resolved`, private ones only with
/// `include_private`: at most `limit`.
pub async fn list_recent(
    db: &PgPool,
    include_resolved: bool,
    include_private: bool,
    limit: i64,
) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as!(
        Incident,
        "SELECT * FROM incidents WHERE ($1 OR resolved_at IS NULL) AND ($3 OR NOT private) ORDER BY number DESC LIMIT $2",
        include_resolved,
        limit,
        include_private
    )
    .fetch_all(db)
    .await
}

/// The incident whose channel this is.
pub async fn by_channel(db: impl PgExecutor<'_>, channel_id: &str) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE channel_id = $1", channel_id).fetch_optional(db).await
}

/// Applies an update; `mitigated_at` is set the first time the status reaches `monitoring`.
pub async fn record_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    fields: &UpdateFields,
    at: DateTime<Utc>,
) -> sqlx::Result<Incident> {
    sqlx::query_as!(
        Incident,
        r#"UPDATE incidents SET
               status = COALESCE($2, status),
               status_text = COALESCE($3, status_text),
               root_cause = COALESCE($4, root_cause),
               current_action = COALESCE($5, current_action),
               eta = COALESCE($6, eta),
               impact = COALESCE($7, impact),
               mitigated_at = CASE WHEN mitigated_at IS NULL AND $2 = 'monitoring' THEN $8 ELSE mitigated_at END,
               last_update_at = $8
           WHERE id = $1
           RETURNING *"#,
        id,
        fields.status.map(|s| s.as_str()),
        fields.status_text,
        fields.root_cause,
        fields.action,
        fields.eta,
        fields.impact,
        at,
    )
    .fetch_one(db)
    .await
}

pub async fn set_commander(db: impl PgExecutor<'_>, id: Uuid, commander: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET commander = $2 WHERE id = $1", id, commander).execute(db).await?;
    Ok(())
}

pub async fn set_severity(db: impl PgExecutor<'_>, id: Uuid, severity: Severity) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET severity = $2 WHERE id = $1", id, severity.as_str()).execute(db).await?;
    Ok(())
}

pub async fn set_next_update(db: impl PgExecutor<'_>, id: Uuid, at: Option<DateTime<Utc>>) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET next_update_at = $2 WHERE id = $1", id, at).execute(db).await?;
    Ok(())
}

/// Records a scheduled status update; returns how many in a row had nothing new.
pub async fn record_status_post(
    db: impl PgExecutor<'_>,
    id: Uuid,
    at: DateTime<Utc>,
    silent: bool,
    next: Option<DateTime<Utc>>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"UPDATE incidents SET last_status_post_at = $2, next_update_at = $4,
                  silent_posts = CASE WHEN $3 THEN silent_posts + 1 ELSE 0 END
           WHERE id = $1
           RETURNING silent_posts"#,
        id,
        at,
        silent,
        next,
    )
    .fetch_one(db)
    .await
}

/// Resolves the incident if it is open; returns it when this call resolved it.
pub async fn resolve(
    db: impl PgExecutor<'_>,
    id: Uuid,
    by: &str,
    fields: &UpdateFields,
    resolution: Option<&str>,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(
        Incident,
        r#"UPDATE incidents SET status = 'resolved', resolved_at = $3, resolved_by = $2, next_update_at = NULL,
                  root_cause = COALESCE($4, root_cause), resolution = COALESCE($5, resolution),
                  impact = COALESCE($6, impact), mitigated_at = COALESCE(mitigated_at, $3)
           WHERE id = $1 AND resolved_at IS NULL
           RETURNING *"#,
        id,
        by,
        at,
        fields.root_cause,
        resolution,
        fields.impact,
    )
    .fetch_optional(db)
    .await
}

/// Reopens a resolved incident; returns it when this call reopened it.
pub async fn reopen(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(
        Incident,
        r#"UPDATE incidents SET status = 'investigating', resolved_at = NULL, resolved_by = NULL, silent_posts = 0
           WHERE id = $1 AND resolved_at IS NOT NULL
           RETURNING *"#,
        id,
    )
    .fetch_optional(db)
    .await
}

pub async fn set_channel(db: impl PgExecutor<'_>, id: Uuid, channel_id: &str, name: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET channel_id = $2, channel_name = $3 WHERE id = $1", id, channel_id, name)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_declaration_ts(db: impl PgExecutor<'_>, id: Uuid, ts: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET declaration_ts = $2 WHERE id = $1", id, ts).execute(db).await?;
    Ok(())
}

pub async fn set_announcement(db: impl PgExecutor<'_>, id: Uuid, channel: &str, ts: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE incidents SET announce_channel_id = $2, announce_ts = $3 WHERE id = $1", id, channel, ts)
        .execute(db)
        .await?;
    Ok(())
}

/// Sets `acknowledged_at` if nobody has yet; returns the incident when this call acknowledged it.
pub async fn acknowledge(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(
        Incident,
        r#"UPDATE incidents SET acknowledged_at = $3, acknowledged_by = $2
           WHERE id = $1 AND acknowledged_at IS NULL
           RETURNING *"#,
        id,
        user,
        at,
    )
    .fetch_optional(db)
    .await
}
