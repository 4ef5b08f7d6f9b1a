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
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE id = $1", id).fetch_optional(db).await
}

pub async fn by_number(db: impl PgExecutor<'_>, number: IncidentNumber) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE number = $1", number.0).fetch_optional(db).await
}

/// Open incidents, newest first.
pub async fn list_open(db: &PgPool) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as!(Incident, "SELECT * FROM incidents WHERE resolved_at IS NULL ORDER BY number DESC LIMIT 50")
        .fetch_all(db)
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
