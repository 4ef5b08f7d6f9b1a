//! Feedback that closes the loop (DESIGN.md "After the incident", `[feedback] ask`): on resolve,
//! each participant (a person in the incident channel, the commander included; never a bot or
//! warroom) gets one DM, through the job queue, with a button that opens a modal: a rating from
//! 1 to 5 and an optional comment. An answer is a `feedback_given` timeline event; a person may
//! answer again, and the report shows their latest answer. Only the people asked may answer, and
//! nobody is asked twice about one incident (a reopened and resolved-again incident asks only
//! those not asked before), which `feedback_asks` records.

mod answer;
mod ask;
mod react;

pub use answer::{click, submission};
pub use react::Reactor;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::app::AppState;
use crate::jobs::{queue, JobError};

/// Job kinds. The strings are stored in `jobs.kind`; never rename one.
pub mod kind {
    /// Works out who took part and queues one [`DM`] per person not asked before.
    pub const ASK: &str = "feedback.ask";
    /// The DM with the "Give feedback" button, posted once.
    pub const DM: &str = "feedback.dm";
}

/// The DM's button (its value: the incident id).
pub const ACTION_OPEN: &str = "feedback.open";
/// The modal's callback id (its private metadata: the incident id).
pub const VIEW: &str = "feedback";

/// Whether `kind` is one of this module's jobs.
pub fn owns(kind: &str) -> bool {
    [kind::ASK, kind::DM].contains(&kind)
}

pub async fn dispatch(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    match job.kind.as_str() {
        kind::ASK => ask::run(state, job).await,
        _ => ask::direct_message(state, job).await,
    }
}

/// One person's latest answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub user: String,
    pub at: DateTime<Utc>,
    pub rating: i64,
    pub comment: Option<String>,
}

/// Each person's latest answer about `incident_id`, oldest first.
pub async fn latest(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<Answer>> {
    let rows: Vec<(String, DateTime<Utc>, serde_json::Value)> = sqlx::query_as(
        "SELECT actor, at, payload FROM (
             SELECT DISTINCT ON (actor) actor, at, id, payload FROM timeline_events
             WHERE incident_id = $1 AND kind = 'feedback_given' ORDER BY actor, at DESC, id DESC
         ) latest ORDER BY at, id",
    )
    .bind(incident_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user, at, p)| Answer {
            user,
            at,
            rating: p["rating"].as_i64().unwrap_or_default(),
            comment: p["comment"].as_str().map(str::to_string),
        })
        .collect())
}

/// Whether `user` was asked about `incident_id`.
pub async fn was_asked(db: impl PgExecutor<'_>, incident_id: Uuid, user: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM feedback_asks WHERE incident_id = $1 AND user_id = $2)")
        .bind(incident_id)
        .bind(user)
        .fetch_one(db)
        .await
}
