//! On-call from PagerDuty (DESIGN.md "People"): who is on call for a service now and until when
//! ([`client`], PagerDuty REST v2), matched to a Slack user by email. An incident declared
//! without a commander gets its service's on-call ([`assign`]); when that shift ends while the
//! incident is open, the next on-call is asked to take command ([`handoff`]). Escalation's
//! `oncall` targets use [`on_call`] when a tier fires. Look-ups run from the job queue only,
//! never while Slack waits for an acknowledgement.

pub mod assign;
pub mod client;
pub mod handoff;
mod react;

pub use react::Reactor;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use client::PagerDutyRest;

use crate::app::AppState;
use crate::config::{FileConfig, OncallSource};
use crate::slack::api::SlackError;

/// Who is on call, as warroom can use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    pub slack_user: String,
    /// What they are on call for: the schedule's name (or the escalation policy's).
    pub on_call_for: String,
    /// When the stint ends (`None`: always on call).
    pub until: Option<DateTime<Utc>>,
}

/// Why nobody could be named. Every text can be posted: none carries a token or a URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OncallError {
    #[error("on-call look-ups are off (PAGERDUTY_API_TOKEN is not set)")]
    Off,
    #[error("`{0}` has no `oncall` in warroom.toml")]
    NotConfigured(String),
    #[error("PagerDuty could not be reached ({0})")]
    Unreachable(String),
    #[error("PagerDuty is throttling warroom (asked to wait {}s)", after.as_secs())]
    Throttled { after: Duration },
    #[error("PagerDuty answered HTTP {0}")]
    Server(u16),
    #[error("PagerDuty refused warroom's API token (HTTP {0}): PAGERDUTY_API_TOKEN must be a valid REST API key (read-only is enough)")]
    Unauthorized(u16),
    #[error("PagerDuty refused the on-call request (HTTP {0})")]
    Refused(u16),
    #[error("PagerDuty's answer was not an on-call list")]
    Malformed,
    #[error("nobody is on call in {0}")]
    NobodyOnCall(String),
    #[error("{0} has no email in PagerDuty to find them in Slack by")]
    NoEmail(String),
    #[error("{name}'s PagerDuty email ({email}) matches no Slack user")]
    NoSlackUser { name: String, email: String },
    #[error("Slack could not look the on-call up by email ({0})")]
    Slack(SlackError),
}

impl OncallError {
    /// How long PagerDuty asked to be left alone, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { after } => Some(*after),
            Self::Slack(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// Where `service`'s on-call comes from: its `oncall`, else the sandbox's schedule.
pub fn source_for(config: &FileConfig, service: &str) -> Option<OncallSource> {
    let configured = config.services.get(service).and_then(|s| s.oncall.as_ref()).and_then(|o| o.source());
    configured.or_else(|| config.oncall_fallback.clone())
}

/// Who is on call for `source` at `at`: the first escalation level's user (a schedule's final
/// layer), found in Slack by their PagerDuty email.
pub async fn on_call(state: &AppState, source: &OncallSource, at: DateTime<Utc>) -> Result<OnCall, OncallError> {
    let client = state.oncall.as_ref().ok_or(OncallError::Off)?;
    let mut entries = client.oncalls(source, at).await?;
    if let OncallSource::Schedule(id) = source {
        entries.retain(|e| e.schedule_id.as_deref() == Some(id));
    }
    entries.sort_by_key(|e| e.level);
    let entry = entries.into_iter().next().ok_or_else(|| OncallError::NobodyOnCall(source.describe()))?;
    let email = entry.email.clone().ok_or_else(|| OncallError::NoEmail(entry.user_name.clone()))?;
    let slack_user = match state.slack.lookup_by_email(&email).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(OncallError::NoSlackUser { name: entry.user_name, email }),
        Err(e) => return Err(OncallError::Slack(e)),
    };
    let on_call_for = entry.schedule_name.unwrap_or(entry.policy_name);
    Ok(OnCall { slack_user, on_call_for, until: entry.end })
}

/// The client for `settings`: PagerDuty with `PAGERDUTY_API_TOKEN`, else none.
pub fn client(settings: &crate::config::Settings, http: &reqwest::Client) -> Option<PagerDutyRest> {
    let token = settings.pagerduty_api_token.clone()?;
    Some(PagerDutyRest::new(http.clone(), &settings.pagerduty_api_url, token))
}
