//! SQL for the checklist tables (`migrations/0018_runbook_checklists.sql`): the incident's
//! checklist, the state of its steps, and its messages in Slack.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::model::Checklist;

/// What was done to one step (a step with none is open).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepState {
    pub step: i32,
    /// A Run or Request from the checklist: who, when, the action, its command's hash.
    pub run_by: Option<String>,
    pub run_at: Option<DateTime<Utc>>,
    pub action: Option<String>,
    pub action_hash: Option<String>,
    /// The approval request of a change, and its state (`pending`, `approved`, `denied`...).
    pub approval_id: Option<Uuid>,
    pub approval_state: Option<String>,
    /// The tick.
    pub done_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    /// `done` (the Done button) or `run` (the run finished).
    pub done_via: Option<String>,
    /// `ok` or `failed`, for a step ticked by its run.
    pub result: Option<String>,
}

/// One message of the checklist in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub posting: String,
    pub part: i32,
    pub channel_id: String,
    pub ts: String,
    pub shown: String,
}

/// Stores `checklist` as the incident's, unless it has one; returns whether this stored it.
pub async fn create(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    checklist: &Checklist,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let json = serde_json::to_value(checklist).expect("a checklist serializes");
    let added = sqlx::query!(
        "INSERT INTO incident_checklists (incident_id, checklist, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        incident_id,
        json,
        now
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// The incident's checklist, if it has one.
pub async fn get(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Option<Checklist>> {
    let json = sqlx::query_scalar!("SELECT checklist FROM incident_checklists WHERE incident_id = $1", incident_id)
        .fetch_optional(db)
        .await?;
    Ok(json.and_then(parse))
}

/// What [`lock`] found.
pub enum Locked {
    /// The checklist, locked until the transaction ends.
    Mine(Checklist),
    /// Another job holds it (it is posting or editing the messages right now).
    Busy,
    /// The incident has no checklist.
    None,
}

/// The incident's checklist, locked until `tx` ends: the jobs that post and edit its messages
/// take turns through this lock, so that an edit never overtakes a newer one. Posting a message
/// waits for it (`wait`: it is taken for one Slack call at a time, and a posting job must not
/// lose the slot the channel's limiter gave it); an edit that finds it taken does not wait (a
/// burst of ticks would otherwise hold every worker behind one slow Slack call) but comes back
/// shortly. Clicks never take it: they only read the row.
pub async fn lock(tx: &mut PgConnection, incident_id: Uuid, wait: bool) -> sqlx::Result<Locked> {
    let json = if wait {
        sqlx::query_scalar!(
            "SELECT checklist FROM incident_checklists WHERE incident_id = $1 FOR NO KEY UPDATE",
            incident_id
        )
        .fetch_optional(&mut *tx)
        .await?
    } else {
        sqlx::query_scalar!(
            "SELECT checklist FROM incident_checklists WHERE incident_id = $1 FOR NO KEY UPDATE SKIP LOCKED",
            incident_id
        )
        .fetch_optional(&mut *tx)
        .await?
    };
    match json {
        Some(json) => Ok(parse(json).map_or(Locked::None, Locked::Mine)),
        None if get(&mut *tx, incident_id).await?.is_some() => Ok(Locked::Busy),
        None => Ok(Locked::None),
    }
}

fn parse(json: serde_json::Value) -> Option<Checklist> {
    serde_json::from_value(json).map_err(|e| tracing::warn!("a stored checklist does not read back: {e}")).ok()
}

/// The state of every step somebody acted on, by step number.
pub async fn states(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<BTreeMap<u32, StepState>> {
    let rows = sqlx::query_as!(
        StepState,
        r#"SELECT s.step, s.run_by, s.run_at, s.action, s.action_hash, s.approval_id, r.state AS "approval_state?",
                  s.done_by, s.done_at, s.done_via, s.result
           FROM checklist_steps s LEFT JOIN approval_requests r ON r.id = s.approval_id
           WHERE s.incident_id = $1"#,
        incident_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.step as u32, r)).collect())
}

/// One step's state, its row locked until `tx` ends (created open if it had none): a second
/// click on the same step waits here, then finds what the first did.
pub async fn lock_step(tx: &mut PgConnection, incident_id: Uuid, step: u32) -> sqlx::Result<StepState> {
    let step = step as i32;
    sqlx::query!(
        "INSERT INTO checklist_steps (incident_id, step) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        incident_id,
        step
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query_as!(
        StepState,
        r#"SELECT s.step, s.run_by, s.run_at, s.action, s.action_hash, s.approval_id, r.state AS "approval_state?",
                  s.done_by, s.done_at, s.done_via, s.result
           FROM checklist_steps s LEFT JOIN approval_requests r ON r.id = s.approval_id
           WHERE s.incident_id = $1 AND s.step = $2
           FOR UPDATE OF s"#,
        incident_id,
        step
    )
    .fetch_one(tx)
    .await
}

/// Ticks a step by hand (a Done click).
pub async fn tick(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    step: u32,
    by: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE checklist_steps SET done_by = $3, done_at = $4, done_via = 'done'
         WHERE incident_id = $1 AND step = $2 AND done_at IS NULL",
        incident_id,
        step as i32,
        by,
        now
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// A run asked from the checklist: the step waits for it to finish.
pub struct Run<'a> {
    pub step: u32,
    pub by: &'a str,
    pub action: &'a str,
    pub hash: &'a str,
    pub approval: Option<Uuid>,
}

pub async fn set_run(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    run: &Run<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE checklist_steps SET run_by = $3, run_at = $4, action = $5, action_hash = $6, approval_id = $7
         WHERE incident_id = $1 AND step = $2",
        incident_id,
        run.step as i32,
        run.by,
        now,
        run.action,
        run.hash,
        run.approval
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A run of `hash` asked by `by` finished: ticks the step that waits for it (the one asked
/// first), if any; returns the step's number. A change's step waits until its request ran.
pub async fn finish_run(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    hash: &str,
    by: &str,
    ok: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<u32>> {
    let step = sqlx::query_scalar!(
        r#"UPDATE checklist_steps SET done_by = run_by, done_at = $4, done_via = 'run', result = $5
           WHERE (incident_id, step) = (
               SELECT s.incident_id, s.step FROM checklist_steps s
               LEFT JOIN approval_requests r ON r.id = s.approval_id
               WHERE s.incident_id = $1 AND s.action_hash = $2 AND s.run_by = $3 AND s.done_at IS NULL
                 AND (s.approval_id IS NULL OR r.state IN ('running', 'done', 'failed', 'outcome_unknown'))
               ORDER BY s.run_at, s.step
               LIMIT 1
               FOR UPDATE OF s)
           RETURNING step"#,
        incident_id,
        hash,
        by,
        now,
        if ok { "ok" } else { "failed" }
    )
    .fetch_optional(db)
    .await?;
    Ok(step.map(|s| s as u32))
}

/// Whether a step of the checklist asked for approval request `request`.
pub async fn asked_by_step(db: impl PgExecutor<'_>, incident_id: Uuid, request: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM checklist_steps WHERE incident_id = $1 AND approval_id = $2) AS "asked!""#,
        incident_id,
        request
    )
    .fetch_one(db)
    .await
}

/// The checklist's messages in Slack, in the order they were posted.
pub async fn messages(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as!(
        Message,
        "SELECT posting, part, channel_id, ts, shown FROM checklist_messages WHERE incident_id = $1
         ORDER BY posted_at, posting, part",
        incident_id
    )
    .fetch_all(db)
    .await
}

/// Whether part `part` of `posting` is in Slack already.
pub async fn posted(db: impl PgExecutor<'_>, incident_id: Uuid, posting: &str, part: i32) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM checklist_messages WHERE incident_id = $1 AND posting = $2 AND part = $3) AS "posted!""#,
        incident_id,
        posting,
        part
    )
    .fetch_one(db)
    .await
}

pub async fn add_message(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    message: &Message,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO checklist_messages (incident_id, posting, part, channel_id, ts, shown, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        incident_id,
        message.posting,
        message.part,
        message.channel_id,
        message.ts,
        message.shown,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_shown(db: impl PgExecutor<'_>, incident_id: Uuid, message: &Message, shown: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE checklist_messages SET shown = $4 WHERE incident_id = $1 AND posting = $2 AND part = $3",
        incident_id,
        message.posting,
        message.part,
        shown
    )
    .execute(db)
    .await?;
    Ok(())
}
