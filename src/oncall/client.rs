//! PagerDuty's REST API v2, the one request on-call needs: `GET /oncalls` for a schedule or an
//! escalation policy at a moment, with the users' emails (`include[]=users`). Read-only; a
//! REST API key (`Authorization: Token token=…`) that can read schedules is all it takes.
//! Error texts name neither the token nor the URL: they go to the channel and the logs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::OncallError;
use crate::config::OncallSource;
use crate::secret::Secret;

/// What PagerDuty's media type for v2 is.
pub const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

/// One on-call entry: a user on call at one escalation level, and when that stint starts and ends
/// (`None`: always on call, an escalation rule naming the user rather than a schedule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub level: u32,
    pub user_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub schedule_id: Option<String>,
    pub schedule_name: Option<String>,
    pub policy_name: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The REST client (on the app's reqwest client, so its timeout).
#[derive(Debug, Clone)]
pub struct PagerDutyRest {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
}

#[derive(Deserialize)]
struct Page {
    oncalls: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    escalation_level: u32,
    user: RawUser,
    schedule: Option<Reference>,
    escalation_policy: Reference,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    /// A full user (`include[]=users`) has `name` and `email`; a reference only `summary`.
    name: Option<String>,
    summary: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
    summary: Option<String>,
}

impl PagerDutyRest {
    pub fn new(http: reqwest::Client, base_url: &str, token: Secret) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_string(), token }
    }

    /// Who is on call for `source` at `at` (every level, earliest stint per user and level).
    pub async fn oncalls(&self, source: &OncallSource, at: DateTime<Utc>) -> Result<Vec<Entry>, OncallError> {
        let key = match source {
            OncallSource::Schedule(_) => "schedule_ids[]",
            OncallSource::EscalationPolicy(_) => "escalation_policy_ids[]",
        };
        // A one-second window at `at`: the stint that ends at `at` is not in it, the next one is.
        let (since, until) = (at.to_rfc3339(), (at + chrono::Duration::seconds(1)).to_rfc3339());
        let query = [
            (key, source.id()),
            ("time_zone", "UTC"),
            ("include[]", "users"),
            ("earliest", "true"),
            ("since", since.as_str()),
            ("until", until.as_str()),
            ("limit", "100"),
        ];
        let response = self
            .http
            .get(format!("{}/oncalls", self.base_url))
            .header(reqwest::header::AUTHORIZATION, format!("Token token={}", self.token.expose()))
            .header(reqwest::header::ACCEPT, ACCEPT)
            .query(&query)
            .send()
            .await
            .map_err(|e| OncallError::Unreachable(cause(e)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => return Err(OncallError::Unauthorized(status)),
            429 => return Err(OncallError::Throttled { after: retry_after(response.headers()) }),
            500..=599 => return Err(OncallError::Server(status)),
            _ => return Err(OncallError::Refused(status)),
        }
        let bytes = response.bytes().await.map_err(|e| OncallError::Unreachable(cause(e)))?;
        let page: Page = serde_json::from_slice(&bytes).map_err(|_| OncallError::Malformed)?;
        Ok(page
            .oncalls
            .into_iter()
            .map(|e| Entry {
                level: e.escalation_level,
                user_name: e.user.name.or(e.user.summary).unwrap_or_else(|| e.user.id.clone()),
                user_id: e.user.id,
                email: e.user.email,
                schedule_name: e.schedule.as_ref().map(|s| s.summary.clone().unwrap_or_else(|| s.id.clone())),
                schedule_id: e.schedule.map(|s| s.id),
                policy_name: e.escalation_policy.summary.unwrap_or(e.escalation_policy.id),
                start: e.start,
                end: e.end,
            })
            .collect())
    }
}

/// PagerDuty's REST API says when to come back in `ratelimit-reset` (seconds); `Retry-After`
/// is honoured too. Without either: a minute, its rate limit window.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let seconds = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    Duration::from_secs(seconds("retry-after").or_else(|| seconds("ratelimit-reset")).unwrap_or(60).clamp(1, 3600))
}

/// What went wrong in sending, with its causes but without the URL.
fn cause(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = if error.is_timeout() { "timed out".to_string() } else { error.to_string() };
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message.split(' ').map(|w| if w.contains("://") { "<url>" } else { w }).collect::<Vec<_>>().join(" ")
}
