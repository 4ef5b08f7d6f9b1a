//! The sandbox trackers: GitHub Issues (`github.rs`), Jira Cloud (`jira.rs`) and Linear
//! (`linear.rs`) in one in-memory store of issues, each checking its own credentials and answering
//! with its own request shapes, error bodies (401, 404, 422 / 400) and rate-limit headers. A
//! test (or the sandbox page's person) closes an issue as someone would in the tracker, and
//! injects faults: refused before it is carried out (a status, a rate limit), or carried out
//! and then answered 500 or never answered (the unknown outcomes).

use std::sync::Mutex;

use serde::Serialize;

use crate::clock::SharedClock;

/// The sandbox's credentials (`GITHUB_TOKEN`, `JIRA_EMAIL` + `JIRA_API_TOKEN`, `LINEAR_API_KEY`).
pub const GITHUB_TOKEN: &str = "ghp_sandboxToken000000000000000000000000";
pub const JIRA_EMAIL: &str = "warroom@example.com";
pub const JIRA_TOKEN: &str = "ATATT3xSandboxJiraToken0000";
pub const LINEAR_KEY: &str = "lin_api_sandboxKey000000000000000000000000";

/// Which tracker a request or an issue belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    GitHub,
    Jira,
    Linear,
}

/// A fault for the next request of a tracker's operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Refused with this status and the tracker's own body for it (401, 404, 422, 503 ...).
    Refuse(u16),
    /// Rate limited for this many seconds (each tracker's own way of saying it).
    RateLimited(u64),
    /// Carried out, then answered with this status (500).
    ApplyThenStatus(u16),
    /// Carried out, then never answered (the client times out).
    ApplyThenHang,
}

/// An operation, for faults and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Search,
    /// GitHub's list of a repository's issues.
    List,
    Get,
    Users,
}

/// An issue in a sandbox tracker.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxIssue {
    pub tracker: Kind,
    /// `owner/repo`, the Jira project key, the Linear team key.
    pub place: String,
    /// `acme/api#1`, `OPS-1`, `ENG-1`.
    pub key: String,
    pub number: u64,
    pub title: String,
    /// Plain text (Jira's ADF read as text).
    pub body: String,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub due: Option<String>,
    pub closed: bool,
}

/// One request as the sandbox saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub tracker: Kind,
    pub op: Op,
    pub authorized: bool,
    pub status: u16,
}

/// A person in the sandbox trackers: their email and their id in each.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub github_login: String,
    pub jira_account: String,
    pub linear_id: String,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub issues: Vec<SandboxIssue>,
    pub faults: Vec<(Kind, Op, Fault)>,
    pub requests: Vec<Request>,
    pub people: Vec<Person>,
    /// GitHub's core limit: requests left in the hour.
    pub github_remaining: i64,
    /// GitHub's search index has not caught up: searches find nothing new.
    pub search_lags: bool,
}

/// The answer of a sandbox request.
pub(super) struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: Vec<(&'static str, String)>,
    /// Carried out; never answered.
    pub hang: bool,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, body, headers: Vec::new(), hang: false }
    }
}

pub struct TrackerSandbox {
    pub(super) clock: SharedClock,
    pub(super) state: Mutex<State>,
}

impl TrackerSandbox {
    /// The sandbox trackers, knowing alice, bob and carol by their sandbox emails.
    pub fn new(clock: SharedClock) -> Self {
        let people = ["alice", "bob", "carol"]
            .iter()
            .enumerate()
            .map(|(n, name)| Person {
                email: super::sandbox_email(name),
                github_login: format!("{name}-gh"),
                jira_account: format!("5b10ac8d82e05b22cc7d4e{n:02}"),
                linear_id: format!("00000000-0000-4000-8000-0000000000{n:02}"),
            })
            .collect();
        let state = State { people, github_remaining: 5000, ..State::default() };
        Self { clock, state: Mutex::new(state) }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next `times` requests of `op` to `tracker` fail with `fault`.
    pub fn fail_next(&self, tracker: Kind, op: Op, fault: Fault, times: usize) {
        let mut state = self.lock();
        for _ in 0..times {
            state.faults.push((tracker, op, fault.clone()));
        }
    }

    /// GitHub's issue search lags behind (finds nothing) or catches up.
    pub fn set_search_lag(&self, lags: bool) {
        self.lock().search_lags = lags;
    }

    /// Every issue of `tracker`, in the order they were created.
    pub fn issues(&self, tracker: Kind) -> Vec<SandboxIssue> {
        self.lock().issues.iter().filter(|i| i.tracker == tracker).cloned().collect()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// A person closes (or reopens) the issue `key` in the tracker.
    pub fn set_closed(&self, key: &str, closed: bool) -> bool {
        let mut state = self.lock();
        let issue = state.issues.iter_mut().find(|i| i.key == key);
        issue.map(|i| i.closed = closed).is_some()
    }

    /// The fault for this request, if one is waiting (used up).
    pub(super) fn take_fault(&self, state: &mut State, tracker: Kind, op: Op) -> Option<Fault> {
        let at = state.faults.iter().position(|(t, o, _)| *t == tracker && *o == op)?;
        Some(state.faults.remove(at).2)
    }

    /// Adds an issue; returns it.
    pub(super) fn add_issue(state: &mut State, mut issue: SandboxIssue) -> SandboxIssue {
        let number = state.issues.iter().filter(|i| i.tracker == issue.tracker && i.place == issue.place).count() + 1;
        issue.number = number as u64;
        issue.key = match issue.tracker {
            Kind::GitHub => format!("{}#{number}", issue.place),
            Kind::Jira | Kind::Linear => format!("{}-{number}", issue.place),
        };
        state.issues.push(issue.clone());
        issue
    }

    pub(super) fn log(state: &mut State, tracker: Kind, op: Op, authorized: bool, status: u16) {
        state.requests.push(Request { tracker, op, authorized, status });
    }
}

/// The number after `warroom:followup:` in a search text, as the marker it spells.
pub(super) fn marker_in(text: &str) -> Option<String> {
    let at = text.find("warroom:followup:")?;
    let rest = &text[at + "warroom:followup:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("warroom:followup:{digits}"))
}

/// Serves an [`Answer`] over HTTP (a hang waits forever: the client's timeout ends it).
pub(super) async fn respond(answer: Answer) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    if answer.hang {
        std::future::pending::<()>().await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(answer.body)).into_response();
    for (name, value) in answer.headers {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The three trackers on one router: `/github/...`, `/jira/rest/api/3/...`, `/linear/graphql`.
pub fn router(sandbox: std::sync::Arc<TrackerSandbox>) -> axum::Router {
    axum::Router::new()
        .nest("/github", super::github::router(sandbox.clone()))
        .nest("/jira", super::jira::router(sandbox.clone()))
        .nest("/linear", super::linear::router(sandbox))
}

/// The tracker environment that points at sandbox trackers served at `base` (their router's
/// address): the sandbox's credentials and URLs.
pub fn env(base: &str) -> crate::config::TrackerEnv {
    use crate::secret::Secret;
    crate::config::TrackerEnv {
        github_token: Some(Secret::new(GITHUB_TOKEN)),
        github_api_url: format!("{base}/github"),
        jira_url: Some(format!("{base}/jira")),
        jira_email: Some(JIRA_EMAIL.into()),
        jira_api_token: Some(Secret::new(JIRA_TOKEN)),
        linear_api_key: Some(Secret::new(LINEAR_KEY)),
        linear_api_url: format!("{base}/linear/graphql"),
        timeout: std::time::Duration::from_secs(10),
    }
}
