//! Claims due jobs, runs them, and records the outcome: done, retried with backoff (or after
//! Slack's `Retry-After`), or failed for good — which lands in the timeline and is told to the
//! person who declared.

use std::time::Duration;

use serde_json::json;
use tracing::{info_span, warn, Instrument};

use super::{declare_steps, kind, posts, queue, respond, status_update, JobError};
use crate::app::AppState;
use crate::timeline::{self, EventKind, WARROOM};

/// Runs every job that is due now; returns how many ran.
pub async fn run_due(state: &AppState) -> sqlx::Result<usize> {
    run_due_until(state, &|| false).await
}

/// Runs due jobs one claim at a time until none is due or `stopped` says so: a worker told to
/// stop finishes the job it holds and claims no other, leaving the rest queued for another
/// replica (or this one's restart).
async fn run_due_until(state: &AppState, stopped: &(dyn Fn() -> bool + Sync)) -> sqlx::Result<usize> {
    let mut ran = 0;
    while !stopped() {
        let Some(job) = queue::claim(&state.db, state.clock.now()).await? else { break };
        let span = info_span!("job", job.id = job.id, job.kind = %job.kind, job.attempt = job.attempts);
        run_one(state, job).instrument(span).await?;
        ran += 1;
    }
    Ok(ran)
}

/// The longest a worker sleeps without looking at the queue (work queued by a replica whose
/// NOTIFY was lost is picked up within this).
const MAX_IDLE: Duration = Duration::from_secs(30);
const MIN_IDLE: Duration = Duration::from_millis(10);

/// A worker: runs due jobs, then sleeps until the next job is due, a wake-up, or `MAX_IDLE`.
/// On `stop` it finishes the job in hand and returns (graceful shutdown).
pub async fn work(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let stop_flag = stop.clone();
    let stopped = move || *stop_flag.borrow();
    loop {
        let ran = run_due_until(&state, &stopped).await;
        if stopped() {
            return;
        }
        let idle = match ran {
            Ok(_) => match queue::next_due(&state.db).await {
                // At least a moment: a due job another transaction holds is not worth spinning on.
                Ok(Some(at)) => (at - state.clock.now()).to_std().unwrap_or(Duration::ZERO).clamp(MIN_IDLE, MAX_IDLE),
                Ok(None) => MAX_IDLE,
                Err(e) => {
                    warn!("job queue unavailable: {e}");
                    Duration::from_secs(1)
                }
            },
            Err(e) => {
                warn!("job queue unavailable: {e}");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = state.jobs_ready.notified() => {}
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn run_one(state: &AppState, job: queue::Job) -> sqlx::Result<()> {
    let now = || state.clock.now();
    let count = |outcome| state.metrics.job(&job.kind, outcome);
    let later = |wait: Duration| now() + chrono::Duration::from_std(wait).unwrap_or_default();
    match dispatch(state, &job).await {
        Ok(()) => {
            count("done");
            queue::complete(&state.db, job.id, now()).await
        }
        Err(JobError::Defer(at)) => {
            count("deferred");
            queue::retry(&state.db, job.id, at, queue::DEFERRED, false).await
        }
        // Throttling is Slack saying "later", not a failure: the attempt is given back.
        Err(JobError::Throttled { error, after }) => {
            count("throttled");
            queue::retry(&state.db, job.id, later(after), &error, false).await
        }
        Err(JobError::ChannelPending) if channel_in_the_making(state, &job).await? => {
            count("deferred");
            let error = JobError::ChannelPending.to_string();
            queue::retry(&state.db, job.id, later(CHANNEL_WAIT), &error, false).await
        }
        // The channel will never exist: its creation failed for good, and the declarer and the
        // announcement channel were told then. Every step waiting for it (a status update each
        // interval, while the timer goes on) ends quietly instead of telling them again.
        Err(JobError::ChannelPending) if channel_failed(state, &job).await? => {
            count("failed");
            queue::fail(&state.db, job.id, now(), "the incident channel could not be created").await
        }
        Err(JobError::ChannelPending) if job.attempts < job.max_attempts => {
            count("retried");
            let error = JobError::ChannelPending.to_string();
            queue::retry(&state.db, job.id, later(CHANNEL_WAIT), &error, true).await
        }
        Err(JobError::ChannelPending) => {
            count("failed");
            give_up(state, &job, &JobError::ChannelPending.to_string()).await
        }
        Err(JobError::Transient(error)) => {
            count("retried");
            let wait = backoff(job.attempts);
            warn!(job.error = %error, "job {} ({}) attempt {} failed, retrying in {}s: {error}", job.id, job.kind, job.attempts, wait.as_secs());
            queue::retry(&state.db, job.id, later(wait), &error, true).await
        }
        Err(JobError::Retry { error, after }) if job.attempts < job.max_attempts => {
            count("retried");
            let wait = after.unwrap_or_else(|| backoff(job.attempts));
            warn!(job.error = %error, "job {} ({}) attempt {} failed, retrying in {}s: {error}", job.id, job.kind, job.attempts, wait.as_secs());
            queue::retry(&state.db, job.id, later(wait), &error, true).await
        }
        // A post into a reopened incident's channel that is being unarchived waits for it; once
        // no unarchive is on its way, `is_archived` is final (below).
        Err(JobError::Fatal(error))
            if error.ends_with(": is_archived") && crate::archive::unarchiving(&state.db, job.incident_id).await? =>
        {
            count("deferred");
            queue::retry(&state.db, job.id, later(CHANNEL_WAIT), &error, false).await
        }
        Err(JobError::Reported(error)) => {
            count("failed");
            queue::fail(&state.db, job.id, now(), &error).await
        }
        Err(JobError::Retry { error, .. } | JobError::Fatal(error)) => {
            count("failed");
            warn!(job.error = %error, "job {} ({}) failed for good: {error}", job.id, job.kind);
            give_up(state, &job, &error).await
        }
    }
}

async fn dispatch(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    match job.kind.as_str() {
        kind::CREATE_CHANNEL => declare_steps::create_channel(state, job).await,
        kind::INVITE => declare_steps::invite(state, job).await,
        kind::SET_TOPIC => declare_steps::set_topic(state, job).await,
        kind::POST_DECLARATION => declare_steps::post_declaration(state, job).await,
        kind::PIN_DECLARATION => declare_steps::pin_declaration(state, job).await,
        kind::ANNOUNCE => declare_steps::announce(state, job).await,
        kind::REFRESH_DECLARATION => declare_steps::refresh_declaration(state, job).await,
        kind::OPEN_MODAL => respond::open_modal(state, job).await,
        kind::RESPOND => respond::respond(state, job).await,
        kind::STATUS_UPDATE => status_update::run(state, job).await,
        kind::POST_STATUS_UPDATE => status_update::post(state, job).await,
        kind::POST => posts::post(state, job).await,
        kind::POST_UPDATE => posts::post_update(state, job).await,
        kind::POST_RESOLUTION => posts::post_resolution(state, job).await,
        kind::UPLOAD => posts::upload(state, job).await,
        kind::REFRESH_USERGROUPS => crate::diagnostics::approvals::refresh_groups(state, job).await,
        kind::REFRESH_MEMBERS => crate::slack::membership::refresh(state, job).await,
        kind::PURGE_JOBS => super::purge::run(state).await,
        kind::RUN_DIAGNOSTIC => crate::diagnostics::run_job::run(state, job).await,
        kind::RUNNER_TASK_EXPIRE => crate::diagnostics::runner_cancel::expire(state, job).await,
        kind::RUNNER_TASK_WATCH => crate::diagnostics::runner_results::watch(state, job).await,
        kind::CHANGE_WATCH => crate::diagnostics::change::watch(state, job).await,
        kind::APPROVAL_MESSAGE => crate::diagnostics::approval_message::run(state, job).await,
        kind::APPROVAL_EXPIRE => crate::diagnostics::approval_message::expire(state, job).await,
        kind::STATUSPAGE_PUSH => crate::statuspage::push::run(state, job).await,
        kind::STATUSPAGE_PREVIEW => crate::statuspage::manual::preview(state, job).await,
        kind::STATUSPAGE_RECONCILE => crate::statuspage::reconcile::run(state, job).await,
        kind::ESCALATION_TIER => crate::escalation::fire::tier(state, job).await,
        kind::ESCALATION_ACK_CHECK => crate::escalation::fire::ack_check(state, job).await,
        kind::ESCALATION_NOTIFY => crate::escalation::notify::run(state, job).await,
        kind::ESCALATION_DM => crate::escalation::notify::direct_message(state, job).await,
        kind::ESCALATION_PAGE => crate::escalation::pagerduty::run(state, job).await,
        kind::EXPORT => super::export::run(state, job).await,
        kind::CAPTURE => crate::slack::capture::run(state, job).await,
        kind::ALERT_RESOLVED_PROMPT => crate::alerts::prompt::run(state, job).await,
        kind::CHECKLIST_POST => crate::checklist::post::post(state, job).await,
        kind::CHECKLIST_REFRESH => crate::checklist::post::refresh(state, job).await,
        kind::CHECKLIST_WINDOW => crate::checklist::remind::run(state, job).await,
        kind::ONCALL_ASSIGN => crate::oncall::assign::run(state, job).await,
        kind::ONCALL_SHIFT_END => crate::oncall::handoff::shift_end(state, job).await,
        kind::ONCALL_OFFER => crate::oncall::handoff::post_offer(state, job).await,
        kind::ONCALL_OFFER_TAKEN => crate::oncall::handoff::offer_taken(state, job).await,
        kind::ROLES_REMIND => crate::roles::remind::run(state, job).await,
        kind::ROLES_INVITE => crate::roles::assign::invite(state, job).await,
        kind::BOOKMARKS => crate::bookmarks::run::run(state, job).await,
        kind::ARCHIVE_WARN => crate::archive::run::warn(state, job).await,
        kind::ARCHIVE => crate::archive::run::archive(state, job).await,
        kind::UNARCHIVE => crate::archive::run::unarchive(state, job).await,
        kind::SEEN_BEFORE => crate::seen_before::post::run(state, job).await,
        k if crate::trackers::owns(k) => crate::trackers::dispatch(state, job).await,
        kind::CATCHUP_CARD => crate::catchup::send::run(state, job).await,
        k if crate::feedback::owns(k) => crate::feedback::dispatch(state, job).await,
        kind::CANVAS => super::canvas::run(state, job).await,
        other => Err(JobError::Fatal(format!("unknown job kind `{other}`"))),
    }
}

/// How soon a job waiting for its incident channel looks again.
const CHANNEL_WAIT: Duration = Duration::from_secs(5);

/// Whether the job's incident channel is still being created (its step queued or running).
async fn channel_in_the_making(state: &AppState, job: &queue::Job) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND kind = $2 AND state IN ('queued', 'running'))",
    )
    .bind(job.incident_id)
    .bind(kind::CREATE_CHANNEL)
    .fetch_one(&state.db)
    .await
}

/// Whether the job's incident channel failed for good to be created.
async fn channel_failed(state: &AppState, job: &queue::Job) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND kind = $2 AND state = 'failed')")
        .bind(job.incident_id)
        .bind(kind::CREATE_CHANNEL)
        .fetch_one(&state.db)
        .await
}

/// Exponential backoff: 2s, 4s, 8s ... capped at one minute, so that work that keeps retrying
/// (Slack's outages are waited out, never given up on) lands soon after the outage ends.
pub fn backoff(attempt: i32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.clamp(1, 16) as u32).min(60))
}

/// Whether the job failed because of the incident channel itself (it is gone, archived, or
/// warroom is not in it and could not join), so that a notice there would fail the same way.
fn channel_unusable(job: &queue::Job, error: &str) -> bool {
    let to_channel = match job.kind.as_str() {
        kind::POST => job.payload["to"].as_str().unwrap_or("channel") == "channel",
        kind::CREATE_CHANNEL => return true,
        _ => true,
    };
    let channel_error = ["channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"]
        .iter()
        .any(|code| error.ends_with(&format!(": {code}")));
    to_channel && channel_error
}

/// Marks the job failed; records the failure in the timeline and tells the declarer, in one
/// transaction so that neither is lost.
async fn give_up(state: &AppState, job: &queue::Job, error: &str) -> sqlx::Result<()> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    queue::fail(&mut *tx, job.id, now, error).await?;
    if job.kind != kind::RESPOND {
        let notice = format!(":warning: warroom could not finish a step ({}): {error}", job.kind);
        let target = match job.incident_id {
            Some(incident_id) => {
                let payload = json!({ "job": job.kind, "error": error, "attempts": job.attempts });
                timeline::append(&mut *tx, incident_id, now, WARROOM, EventKind::SlackApiFailed, payload).await?;
                crate::incident::store::get(&mut *tx, incident_id).await?.map(|i| respond::Target {
                    user: i.declared_by,
                    channel: i.origin_channel,
                    response_url: i.response_url,
                })
            }
            None => serde_json::from_value(job.payload.clone()).ok(),
        };
        // Declared by an alert source or the API: nobody to tell but the channel.
        if let Some(target) = target.filter(|t| crate::slack::blocks::is_person(&t.user)) {
            respond::enqueue(&mut tx, job.incident_id, &target, &notice, now).await?;
        }
        // A person sees it in the incident channel; in the announcement channel when the
        // incident channel is what failed (or there is none). A failed notice is not noticed
        // again (that would never end).
        if let (Some(incident_id), false) = (job.incident_id, job.slot.starts_with("failed:")) {
            let has_channel =
                crate::incident::store::get(&mut *tx, incident_id).await?.is_some_and(|i| i.channel_id.is_some());
            let to = if has_channel && !channel_unusable(job, error) { "channel" } else { "announce" };
            let payload = json!({ "text": notice, "to": to, "what": "failure" });
            queue::enqueue(&mut *tx, Some(incident_id), kind::POST, &format!("failed:{}", job.id), payload, now)
                .await?;
        }
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}
