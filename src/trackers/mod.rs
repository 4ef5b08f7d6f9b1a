//! Follow-ups in the team's tracker. A `/incident followup` item of a service with
//! `[services.x] tracker` becomes an issue — GitHub Issues, Jira Cloud or Linear — created once
//! through the job queue ([`create`]), linked in the incident channel, read back every
//! `[trackers] sync_every` ([`sync`]), and, while open past its horizon, nudged ([`nudge`]).
//! What the report and the catch-up card read is `crate::timeline::followups`.
//!
//! The follow-up is not an incident change (it goes through no `React`): the command that
//! records it calls [`followup_added`] in its own transaction, which writes the follow-up's
//! row and queues its creation with the event.

pub mod client;
mod create;
pub mod github;
pub mod jira;
pub mod linear;
mod nudge;
mod store;
mod sync;

pub use client::{Issue, NewIssue, TrackerError};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use crate::app::AppState;
use crate::config::{FileConfig, Tracker, TrackerEnv};
use crate::incident::store::Incident;
use crate::jobs::{queue, JobError};

/// Job kinds (stored in `jobs.kind`; never rename one).
pub mod kind {
    /// Creates a follow-up's issue, exactly once.
    pub const CREATE: &str = "trackers.create";
    /// Reads a follow-up's issue back (a timer every `[trackers] sync_every`).
    pub const SYNC: &str = "trackers.sync";
    /// An overdue follow-up's nudge (a timer at its due time, then one horizon later).
    pub const NUDGE: &str = "trackers.nudge";
    /// The owner's DM of a nudge.
    pub const DM: &str = "trackers.dm";
}

/// Whether `job_kind` is one of this part's.
pub fn owns(job_kind: &str) -> bool {
    job_kind.starts_with("trackers.")
}

/// Runs one of this part's jobs.
pub async fn dispatch(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    match job.kind.as_str() {
        kind::CREATE => create::run(state, job).await,
        kind::SYNC => sync::run(state, job).await,
        kind::NUDGE => nudge::run(state, job).await,
        kind::DM => nudge::direct_message(state, job).await,
        other => Err(JobError::Fatal(format!("unknown job kind `{other}`"))),
    }
}

/// What became of a follow-up's issue, for the reply to `/incident followup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filing {
    /// Queued for the tracker named ("GitHub acme/api").
    Queued(String),
    /// Not filed: the incident is private, and a tracker is read by more people than its
    /// channel (a public repository, a whole Jira site) — its title would be a trail.
    Withheld(String),
}

/// A follow-up was recorded (event `followup_id`): when its service has a tracker, writes its
/// row and queues its issue, in the caller's transaction. `None` without a tracker.
pub async fn followup_added(
    db: &mut PgConnection,
    config: &FileConfig,
    now: DateTime<Utc>,
    incident: &Incident,
    followup_id: i64,
) -> sqlx::Result<Option<Filing>> {
    let Some(tracker) = config.services.get(&incident.service).and_then(|s| s.tracker.as_ref()) else {
        return Ok(None);
    };
    if incident.private {
        return Ok(Some(Filing::Withheld(describe(tracker))));
    }
    let due_at = {
        let followup = crate::timeline::followups::get(&mut *db, followup_id).await?;
        followup.map_or(now, |f| f.due_at)
    };
    store::add(&mut *db, followup_id, incident.id, &tracker.to_string(), due_at).await?;
    let slot = followup_id.to_string();
    queue::enqueue(&mut *db, Some(incident.id), kind::CREATE, &slot, json!({ "followup": followup_id }), now).await?;
    Ok(Some(Filing::Queued(describe(tracker))))
}

/// "GitHub acme/api", "Jira OPS", "Linear ENG".
pub fn describe(tracker: &Tracker) -> String {
    match tracker {
        Tracker::GitHub { owner, repo } => format!("GitHub {owner}/{repo}"),
        Tracker::Jira { project } => format!("Jira {project}"),
        Tracker::Linear { team } => format!("Linear {team}"),
    }
}

/// The trackers warroom has credentials for (or the sandbox's).
#[derive(Debug, Clone, Default)]
pub struct Trackers {
    github: Option<github::GitHub>,
    jira: Option<jira::Jira>,
    linear: Option<linear::Linear>,
    /// The tokens, so that no error text carries one (a tracker that echoes a header back).
    secrets: Vec<crate::secret::Secret>,
}

impl Trackers {
    /// The clients the environment has credentials for, on `http` (its timeout is how long an
    /// answer may take before the outcome counts as unknown).
    pub fn from_env(env: &TrackerEnv, http: &reqwest::Client, clock: &crate::clock::SharedClock) -> Self {
        let github = env
            .github_token
            .as_ref()
            .map(|token| github::GitHub::new(http.clone(), &env.github_api_url, token.clone(), clock.clone()));
        let jira = match (&env.jira_url, &env.jira_email, &env.jira_api_token) {
            (Some(site), Some(email), Some(token)) => Some(jira::Jira::new(http.clone(), site, email, token.clone())),
            _ => None,
        };
        let linear = env
            .linear_api_key
            .as_ref()
            .map(|key| linear::Linear::new(http.clone(), &env.linear_api_url, key.clone(), clock.clone()));
        let secrets =
            [&env.github_token, &env.jira_api_token, &env.linear_api_key].into_iter().flatten().cloned().collect();
        Self { github, jira, linear, secrets }
    }

    /// `error` without any of the tokens in its text.
    fn scrub(&self, error: TrackerError) -> TrackerError {
        let clean = |text: String| {
            self.secrets
                .iter()
                .filter(|s| s.expose().len() >= 4)
                .fold(text, |text, secret| text.replace(secret.expose(), "[redacted]"))
        };
        match error {
            TrackerError::Refused { status, message } => TrackerError::Refused { status, message: clean(message) },
            TrackerError::Throttled { after, message } => TrackerError::Throttled { after, message: clean(message) },
            TrackerError::Unknown { message } => TrackerError::Unknown { message: clean(message) },
            TrackerError::NotSent { message } => TrackerError::NotSent { message: clean(message) },
            TrackerError::NotConfigured(message) => TrackerError::NotConfigured(message),
        }
    }

    fn missing(tracker: &Tracker) -> TrackerError {
        let vars = match tracker {
            Tracker::GitHub { .. } => "GITHUB_TOKEN",
            Tracker::Jira { .. } => "JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN",
            Tracker::Linear { .. } => "LINEAR_API_KEY",
        };
        TrackerError::NotConfigured(format!("{} is not configured: set {vars}", tracker.label()))
    }

    /// Creates the issue, assigned to the owner where their Slack email finds them.
    pub async fn create(
        &self,
        tracker: &Tracker,
        issue: &NewIssue,
        github_logins: &std::collections::BTreeMap<String, String>,
    ) -> Result<Issue, TrackerError> {
        self.create_unscrubbed(tracker, issue, github_logins).await.map_err(|e| self.scrub(e))
    }

    /// The issue carrying `marker`, if the tracker has one.
    pub async fn find(&self, tracker: &Tracker, marker: &str) -> Result<Option<Issue>, TrackerError> {
        self.find_unscrubbed(tracker, marker).await.map_err(|e| self.scrub(e))
    }

    /// The issue `key` as it is now.
    pub async fn get(&self, tracker: &Tracker, key: &str) -> Result<Issue, TrackerError> {
        self.get_unscrubbed(tracker, key).await.map_err(|e| self.scrub(e))
    }

    async fn create_unscrubbed(
        &self,
        tracker: &Tracker,
        issue: &NewIssue,
        github_logins: &std::collections::BTreeMap<String, String>,
    ) -> Result<Issue, TrackerError> {
        let email = issue.owner_email.as_deref();
        match tracker {
            Tracker::GitHub { owner, repo } => {
                let client = self.github.as_ref().ok_or_else(|| Self::missing(tracker))?;
                let login = match email {
                    Some(e) => match github_logins.get(&e.to_ascii_lowercase()) {
                        Some(login) => Some(login.clone()),
                        None => assignee(client.login_by_email(e).await)?,
                    },
                    None => None,
                };
                client.create(owner, repo, issue, login.as_deref()).await
            }
            Tracker::Jira { project } => {
                let client = self.jira.as_ref().ok_or_else(|| Self::missing(tracker))?;
                let account = match email {
                    Some(e) => assignee(client.account_by_email(e).await)?,
                    None => None,
                };
                client.create(project, issue, account.as_deref()).await
            }
            Tracker::Linear { team } => {
                let client = self.linear.as_ref().ok_or_else(|| Self::missing(tracker))?;
                let user = match email {
                    Some(e) => assignee(client.user_by_email(e).await)?,
                    None => None,
                };
                client.create(team, issue, user.as_deref()).await
            }
        }
    }

    async fn find_unscrubbed(&self, tracker: &Tracker, marker: &str) -> Result<Option<Issue>, TrackerError> {
        match tracker {
            Tracker::GitHub { owner, repo } => {
                self.github.as_ref().ok_or_else(|| Self::missing(tracker))?.find(owner, repo, marker).await
            }
            Tracker::Jira { project } => {
                self.jira.as_ref().ok_or_else(|| Self::missing(tracker))?.find(project, marker).await
            }
            Tracker::Linear { team } => {
                self.linear.as_ref().ok_or_else(|| Self::missing(tracker))?.find(team, marker).await
            }
        }
    }

    async fn get_unscrubbed(&self, tracker: &Tracker, key: &str) -> Result<Issue, TrackerError> {
        match tracker {
            Tracker::GitHub { owner, repo } => {
                let number = github::number_of(key).ok_or_else(|| TrackerError::Refused {
                    status: 404,
                    message: format!("`{key}` is not a GitHub issue"),
                })?;
                self.github.as_ref().ok_or_else(|| Self::missing(tracker))?.get(owner, repo, number).await
            }
            Tracker::Jira { .. } => self.jira.as_ref().ok_or_else(|| Self::missing(tracker))?.get(key).await,
            Tracker::Linear { .. } => self.linear.as_ref().ok_or_else(|| Self::missing(tracker))?.get(key).await,
        }
    }
}

/// An assignee look-up's answer: a person found or not; a rate limit waits like the creation
/// would, any other failure only means no assignee.
fn assignee(found: Result<Option<String>, TrackerError>) -> Result<Option<String>, TrackerError> {
    match found {
        Ok(found) => Ok(found),
        Err(e @ TrackerError::Throttled { .. }) => Err(e),
        Err(e) => {
            tracing::info!("no assignee for a follow-up: the tracker's user look-up failed: {e}");
            Ok(None)
        }
    }
}

impl From<TrackerError> for JobError {
    fn from(e: TrackerError) -> Self {
        match e {
            TrackerError::Throttled { after, message } => JobError::Throttled { error: message, after },
            TrackerError::Unknown { message } | TrackerError::NotSent { message } => JobError::Transient(message),
            final_error => JobError::Fatal(final_error.to_string()),
        }
    }
}
