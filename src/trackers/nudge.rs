//! [`super::kind::NUDGE`]: an overdue open follow-up nudges its owner once per horizon — by DM
//! when it falls due, then in the incident channel one horizon later (an item nobody owns goes
//! to the channel at once). Each nudge is a timer keyed by the follow-up and its number, counted
//! in `followup_issues.nudges` before its message is queued, so a retry or a second replica
//! sends none twice. The issue's state is read fresh first: a closed issue nudges nobody.

use serde_json::json;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::store;
use crate::app::AppState;
use crate::config::Tracker;
use crate::jobs::{kind as jobs_kind, queue, JobError};
use crate::timeline::followups::{self, Followup};
use crate::timeline::{self, EventKind, WARROOM};

/// How many nudges an item gets: the DM, then the channel.
const NUDGES: i32 = 2;

/// Plans nudge `n` of `followup`: at its due time, then one horizon later.
pub(super) async fn plan(db: impl PgExecutor<'_>, followup: &Followup, incident_id: Uuid, n: i32) -> sqlx::Result<()> {
    if n > NUDGES {
        return Ok(());
    }
    let at = followup.due_at + followups::horizon_span(&followup.horizon) * (n - 1);
    let payload = json!({ "followup": followup.id, "nudge": n });
    let slot = format!("{}:{n}", followup.id);
    queue::enqueue(db, Some(incident_id), super::kind::NUDGE, &slot, payload, crate::clock::whole_seconds(at)).await?;
    Ok(())
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["followup"].as_i64().ok_or_else(|| JobError::Fatal("no follow-up in the job".into()))?;
    let n = job.payload["nudge"].as_i64().unwrap_or(1) as i32;
    let Some(row) = store::load(&state.db, id).await? else { return Ok(()) };
    if row.closed || row.nudges >= n {
        return Ok(());
    }
    let tracker = Tracker::parse(&row.tracker).map_err(JobError::Fatal)?;
    let now = state.clock.now();
    if let Some(key) = &row.issue_key {
        // The state as it is now when the tracker answers; as last read when it does not.
        match state.trackers.get(&tracker, key).await {
            Ok(issue) => {
                let mut tx = state.db.begin().await?;
                super::sync::record(&mut tx, id, row.incident_id, &tracker, &issue, now).await?;
                tx.commit().await?;
                if issue.closed {
                    return Ok(());
                }
            }
            Err(e) => tracing::info!("nudging follow-up {id} on its last known state: {e}"),
        }
    }
    let followup =
        followups::get(&state.db, id).await?.ok_or_else(|| JobError::Fatal(format!("follow-up {id} is gone")))?;
    let incident = crate::jobs::load_incident(state, job).await?;
    let issue = followup.issue.clone().unwrap_or_else(|| unreachable_issue(&row.tracker));
    let dm = n == 1 && followup.owner.is_some();
    let data = json!({
        "dm": dm, "owner": followup.owner, "horizon": followups::horizon_label(&followup.horizon),
        "number": incident.number().to_string(), "due": followup.due_at.format("%Y-%m-%d %H:%M").to_string(),
        "text": crate::timeline::describe::plain(&followup.text), "key": issue.key, "url": issue.url,
        "tracker": super::describe(&tracker), "state": issue.state.unwrap_or_else(|| "open".into()),
    });
    let text = state.templates.render("followup_nudge", &data)?;
    let mut tx = state.db.begin().await?;
    if !store::record_nudge(&mut *tx, id, n, now).await? {
        return Ok(());
    }
    let slot = format!("nudge:{id}:{n}");
    match (&followup.owner, dm) {
        (Some(owner), true) => {
            let payload = json!({ "user": owner, "text": text });
            queue::enqueue(&mut *tx, Some(incident.id), super::kind::DM, &slot, payload, now).await?;
        }
        _ => {
            let payload = json!({ "text": text, "to": "channel", "what": "followup_nudge" });
            queue::enqueue(&mut *tx, Some(incident.id), jobs_kind::POST, &slot, payload, now).await?;
        }
    }
    let payload =
        json!({ "followup": id, "to": if dm { "dm" } else { "channel" }, "owner": followup.owner, "nudge": n });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::FollowupNudged, payload).await?;
    if followup.owner.is_some() {
        plan(&mut *tx, &followup, incident.id, n + 1).await?;
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// A follow-up row always has its issue in the read model; this is its shape when it is not.
fn unreachable_issue(tracker: &str) -> followups::TrackedIssue {
    followups::TrackedIssue {
        tracker: tracker.to_string(),
        key: None,
        url: None,
        state: None,
        closed: false,
        refused: None,
        synced_at: None,
    }
}

/// [`super::kind::DM`]: the nudge in a direct message to its owner, exactly once.
pub async fn direct_message(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let user = job.payload["user"].as_str().ok_or_else(|| JobError::Fatal("a DM job without a user".into()))?;
    let text = job.payload["text"].as_str().unwrap_or_default();
    let channel = state.slack.open_dm(user).await?;
    let blocks = crate::slack::limits::sections(text);
    let fallback = crate::slack::limits::label(text, 150);
    crate::jobs::post_once::post(state, job, &channel, &fallback, &blocks).await?;
    Ok(())
}
