//! GitHub Issues (REST, `GITHUB_TOKEN`, `GITHUB_API_URL`): create an issue, find one by its
//! marker (`GET /search/issues`), read its state, and find the owner's login.
//!
//! Rate limits: GitHub answers 403 or 429 with `x-ratelimit-remaining: 0` (wait until
//! `x-ratelimit-reset`, epoch seconds) or with `retry-after` (secondary limits).

use std::time::Duration;

use serde_json::{json, Value};

use super::client::{self, has_marker, Issue, NewIssue, TrackerError};
use crate::secret::Secret;

#[derive(Clone)]
pub struct GitHub {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
    /// `x-ratelimit-reset` is a moment: how long until then is read on the injected clock.
    clock: crate::clock::SharedClock,
}

impl GitHub {
    pub fn new(http: reqwest::Client, base_url: &str, token: Secret, clock: crate::clock::SharedClock) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_string(), token, clock }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(reqwest::header::USER_AGENT, "warroom")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, TrackerError> {
        let clock_now = self.clock.now().timestamp();
        client::send(request, |status, headers, _| limited(status, headers, clock_now)).await
    }

    /// `POST /repos/{owner}/{repo}/issues`; an assignee GitHub will not take (422 on
    /// `assignees`) is dropped and the issue created without one.
    pub async fn create(
        &self,
        owner: &str,
        repo: &str,
        issue: &NewIssue,
        assignee: Option<&str>,
    ) -> Result<Issue, TrackerError> {
        let path = format!("/repos/{owner}/{repo}/issues");
        let mut body = json!({ "title": issue.title, "body": issue.body, "labels": issue.labels });
        if let Some(login) = assignee {
            body["assignees"] = json!([login]);
        }
        let answer = match self.send(self.request(reqwest::Method::POST, &path).json(&body)).await {
            Err(TrackerError::Refused { status: 422, message })
                if assignee.is_some() && message.contains("assignee") =>
            {
                body.as_object_mut().map(|b| b.remove("assignees"));
                self.send(self.request(reqwest::Method::POST, &path).json(&body)).await?
            }
            other => other?,
        };
        issue_of(owner, repo, &answer)
    }

    /// The issue whose body carries `marker`: GitHub's issue search, then — because the search
    /// index can lag a few seconds behind a creation — the repository's latest `warroom`
    /// issues, which are read from the repository itself.
    pub async fn find(&self, owner: &str, repo: &str, marker: &str) -> Result<Option<Issue>, TrackerError> {
        let q = format!("\"{marker}\" repo:{owner}/{repo} is:issue in:body");
        let request =
            self.request(reqwest::Method::GET, "/search/issues").query(&[("q", q.as_str()), ("per_page", "10")]);
        let answer = self.send(request).await?;
        if let Some(found) = with_marker(&answer["items"], marker) {
            return issue_of(owner, repo, found).map(Some);
        }
        let query =
            [("labels", "warroom"), ("state", "all"), ("sort", "created"), ("direction", "desc"), ("per_page", "50")];
        let path = format!("/repos/{owner}/{repo}/issues");
        let latest = self.send(self.request(reqwest::Method::GET, &path).query(&query)).await?;
        with_marker(&latest, marker).map(|item| issue_of(owner, repo, item)).transpose()
    }

    /// `GET /repos/{owner}/{repo}/issues/{number}`.
    pub async fn get(&self, owner: &str, repo: &str, number: u64) -> Result<Issue, TrackerError> {
        let path = format!("/repos/{owner}/{repo}/issues/{number}");
        let answer = self.send(self.request(reqwest::Method::GET, &path)).await?;
        issue_of(owner, repo, &answer)
    }

    /// The login whose public email is `email`, when exactly one user has it (GitHub searches
    /// public emails only: `[trackers] github_logins` is the sure way).
    pub async fn login_by_email(&self, email: &str) -> Result<Option<String>, TrackerError> {
        let q = format!("{email} in:email");
        let request = self.request(reqwest::Method::GET, "/search/users").query(&[("q", q.as_str())]);
        let answer = self.send(request).await?;
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        Ok(match items.as_slice() {
            [one] => one["login"].as_str().map(str::to_string),
            _ => None,
        })
    }
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// The issue among `items` whose body carries `marker`.
fn with_marker<'a>(items: &'a Value, marker: &str) -> Option<&'a Value> {
    items.as_array()?.iter().find(|item| item["body"].as_str().is_some_and(|b| has_marker(b, marker)))
}

/// The issue's number from its key (`acme/api#12`).
pub fn number_of(key: &str) -> Option<u64> {
    key.rsplit_once('#')?.1.parse().ok()
}

fn issue_of(owner: &str, repo: &str, body: &Value) -> Result<Issue, TrackerError> {
    let number = body["number"]
        .as_u64()
        .ok_or_else(|| TrackerError::Unknown { message: "GitHub's answer has no issue number".into() })?;
    let state = body["state"].as_str().unwrap_or("open").to_string();
    Ok(Issue {
        key: format!("{owner}/{repo}#{number}"),
        url: body["html_url"].as_str().unwrap_or_default().to_string(),
        closed: state == "closed",
        state,
    })
}

/// GitHub's rate limits: a 403 or 429 with `retry-after`, or with no requests remaining (until
/// `x-ratelimit-reset`).
fn limited(status: u16, headers: &reqwest::header::HeaderMap, now: i64) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = client::header_number(headers, "retry-after") {
        return Some(Duration::from_secs(secs.clamp(1, 3600) as u64));
    }
    if client::header_number(headers, "x-ratelimit-remaining") == Some(0) {
        let reset = client::header_number(headers, "x-ratelimit-reset").unwrap_or(now + 60);
        return Some(Duration::from_secs((reset - now).clamp(1, 3600) as u64));
    }
    // A 429 without either: a minute.
    (status == 429).then(|| Duration::from_secs(60))
}
