//! Reconciliation: on start and every `[statuspage] reconcile_every`, warroom compares its
//! incidents with the status page's unresolved ones and repairs drift — an incident resolved in
//! warroom but open there is resolved; one whose status was changed there, or that was resolved
//! there while open here, gets warroom's last word back. Each repair is a numbered push (so it
//! keeps the incident's order) and is told in the incident channel.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::push::{self, Action, Push, Step};
use super::store;
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// Queues a reconciliation shortly after start (one per minute, however many replicas start):
/// late enough that a process stopped at once leaves nothing due behind.
pub async fn schedule(state: &AppState) -> sqlx::Result<()> {
    let now = state.clock.now();
    let slot = format!("start:{}", now.timestamp() / 60);
    let at = now + chrono::Duration::seconds(15);
    queue::enqueue(&state.db, None, kind::STATUSPAGE_RECONCILE, &slot, json!({}), at).await?;
    Ok(())
}

/// The next run on the `every` grid, so that every replica plans the same one.
fn next_run(now: DateTime<Utc>, every: std::time::Duration) -> DateTime<Utc> {
    let every = every.as_secs().max(60) as i64;
    let next = (now.timestamp() / every + 1) * every;
    DateTime::from_timestamp(next, 0).unwrap_or(now)
}

pub async fn run(state: &AppState, _job: &queue::Job) -> Result<(), JobError> {
    let now = state.clock.now();
    let next = next_run(now, state.settings.file.statuspage.reconcile_every.0);
    queue::enqueue(&state.db, None, kind::STATUSPAGE_RECONCILE, &format!("at:{}", next.timestamp()), json!({}), next)
        .await?;
    let remote = match push::budget(state).await {
        Ok(()) => push::unresolved(state).await,
        Err(step) => Err(step),
    };
    let remote = match remote {
        Ok(remote) => remote,
        Err(Step::Defer(at)) => return Err(JobError::Defer(at)),
        Err(Step::Failed(e)) if e.is_retryable() => {
            return Err(JobError::Retry { error: format!("status page: {e}"), after: e.retry_after() })
        }
        Err(Step::Failed(e)) => return Err(JobError::Fatal(format!("status page: {e}"))),
        Err(Step::Job(e)) => return Err(e),
    };
    let theirs: HashMap<uuid::Uuid, &super::client::RemoteIncident> =
        remote.iter().filter_map(|i| Some((i.warroom_id()?, i))).collect();
    let ids: Vec<uuid::Uuid> = theirs.keys().copied().collect();
    for mirror in store::mirrors(&state.db, &ids).await? {
        // A push on its way will set things right (or is the reason for the difference).
        if mirror.busy {
            continue;
        }
        let drift = match (theirs.get(&mirror.incident_id), mirror.resolved, &mirror.statuspage_id) {
            (Some(_), true, _) => {
                Some((Action::Resolve, "open on the status page but resolved in warroom".to_string()))
            }
            (Some(remote), false, _) if Some(&remote.status) != mirror.pushed_status.as_ref() => Some((
                Action::Repair,
                format!(
                    "the status page says `{}`, warroom last said `{}`",
                    remote.status,
                    mirror.pushed_status.as_deref().unwrap_or("nothing")
                ),
            )),
            (None, false, Some(_)) => {
                Some((Action::Repair, "resolved or removed on the status page while open in warroom".to_string()))
            }
            _ => None,
        };
        if let Some((action, drift)) = drift {
            repair(state, mirror.incident_id, action, &drift, now).await?;
        }
    }
    crate::jobs::wake(state);
    Ok(())
}

/// Records the drift, tells the channel and queues the push that repairs it.
async fn repair(
    state: &AppState,
    incident_id: uuid::Uuid,
    action: Action,
    drift: &str,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    let Some(incident) = crate::incident::store::get(&state.db, incident_id).await? else { return Ok(()) };
    let mut tx = state.db.begin().await?;
    let mut push = Push::new(action, &incident, WARROOM, now);
    if action == Action::Repair {
        // Warroom's last word: the status it last pushed, not an update nobody confirmed.
        let sync = store::get(&mut *tx, incident_id).await?;
        if let Some(status) = sync.and_then(|s| s.pushed_status) {
            push.snapshot.status = status;
        }
    }
    store::enqueue_push(&mut tx, incident_id, &mut push, false, now).await?;
    let payload = json!({ "drift": drift, "repair": action.as_str() });
    timeline::append(&mut *tx, incident_id, now, WARROOM, EventKind::StatuspageDrift, payload).await?;
    let text = format!(
        ":arrows_counterclockwise: Status page drift on {}: {drift}. warroom is setting it right.",
        incident.number()
    );
    crate::incident::lifecycle::post(&mut tx, &incident, &text, false, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_replica_plans_the_same_next_run() {
        let every = std::time::Duration::from_secs(300);
        let a = Utc.with_ymd_and_hms(2026, 11, 23, 15, 1, 10).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 11, 23, 15, 4, 59).unwrap();
        let expected = Utc.with_ymd_and_hms(2026, 11, 23, 15, 5, 0).unwrap();
        assert_eq!(next_run(a, every), expected);
        assert_eq!(next_run(b, every), expected);
    }
}
