//! Two-person approvals for changes. A request is bound to the SHA-256 of the exact action and
//! argument vector; it runs only when enough people other than the requester, each a configured
//! approver, approve it before it expires. Every request and decision is a timeline event; a
//! second click, an expired or decided request, or one's own request changes nothing.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::ApprovalsConfig;
use crate::jobs::{kind, queue};
use crate::timeline::{self, EventKind};

/// `action_id`s of the approval message's buttons; their value is `<request id>:<hash>`.
pub const ACTION_APPROVE: &str = "approval.approve";
pub const ACTION_DENY: &str = "approval.deny";

/// A request's columns, in [`Request`]'s order.
macro_rules! columns {
    () => {
        "id, incident_id, action, params, argv, action_hash, requested_by, reason, required, state, requested_at, \
         expires_at, channel_id, message_ts, started_at, finished_at, outcome, cancel_reason"
    };
}
pub(crate) use columns;

pub(crate) const SELECT_REQUEST: &str = concat!("SELECT ", columns!(), " FROM approval_requests");

/// One approval request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub action: String,
    pub params: Value,
    pub argv: Value,
    pub action_hash: String,
    pub requested_by: String,
    pub reason: Option<String>,
    pub required: i32,
    pub state: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub channel_id: Option<String>,
    pub message_ts: Option<String>,
    /// When the change was used up: it started here, or its runner took it.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended, in one line ("exit 0 in 812 ms").
    pub outcome: Option<String>,
    /// Why it was cancelled before it started (`resolved`, `expired`).
    pub cancel_reason: Option<String>,
}

/// The hash an approval is bound to.
pub fn action_hash(action: &str, argv: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(action.as_bytes());
    for word in argv {
        hasher.update([0u8]);
        hasher.update(word.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A change someone asks for.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub incident_id: Uuid,
    pub requested_by: &'a str,
    pub action: &'a str,
    pub params: Value,
    pub argv: Vec<String>,
    /// Why, in the requester's words.
    pub reason: Option<String>,
    /// Approvals needed (the action's own policy, else `[approvals] required`).
    pub required: u32,
}

/// Records a change request, queues its approval message and its expiry timer.
pub async fn request(
    db: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    config: &ApprovalsConfig,
    now: DateTime<Utc>,
    new: NewRequest<'_>,
) -> sqlx::Result<Request> {
    let NewRequest { incident_id, requested_by, action, params, argv, reason, required } = new;
    let (params, argv) = (&params, &argv[..]);
    let id = Uuid::new_v4();
    let expires_at = crate::clock::whole_seconds(now + config.expires_after.as_chrono());
    let hash = action_hash(action, argv);
    let mut tx = db.begin().await?;
    let request: Request = sqlx::query_as(concat!(
        r#"INSERT INTO approval_requests (id, incident_id, action, params, argv, action_hash, requested_by, required,
                                          requested_at, expires_at, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           RETURNING "#,
        columns!()
    ))
    .bind(id)
    .bind(incident_id)
    .bind(action)
    .bind(params)
    .bind(json!(argv))
    .bind(&hash)
    .bind(requested_by)
    .bind(required.max(1) as i32)
    .bind(now)
    .bind(expires_at)
    .bind(&reason)
    .fetch_one(&mut *tx)
    .await?;
    let payload = json!({ "request": id, "action": action, "argv": argv, "hash": hash, "required": required,
                          "reason": reason, "expires_at": expires_at });
    timeline::append(&mut *tx, incident_id, now, requested_by, EventKind::ApprovalRequested, payload).await?;
    let slot = id.to_string();
    queue::enqueue(&mut *tx, Some(incident_id), kind::APPROVAL_MESSAGE, &slot, json!({ "request": id }), now).await?;
    queue::enqueue(&mut *tx, Some(incident_id), kind::APPROVAL_EXPIRE, &slot, json!({ "request": id }), expires_at)
        .await?;
    if !config.approver_groups.is_empty() {
        queue_group_refresh(&mut *tx, &format!("request:{id}"), now).await?;
    }
    tx.commit().await?;
    Ok(request)
}

pub async fn get(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Request>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1"))).bind(id).fetch_optional(db).await
}

pub async fn set_message(db: impl sqlx::PgExecutor<'_>, id: Uuid, channel: &str, ts: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE approval_requests SET channel_id = $2, message_ts = $3 WHERE id = $1")
        .bind(id)
        .bind(channel)
        .bind(ts)
        .execute(db)
        .await?;
    Ok(())
}

/// What a click did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Counted; `approvals` of `required` so far.
    Counted {
        approvals: i64,
        required: i32,
    },
    /// Enough approvals: the change is queued to run.
    Approved,
    Denied,
    /// It had expired unnoticed: this click expired it, and nothing runs.
    Expired,
    /// Nothing changed, for this reason (told to the clicker).
    Refused(String),
}

/// A click on Approve (`approve`) or Deny, with the hash the button carried.
pub async fn decide(
    db: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    config: &ApprovalsConfig,
    now: DateTime<Utc>,
    id: Uuid,
    clicked_hash: &str,
    user: &str,
    approve: bool,
) -> sqlx::Result<Decision> {
    let mut tx = db.begin().await?;
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(request) = request else { return Ok(Decision::Refused("That request does not exist.".into())) };
    let refuse = |why: String| Ok(Decision::Refused(why));
    if request.state != "pending" {
        return refuse(format!("This request is already {}; nothing changed.", super::change::words(&request.state)));
    }
    let resolved: bool = sqlx::query_scalar("SELECT resolved_at IS NOT NULL FROM incidents WHERE id = $1")
        .bind(request.incident_id)
        .fetch_one(&mut *tx)
        .await?;
    if resolved {
        // Before the resolution's job got to it: cancelled now, as that job would have.
        super::change::cancel_in(&mut tx, &request, "resolved", now).await?;
        tx.commit().await?;
        return refuse("The incident is resolved: this request is cancelled, and nothing runs.".into());
    }
    if now >= request.expires_at {
        expire_in(&mut tx, &request, now).await?;
        tx.commit().await?;
        return Ok(Decision::Expired);
    }
    if clicked_hash != request.action_hash {
        return refuse("This button does not match the request's exact command; nothing changed.".into());
    }
    if user == request.requested_by {
        return refuse("You cannot approve or deny your own request: another person must.".into());
    }
    if !is_approver(&mut tx, config, user).await? {
        return refuse("You are not one of the configured approvers (`[approvals] approvers`).".into());
    }
    let voted = sqlx::query(
        "INSERT INTO approval_votes (request_id, user_id, decision, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(user)
    .bind(if approve { "approve" } else { "deny" })
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if voted == 0 {
        return refuse("You already decided on this request; nothing changed.".into());
    }
    let slot = request.id.to_string();
    let decision = if approve {
        let approvals: i64 =
            sqlx::query_scalar("SELECT count(*) FROM approval_votes WHERE request_id = $1 AND decision = 'approve'")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let payload = json!({ "request": id, "action": request.action, "hash": request.action_hash,
                              "approvals": approvals, "required": request.required });
        timeline::append(&mut *tx, request.incident_id, now, user, EventKind::ApprovalGranted, payload).await?;
        if approvals >= i64::from(request.required) {
            set_state(&mut tx, id, "approved", now).await?;
            let job = json!({ "action": request.action, "params": request.params, "by": request.requested_by,
                              "approval": id, "hash": request.action_hash });
            // Keyed by the request: however many clicks, it runs once.
            queue::enqueue(&mut *tx, Some(request.incident_id), kind::RUN_DIAGNOSTIC, &slot, job, now).await?;
            Decision::Approved
        } else {
            Decision::Counted { approvals, required: request.required }
        }
    } else {
        set_state(&mut tx, id, "denied", now).await?;
        let payload = json!({ "request": id, "action": request.action });
        timeline::append(&mut *tx, request.incident_id, now, user, EventKind::ApprovalDenied, payload).await?;
        Decision::Denied
    };
    let refresh = format!("{slot}:{}", now.timestamp_micros());
    queue::enqueue(
        &mut *tx,
        Some(request.incident_id),
        kind::APPROVAL_MESSAGE,
        &refresh,
        json!({ "request": id }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(decision)
}

/// A configured approver by id, or a member of a configured user group as last read from Slack.
async fn is_approver(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    config: &ApprovalsConfig,
    user: &str,
) -> sqlx::Result<bool> {
    if config.approvers.iter().any(|a| a == user) {
        return Ok(true);
    }
    if config.approver_groups.is_empty() {
        return Ok(false);
    }
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM usergroup_members WHERE handle = ANY($1) AND user_id = $2)")
        .bind(&config.approver_groups)
        .bind(user)
        .fetch_one(&mut **tx)
        .await
}

/// Queues a refresh of the approver groups' members (a request is coming: read them fresh).
pub async fn queue_group_refresh(db: impl sqlx::PgExecutor<'_>, slot: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
    queue::enqueue(db, None, kind::REFRESH_USERGROUPS, slot, json!({}), at).await?;
    Ok(())
}

/// How often the user groups the configuration names are read again from Slack, so that a
/// person added to (or removed from) `@sre-oncall` holds (or loses) its permissions soon after.
const GROUP_REFRESH_EVERY: i64 = 10 * 60;

/// The [`kind::REFRESH_USERGROUPS`] job: reads the members of every user group the
/// configuration names (approvers, responders, permissions). The periodic read (queued at
/// start, slot `start:`/`every:`) plans the next; a read a request asked for does not.
pub async fn refresh_groups(state: &crate::app::AppState, job: &queue::Job) -> Result<(), crate::jobs::JobError> {
    let now = state.clock.now();
    let groups = state.settings.file.referenced_groups();
    if groups.is_empty() {
        return Ok(());
    }
    for handle in groups {
        let members = match state.slack.usergroup(&handle).await? {
            Some((_, members)) => members,
            None => {
                // A group the workspace lacks holds nobody; the others are still read.
                tracing::warn!(usergroup = %handle, "the configuration names @{handle}, but Slack has no such user group");
                Vec::new()
            }
        };
        let mut tx = state.db.begin().await?;
        sqlx::query("DELETE FROM usergroup_members WHERE handle = $1").bind(&handle).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO usergroup_members (handle, user_id, refreshed_at) SELECT $1, unnest($2::text[]), $3 \
             ON CONFLICT DO NOTHING",
        )
        .bind(&handle)
        .bind(&members)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    if !(job.slot.starts_with("start:") || job.slot.starts_with("every:")) {
        return Ok(());
    }
    // One planned read per period, however many replicas start.
    let next = (now.timestamp() / GROUP_REFRESH_EVERY + 1) * GROUP_REFRESH_EVERY;
    let at = DateTime::from_timestamp(next, 0).unwrap_or(now);
    queue_group_refresh(&state.db, &format!("every:{next}"), at).await?;
    Ok(())
}

/// The expiry timer: a request still pending at its expiry is expired; returns whether it was.
pub async fn expire(db: &PgPool, now: DateTime<Utc>, id: Uuid) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let request: Option<Request> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_REQUEST} WHERE id = $1 AND state = 'pending' FOR UPDATE")))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(request) = request.filter(|r| now >= r.expires_at) else { return Ok(false) };
    expire_in(&mut tx, &request, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn expire_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    request: &Request,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    set_state(tx, request.id, "expired", now).await?;
    let payload = json!({ "request": request.id, "action": request.action });
    timeline::append(&mut **tx, request.incident_id, now, timeline::WARROOM, EventKind::ApprovalExpired, payload)
        .await?;
    let slot = format!("{}:expired", request.id);
    let refresh = json!({ "request": request.id });
    queue::enqueue(&mut **tx, Some(request.incident_id), kind::APPROVAL_MESSAGE, &slot, refresh, now).await?;
    Ok(())
}

async fn set_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    state: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE approval_requests SET state = $2, decided_at = $3 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The approve/deny votes so far: (user, decision).
pub async fn votes(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT user_id, decision FROM approval_votes WHERE request_id = $1 ORDER BY at")
        .bind(id)
        .fetch_all(db)
        .await
}
