//! SQL for `alert_groups` and `alert_group_alerts`: one row per alert group that declared an
//! incident, and one per alert (fingerprint) seen in it, with its firing/resolved state. Alerts
//! are written in bulk (one statement for a notification's alerts, however many).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use super::payload::{Alert, AlertStatus, Source};

/// A group's row, locked for the rest of the transaction that opened it.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: i64,
    pub incident_id: Uuid,
    /// As last notified, before this notification.
    pub status: String,
    /// This notification created the row (the group's first).
    pub inserted: bool,
}

/// The incident the group declared, if the group is known.
pub async fn incident_of(db: impl PgExecutor<'_>, source: Source, group_key: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT incident_id FROM alert_groups WHERE source = $1 AND group_key = $2",
        source.as_str(),
        group_key
    )
    .fetch_optional(db)
    .await
}

/// Records a notification of the group (creating its row with `incident_id` the first time)
/// and locks the row, so that notifications of one group are applied one after another.
pub async fn open_group(
    tx: &mut Transaction<'_, Postgres>,
    source: Source,
    group_key: &str,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Group> {
    // `status` is returned as it was: the conflict branch does not change it.
    sqlx::query_as!(
        Group,
        r#"INSERT INTO alert_groups (source, group_key, incident_id, status, first_seen_at, last_seen_at)
           VALUES ($1, $2, $3, 'firing', $4, $4)
           ON CONFLICT (source, group_key) DO UPDATE
               SET last_seen_at = EXCLUDED.last_seen_at, notifications = alert_groups.notifications + 1
           RETURNING id, incident_id, status, (xmax = 0) AS "inserted!""#,
        source.as_str(),
        group_key,
        incident_id,
        now,
    )
    .fetch_one(&mut **tx)
    .await
}

/// Sets the group's status; returns the number of its firing→resolved transitions when this
/// call changed it (`None`: it already was).
pub async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    group_id: i64,
    status: AlertStatus,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        r#"UPDATE alert_groups
           SET status = $2,
               resolutions = resolutions + CASE WHEN $2 = 'resolved' THEN 1 ELSE 0 END,
               resolved_at = CASE WHEN $2 = 'resolved' THEN $3::timestamptz ELSE NULL END
           WHERE id = $1 AND status <> $2
           RETURNING resolutions"#,
        group_id,
        status.as_str(),
        now,
    )
    .fetch_optional(&mut **tx)
    .await
}

fn rows(alerts: &[&Alert]) -> Value {
    Value::Array(
        alerts
            .iter()
            .map(|a| json!({ "fingerprint": a.fingerprint, "labels": a.labels, "starts_at": a.starts_at, "ends_at": a.ends_at }))
            .collect(),
    )
}

/// Records firing alerts; returns the fingerprints that are new to the group, or firing again
/// after they had resolved (a resend of an alert already firing returns nothing).
pub async fn record_firing(
    tx: &mut Transaction<'_, Postgres>,
    group_id: i64,
    alerts: &[&Alert],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        r#"INSERT INTO alert_group_alerts (group_id, fingerprint, status, labels, starts_at, first_seen_at)
           SELECT $1, a.fingerprint, 'firing', a.labels, a.starts_at, $2
           FROM jsonb_to_recordset($3::jsonb) AS a(fingerprint text, labels jsonb, starts_at timestamptz)
           ON CONFLICT (group_id, fingerprint) DO UPDATE
               SET status = 'firing', starts_at = EXCLUDED.starts_at, ends_at = NULL
               WHERE alert_group_alerts.status = 'resolved'
           RETURNING fingerprint"#,
        group_id,
        now,
        rows(alerts),
    )
    .fetch_all(&mut **tx)
    .await
}

/// A firing alert that was resolved: its fingerprint, labels and end.
#[derive(Debug, Clone)]
pub struct Ended {
    pub fingerprint: String,
    pub labels: Value,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Marks these alerts resolved where they were firing; returns those it changed.
pub async fn record_resolved(
    tx: &mut Transaction<'_, Postgres>,
    group_id: i64,
    alerts: &[&Alert],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Ended>> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as!(
        Ended,
        r#"UPDATE alert_group_alerts AS g SET status = 'resolved', ends_at = COALESCE(a.ends_at, $2)
           FROM jsonb_to_recordset($3::jsonb) AS a(fingerprint text, ends_at timestamptz)
           WHERE g.group_id = $1 AND g.fingerprint = a.fingerprint AND g.status = 'firing'
           RETURNING g.fingerprint, g.labels, g.ends_at"#,
        group_id,
        now,
        rows(alerts),
    )
    .fetch_all(&mut **tx)
    .await
}

/// The group resolved: every alert of it still firing here is resolved too (a resolved
/// notification may leave out alerts, e.g. when Alertmanager truncates).
pub async fn resolve_rest(
    tx: &mut Transaction<'_, Postgres>,
    group_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Ended>> {
    sqlx::query_as!(
        Ended,
        r#"UPDATE alert_group_alerts SET status = 'resolved', ends_at = $2
           WHERE group_id = $1 AND status = 'firing'
           RETURNING fingerprint, labels, ends_at"#,
        group_id,
        now,
    )
    .fetch_all(&mut **tx)
    .await
}
