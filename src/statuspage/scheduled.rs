//! The scheduled status update on the status page: in `auto` mode each slot of the cadence
//! ("We will provide updates every 5 minutes") also pushes the incident as it is then, with a
//! new "Last Updated". The push is queued in the timer's own transaction, the one that moves the
//! incident to its next slot, so a retried timer, a crash or a second replica can neither repeat
//! nor lose it; it then goes out in the incident's push order, within the shared request budget.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use super::push::{Action, Push};
use super::{mode, store};
use crate::app::AppState;
use crate::config::{FileConfig, StatuspageMode};
use crate::incident::store::Incident;
use crate::jobs::kind;
use crate::timeline::WARROOM;

/// The status update slot `due` fired at `now`: queue its push when the incident's severity is
/// pushed automatically and the incident is on the status page (manual mode waits for people's
/// updates, off shows nothing). Returns the push's number, if one was queued.
pub async fn after_scheduled(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident: &Incident,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i32>> {
    // A private incident's page hears only what a person publishes.
    if incident.is_resolved() || incident.private || mode(config, incident.severity()) != StatuspageMode::Auto {
        return Ok(None);
    }
    // "Last Updated" is when the slot fired: on time that is the slot itself; after downtime it
    // is the one catch-up, which says the hour it was made, not the hour it was planned for.
    let mut push = Push::new(Action::Update, incident, WARROOM, now);
    push.scheduled = Some(due);
    store::enqueue_push(tx, incident.id, &mut push, false, now).await
}

/// Whether a scheduled push has nothing left to say when its turn comes: the incident was
/// resolved since (its resolution is the next push), or the next slot fired while this one
/// waited out a status page outage (that slot's push carries newer news). Customers then get
/// one catch-up, not a row of stale "Last Updated" times, each notifying the page's subscribers.
pub async fn superseded(state: &AppState, incident: &Incident, push: &Push) -> sqlx::Result<bool> {
    let Some(due) = push.scheduled else { return Ok(false) };
    let later = if incident.is_resolved() {
        true
    } else {
        sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND kind = $2 AND slot > $3
                             AND state IN ('queued', 'running') AND payload->>'scheduled' IS NOT NULL)
               AS "later!""#,
            incident.id,
            kind::STATUSPAGE_PUSH,
            store::slot(push.seq),
        )
        .fetch_one(&state.db)
        .await?
    };
    if later {
        tracing::info!(
            incident.number = %incident.number(),
            "the status page push of {}'s {} UTC slot is superseded by a later one",
            incident.number(),
            due.format("%H:%M")
        );
    }
    Ok(later)
}
