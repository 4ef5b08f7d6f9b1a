//! The one statement that finds what was seen before. Same-service incidents come first (the
//! most similar title among its 50 latest, then the latest), then, when the service has fewer
//! than three, other services' incidents
//! whose title is similar (`title % $t`, `pg_trgm`'s `similarity_threshold`, 0.3 unless the
//! server says otherwise, and never under [`MIN_SIMILARITY`]; nearest first through the GiST
//! index's ordered scan, which the `%` prunes and the limit stops after three rows). Only resolved,
//! non-private incidents, by partial indexes that hold just those (migration 0025).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Matching;
use crate::incident::store::Incident;
use crate::incident::IncidentNumber;

/// How many past incidents are shown.
pub const LIMIT: usize = 3;

/// The least title similarity (0 to 1) for another service's incident: `pg_trgm`'s own default
/// threshold for `%`.
pub const MIN_SIMILARITY: f64 = 0.3;

/// A resolved incident like the one at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Past {
    pub number: i64,
    pub title: String,
    pub service: String,
    pub declared_at: DateTime<Utc>,
    pub resolved_at: DateTime<Utc>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
    pub channel_id: Option<String>,
    /// The Slack file id of its newest exported report (`/incident export`), if any.
    pub report_file: Option<String>,
    /// Of the same service (else found by its title).
    pub same_service: bool,
    /// Title similarity, 0 to 1 (0 without `pg_trgm`).
    pub similarity: f64,
}

impl Past {
    pub fn number(&self) -> IncidentNumber {
        IncidentNumber(self.number)
    }

    /// From declaration to resolution.
    pub fn duration(&self) -> chrono::Duration {
        self.resolved_at - self.declared_at
    }
}

/// Up to [`LIMIT`] resolved incidents like `incident` (never itself, never a private one), the
/// same service first.
pub async fn similar(db: impl PgExecutor<'_>, matching: Matching, incident: &Incident) -> sqlx::Result<Vec<Past>> {
    similar_to(db, matching, Like { id: incident.id, service: &incident.service, title: &incident.title }).await
}

/// What an incident is matched by: itself (left out), its service and its title.
#[derive(Debug, Clone, Copy)]
pub struct Like<'a> {
    pub id: Uuid,
    pub service: &'a str,
    pub title: &'a str,
}

/// [`similar`] for an incident known by its id, service and title (the catch-up card's row).
pub async fn similar_to(db: impl PgExecutor<'_>, matching: Matching, like: Like<'_>) -> sqlx::Result<Vec<Past>> {
    match matching {
        Matching::SimilarTitles => by_title(db, like).await,
        Matching::SameServiceOnly => same_service(db, like).await,
    }
}

async fn by_title(db: impl PgExecutor<'_>, incident: Like<'_>) -> sqlx::Result<Vec<Past>> {
    sqlx::query_as!(
        Past,
        r#"WITH candidates AS (
               (SELECT i.id, true AS same_service, similarity(i.title, $3)::float8 AS score, i.resolved_at
                FROM incidents i
                WHERE i.service = $2 AND i.resolved_at IS NOT NULL AND NOT i.private AND i.id <> $1
                ORDER BY i.resolved_at DESC
                LIMIT 50)
               UNION ALL
               (SELECT i.id, false, similarity(i.title, $3)::float8, i.resolved_at
                FROM incidents i
                WHERE i.title % $3 AND i.service <> $2 AND i.resolved_at IS NOT NULL AND NOT i.private AND i.id <> $1
                  -- Three of the same service fill the list: then the title search is not run.
                  AND (SELECT count(*) FROM (SELECT FROM incidents s
                                             WHERE s.service = $2 AND s.resolved_at IS NOT NULL AND NOT s.private
                                               AND s.id <> $1
                                             LIMIT 3) AS three) < 3
                ORDER BY i.title <-> $3
                LIMIT 3)
           ), best AS (
               SELECT * FROM candidates
               WHERE same_service OR score >= $4
               ORDER BY same_service DESC, score DESC, resolved_at DESC
               LIMIT 3
           )
           SELECT i.number, i.title, i.service, i.declared_at, i.resolved_at AS "resolved_at!",
                  i.root_cause, i.resolution, i.channel_id,
                  (SELECT e.payload->>'file' FROM timeline_events e
                   WHERE e.incident_id = i.id AND e.kind = 'report_exported'
                   ORDER BY e.at DESC, e.id DESC LIMIT 1) AS report_file,
                  b.same_service AS "same_service!", b.score AS "similarity!"
           FROM best b JOIN incidents i ON i.id = b.id
           ORDER BY b.same_service DESC, b.score DESC, i.resolved_at DESC"#,
        incident.id,
        incident.service,
        incident.title,
        MIN_SIMILARITY,
    )
    .fetch_all(db)
    .await
}

/// Without `pg_trgm`: the latest resolved incidents of the same service.
async fn same_service(db: impl PgExecutor<'_>, incident: Like<'_>) -> sqlx::Result<Vec<Past>> {
    sqlx::query_as!(
        Past,
        r#"SELECT i.number, i.title, i.service, i.declared_at, i.resolved_at AS "resolved_at!",
                  i.root_cause, i.resolution, i.channel_id,
                  (SELECT e.payload->>'file' FROM timeline_events e
                   WHERE e.incident_id = i.id AND e.kind = 'report_exported'
                   ORDER BY e.at DESC, e.id DESC LIMIT 1) AS report_file,
                  true AS "same_service!", 0::float8 AS "similarity!"
           FROM incidents i
           WHERE i.service = $2 AND i.resolved_at IS NOT NULL AND NOT i.private AND i.id <> $1
           ORDER BY i.resolved_at DESC
           LIMIT 3"#,
        incident.id,
        incident.service,
    )
    .fetch_all(db)
    .await
}
