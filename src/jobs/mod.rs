//! The durable job queue and its workers. Every Slack side effect is a row in `jobs`, written
//! in the same transaction as the change that caused it, and run here with retries and backoff.
//! One file per job kind; [`runner`] claims, dispatches and records outcomes.

pub mod canvas;
pub mod declare_steps;
pub mod export;
pub mod post_once;
pub mod posts;
pub mod purge;
pub mod queue;
mod react;
pub mod respond;
pub mod runner;
pub mod status_update;
pub mod wake;

pub use react::SlackWork;
pub use wake::{wake, wake_everywhere};

use std::time::Duration;

use crate::slack::api::SlackError;

/// Job kinds. The strings are stored in `jobs.kind`; never rename one.
pub mod kind {
    pub const CREATE_CHANNEL: &str = "incident.create_channel";
    pub const INVITE: &str = "incident.invite";
    pub const SET_TOPIC: &str = "incident.set_topic";
    pub const POST_DECLARATION: &str = "incident.post_declaration";
    pub const PIN_DECLARATION: &str = "incident.pin_declaration";
    pub const ANNOUNCE: &str = "incident.announce";
    pub const REFRESH_DECLARATION: &str = "incident.refresh_declaration";
    pub const OPEN_MODAL: &str = "slack.open_modal";
    pub const RESPOND: &str = "slack.respond";
    pub const STATUS_UPDATE: &str = "incident.status_update";
    pub const POST_STATUS_UPDATE: &str = "incident.post_status_update";
    pub const POST: &str = "incident.post";
    pub const POST_UPDATE: &str = "incident.post_update";
    pub const POST_RESOLUTION: &str = "incident.post_resolution";
    pub const RUN_DIAGNOSTIC: &str = "diagnostics.run";
    pub const RUNNER_TASK_EXPIRE: &str = "runners.task_expire";
    /// A remote runner's task sent but not reported within its time limit and a margin.
    pub const RUNNER_TASK_WATCH: &str = "runners.task_watch";
    /// A change started here still running past its time limit and a margin.
    pub const CHANGE_WATCH: &str = "diagnostics.change_watch";
    pub const APPROVAL_MESSAGE: &str = "approval.message";
    pub const APPROVAL_EXPIRE: &str = "approval.expire";
    pub const UPLOAD: &str = "incident.upload";
    pub const REFRESH_USERGROUPS: &str = "slack.refresh_usergroups";
    pub const REFRESH_MEMBERS: &str = "slack.refresh_members";
    pub const PURGE_JOBS: &str = "jobs.purge";
    pub const STATUSPAGE_PUSH: &str = "statuspage.push";
    pub const STATUSPAGE_PREVIEW: &str = "statuspage.preview";
    pub const STATUSPAGE_RECONCILE: &str = "statuspage.reconcile";
    pub const ESCALATION_TIER: &str = "escalation.tier";
    pub const ESCALATION_ACK_CHECK: &str = "escalation.ack_check";
    pub const ESCALATION_NOTIFY: &str = "escalation.notify";
    pub const ESCALATION_DM: &str = "escalation.dm";
    pub const ESCALATION_PAGE: &str = "escalation.page";
    pub const EXPORT: &str = "incident.export";
    pub const CAPTURE: &str = "timeline.capture";
    pub const ALERT_RESOLVED_PROMPT: &str = "alerts.resolved_prompt";
    /// One message of the runbook checklist (`crate::checklist::post`).
    pub const CHECKLIST_POST: &str = "checklist.post";
    /// Edits the checklist's messages after a step changed.
    pub const CHECKLIST_REFRESH: &str = "checklist.refresh";
    /// A section's time window ended (`crate::checklist::remind`).
    pub const CHECKLIST_WINDOW: &str = "checklist.window";

    /// An incident declared without a commander gets its service's on-call (`crate::oncall::assign`).
    pub const ONCALL_ASSIGN: &str = "oncall.assign";
    /// The commander's on-call shift ends: offer command to the next on-call (`crate::oncall::handoff`).
    pub const ONCALL_SHIFT_END: &str = "oncall.shift_end";
    /// The "Take command" offer, in the channel or by DM.
    pub const ONCALL_OFFER: &str = "oncall.offer";
    /// The offer's messages edited to say who took command (their button gone).
    pub const ONCALL_OFFER_TAKEN: &str = "oncall.offer_taken";

    /// Required roles still unfilled: remind the commander, then the announcement channel
    /// (`crate::roles::remind`).
    pub const ROLES_REMIND: &str = "roles.remind";
    /// Invite a role's new holder once the incident channel exists (`crate::roles::assign`).
    pub const ROLES_INVITE: &str = "roles.invite";
    /// The incident channel's bookmarks brought up to date (`crate::bookmarks::run`).
    pub const BOOKMARKS: &str = "slack.bookmarks";
    /// The catch-up card for someone who joined the incident channel (`crate::catchup::send`).
    pub const CATCHUP_CARD: &str = "catchup.card";
    /// The warning before a resolved incident's channel is archived (`crate::archive::run`).
    pub const ARCHIVE_WARN: &str = "archive.warn";
    /// `conversations.archive` of a resolved incident's channel.
    pub const ARCHIVE: &str = "archive.channel";
    /// `conversations.unarchive` of a reopened incident's channel, before anything is posted.
    pub const UNARCHIVE: &str = "archive.unarchive";
    /// The post-mortem canvas written after an export (`crate::jobs::canvas`).
    pub const CANVAS: &str = "slack.postmortem_canvas";
    /// The "Seen before" post after the declaration (`crate::seen_before::post`).
    pub const SEEN_BEFORE: &str = "seen_before.post";

    /// Timers: cancelled when the incident resolves.
    pub const TIMERS: [&str; 6] =
        [STATUS_UPDATE, ESCALATION_TIER, ESCALATION_ACK_CHECK, CHECKLIST_WINDOW, ONCALL_SHIFT_END, ROLES_REMIND];
}

/// How a job attempt ended, when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (after `after`, or the queue's backoff), while attempts last.
    #[error("{error}")]
    Retry { error: String, after: Option<Duration> },
    /// Slack is throttling (a 429, or a pause another job's 429 started): run again after
    /// `after`; not an attempt.
    #[error("{error}")]
    Throttled { error: String, after: Duration },
    /// A failure that will pass (Slack's 5xx, a timeout, a lost connection): backed off, never
    /// given up on.
    #[error("{0}")]
    Transient(String),
    /// Will never succeed: record it and tell someone.
    #[error("{0}")]
    Fatal(String),
    /// Not now, and not a failure: run again at this time (rate limiting on our side).
    #[error("deferred")]
    Defer(chrono::DateTime<chrono::Utc>),
    /// The incident channel does not exist yet ([`JobError::channel_pending`]).
    #[error("the incident channel does not exist yet")]
    ChannelPending,
    /// Failed for good, and the job already told the channel and the timeline.
    #[error("{0}")]
    Reported(String),
}

impl JobError {
    /// The incident has no channel yet: try again shortly. While its channel is still being
    /// created (which a Slack storm can hold up for minutes) that uses up no attempt.
    pub fn channel_pending() -> Self {
        JobError::ChannelPending
    }
}

/// The incident a job is about.
pub async fn load_incident(
    state: &crate::app::AppState,
    job: &queue::Job,
) -> Result<crate::incident::store::Incident, JobError> {
    let id = job.incident_id.ok_or_else(|| JobError::Fatal(format!("{} job has no incident", job.kind)))?;
    crate::incident::store::get(&state.db, id).await?.ok_or_else(|| JobError::Fatal(format!("incident {id} is gone")))
}

/// The incident's roles and their holders, as a post shows them.
pub async fn roles_of(
    state: &crate::app::AppState,
    incident: &crate::incident::store::Incident,
) -> Result<Vec<crate::incident::roles::Holder>, JobError> {
    // Known from creating the channel; without it an unassigned commander shows as a person.
    let bot = state.slack.bot_user_id().await.ok();
    let config = &state.settings.file;
    Ok(crate::incident::roles::current(&state.db, &config.roles, incident, bot.as_deref()).await?)
}

impl From<SlackError> for JobError {
    fn from(e: SlackError) -> Self {
        if let Some(after) = e.retry_after() {
            JobError::Throttled { after, error: e.to_string() }
        } else if e.is_retryable() && e.method() == crate::slack::api::FILE_UPLOAD {
            // An upload URL is not Slack's API but a host it names once: if it cannot be
            // reached a few times running (a proxy in the way), waiting will not mend it, and
            // the person who asked for the file is told to ask again.
            JobError::Retry { error: e.to_string(), after: None }
        } else if e.is_retryable() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Fatal(e.to_string())
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Retry { error: format!("database: {e}"), after: None }
    }
}

impl From<crate::templates::TemplateError> for JobError {
    fn from(e: crate::templates::TemplateError) -> Self {
        JobError::Fatal(e.to_string())
    }
}
