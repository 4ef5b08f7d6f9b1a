//! An incident's follow-ups (`/incident followup`, its `followup_added` events) with their
//! tracker state where the service has a tracker (`followup_issues`, migration 0024): what the
//! report prints and what the catch-up card may show. A follow-up's id is its event's id.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Seed 002's horizons: Immediate < 2 hours, Short-term < 24 hours, Long-term < 1 week.
pub fn horizon_span(horizon: &str) -> Duration {
    match horizon {
        "immediate" => Duration::hours(2),
        "long" => Duration::days(7),
        _ => Duration::hours(24),
    }
}

/// "immediate", "short-term", "long-term".
pub fn horizon_label(horizon: &str) -> &'static str {
    match horizon {
        "immediate" => "immediate",
        "long" => "long-term",
        _ => "short-term",
    }
}

/// One follow-up.
#[derive(Debug, Clone)]
pub struct Followup {
    /// Its `followup_added` event's id (the tracker marker's `<id>`).
    pub id: i64,
    pub added_at: DateTime<Utc>,
    pub added_by: String,
    pub text: String,
    /// Slack user id.
    pub owner: Option<String>,
    /// `immediate`, `short` or `long`.
    pub horizon: String,
    pub due_at: DateTime<Utc>,
    /// Its issue, when the service has a tracker.
    pub issue: Option<TrackedIssue>,
}

/// A follow-up's issue in the tracker, as last read.
#[derive(Debug, Clone)]
pub struct TrackedIssue {
    /// `github:acme/api`, `jira:OPS`, `linear:ENG`.
    pub tracker: String,
    /// `acme/api#12`, `OPS-7`, `ENG-3`; `None` while it is being created (or was refused).
    pub key: Option<String>,
    pub url: Option<String>,
    /// The tracker's own word (`open`, `closed`, `In Progress`, `Done` ...).
    pub state: Option<String>,
    /// Closed, done, completed or cancelled there: the follow-up is done.
    pub closed: bool,
    /// The tracker refused to create it: its message.
    pub refused: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
}

impl Followup {
    /// Done when its issue is closed.
    pub fn done(&self) -> bool {
        self.issue.as_ref().is_some_and(|i| i.closed)
    }

    /// Past its horizon and not done.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        !self.done() && now >= self.due_at
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    payload: serde_json::Value,
    tracker: Option<String>,
    issue_key: Option<String>,
    issue_url: Option<String>,
    issue_state: Option<String>,
    closed: Option<bool>,
    refused: Option<String>,
    synced_at: Option<DateTime<Utc>>,
}

/// The incident's follow-ups in the order they were added, each with its issue.
pub async fn list(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<Followup>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.payload, f.tracker, f.issue_key, f.issue_url, f.issue_state, f.closed,
                f.refused, f.synced_at
         FROM timeline_events e LEFT JOIN followup_issues f ON f.followup_id = e.id
         WHERE e.incident_id = $1 AND e.kind = 'followup_added'
         ORDER BY e.at, e.id",
    )
    .bind(incident_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// One follow-up by id.
pub async fn get(db: impl PgExecutor<'_>, followup_id: i64) -> sqlx::Result<Option<Followup>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.payload, f.tracker, f.issue_key, f.issue_url, f.issue_state, f.closed,
                f.refused, f.synced_at
         FROM timeline_events e LEFT JOIN followup_issues f ON f.followup_id = e.id
         WHERE e.id = $1 AND e.kind = 'followup_added'",
    )
    .bind(followup_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(from_row))
}

fn from_row(row: Row) -> Followup {
    let p = &row.payload;
    let horizon = p["horizon"].as_str().unwrap_or("short").to_string();
    let issue = row.tracker.map(|tracker| TrackedIssue {
        tracker,
        key: row.issue_key,
        url: row.issue_url,
        state: row.issue_state,
        closed: row.closed.unwrap_or(false),
        refused: row.refused,
        synced_at: row.synced_at,
    });
    Followup {
        id: row.id,
        added_at: row.at,
        added_by: row.actor,
        text: p["text"].as_str().unwrap_or_default().to_string(),
        owner: p["owner"].as_str().map(str::to_string),
        due_at: row.at + horizon_span(&horizon),
        horizon,
        issue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_follow_seed_002() {
        assert_eq!(horizon_span("immediate"), Duration::hours(2));
        assert_eq!(horizon_span("short"), Duration::hours(24));
        assert_eq!(horizon_span("long"), Duration::days(7));
        assert_eq!(horizon_label("long"), "long-term");
    }
}
