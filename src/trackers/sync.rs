//! [`super::kind::SYNC`]: a follow-up's issue read back every `[trackers] sync_every`, a
//! durable timer keyed by the follow-up and its due second, so a retry or a second replica
//! neither repeats nor skips one. Each firing plans the next — after the tracker's rate-limit
//! reset when it said to wait longer — until the issue is closed (the item is then done; an
//! issue reopened later is not followed). A failed read is recorded and waits for the next.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{store, TrackerError};
use crate::app::AppState;
use crate::config::Tracker;
use crate::jobs::{queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// Plans the read after `now`, one `sync_every` later (or at `not_before`).
pub(super) async fn plan_first(
    tx: &mut Transaction<'_, Postgres>,
    state: &AppState,
    followup_id: i64,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    plan(&mut **tx, state, followup_id, incident_id, now, None).await
}

async fn plan(
    db: impl sqlx::PgExecutor<'_>,
    state: &AppState,
    followup_id: i64,
    incident_id: Uuid,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    let every = state.settings.file.trackers.sync_every.as_chrono();
    let at = crate::clock::whole_seconds((now + every).max(not_before.unwrap_or(now)));
    let slot = format!("{followup_id}:{}", at.timestamp());
    queue::enqueue(db, Some(incident_id), super::kind::SYNC, &slot, json!({ "followup": followup_id }), at).await?;
    Ok(())
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["followup"].as_i64().ok_or_else(|| JobError::Fatal("no follow-up in the job".into()))?;
    let Some(row) = store::load(&state.db, id).await? else { return Ok(()) };
    let Some(key) = row.issue_key.clone().filter(|_| !row.closed) else { return Ok(()) };
    let tracker = Tracker::parse(&row.tracker).map_err(JobError::Fatal)?;
    let now = state.clock.now();
    let read = state.trackers.get(&tracker, &key).await;
    let mut tx = state.db.begin().await?;
    match read {
        Ok(issue) => {
            record(&mut tx, id, row.incident_id, &tracker, &issue, now).await?;
            if !issue.closed {
                plan(&mut *tx, state, id, row.incident_id, now, None).await?;
            }
        }
        Err(e) => {
            tracing::info!("reading {key} back from {} failed: {e}", tracker.label());
            store::record_sync_error(&mut *tx, id, &e.to_string()).await?;
            let wait = match &e {
                TrackerError::Throttled { after, .. } => chrono::Duration::from_std(*after).ok().map(|a| now + a),
                _ => None,
            };
            plan(&mut *tx, state, id, row.incident_id, now, wait).await?;
        }
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// Records the state read; a change (closed, reopened, moved along) is a timeline event.
pub(super) async fn record(
    tx: &mut Transaction<'_, Postgres>,
    followup_id: i64,
    incident_id: Uuid,
    tracker: &Tracker,
    issue: &super::Issue,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if store::record_state(&mut **tx, followup_id, issue, now).await? {
        let payload = json!({ "followup": followup_id, "tracker_label": tracker.label(), "key": issue.key,
                              "state": issue.state, "closed": issue.closed });
        timeline::append(&mut **tx, incident_id, now, WARROOM, EventKind::FollowupState, payload).await?;
    }
    Ok(())
}
