//! Linear's GraphQL API (`LINEAR_API_KEY`, `LINEAR_API_URL`): `issueCreate` in the team named
//! by its key, the issues filter on the description for the marker, an issue's state (done when
//! its type is `completed` or `canceled`), and the owner by email.
//!
//! GraphQL answers errors in `errors` (HTTP 400, or 200 beside partial data), each with
//! `extensions.code`; a rate limit is `RATELIMITED`, with `X-RateLimit-Requests-Reset`
//! (epoch milliseconds).

use std::time::Duration;

use serde_json::{json, Value};

use super::client::{self, has_marker, Issue, NewIssue, TrackerError};
use crate::secret::Secret;

#[derive(Clone)]
pub struct Linear {
    http: reqwest::Client,
    url: String,
    key: Secret,
    clock: crate::clock::SharedClock,
}

impl std::fmt::Debug for Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linear").field("url", &self.url).finish_non_exhaustive()
    }
}

const ISSUE_FIELDS: &str = "id identifier url description state { name type }";

impl Linear {
    pub fn new(http: reqwest::Client, url: &str, key: Secret, clock: crate::clock::SharedClock) -> Self {
        Self { http, url: url.to_string(), key, clock }
    }

    /// One GraphQL request: its `data`, or the error it answered.
    async fn query(&self, query: &str, variables: Value) -> Result<Value, TrackerError> {
        let request = self
            .http
            .post(&self.url)
            // A personal API key goes as it is (an OAuth token would be `Bearer …`).
            .header(reqwest::header::AUTHORIZATION, self.key.expose())
            .json(&json!({ "query": query, "variables": variables }));
        let now_ms = self.clock.now().timestamp_millis();
        let (status, body) = client::send_graphql(request, |_, headers, body| {
            (body["errors"][0]["extensions"]["code"] == "RATELIMITED").then(|| {
                let reset = client::header_number(headers, "x-ratelimit-requests-reset").unwrap_or(now_ms + 60_000);
                Duration::from_millis((reset - now_ms).clamp(1000, 3_600_000) as u64)
            })
        })
        .await?;
        let errors = body["errors"].as_array().filter(|e| !e.is_empty());
        if let Some(errors) = errors {
            let code = errors[0]["extensions"]["code"].as_str().unwrap_or_default();
            // Linear answers a bad key with HTTP 400 and AUTHENTICATION_ERROR: a 401 to people.
            let status = match code {
                "AUTHENTICATION_ERROR" => 401,
                "FORBIDDEN" => 403,
                _ if status >= 400 => status,
                _ => 422,
            };
            return Err(TrackerError::Refused { status, message: client::message_of(&body) });
        }
        if status >= 400 {
            return Err(TrackerError::Refused { status, message: client::message_of(&body) });
        }
        Ok(body["data"].clone())
    }

    /// The team's id from its key.
    async fn team_id(&self, team: &str) -> Result<String, TrackerError> {
        let data = self
            .query(
                "query($key: String!) { teams(filter: { key: { eq: $key } }) { nodes { id } } }",
                json!({ "key": team }),
            )
            .await?;
        data["teams"]["nodes"][0]["id"].as_str().map(str::to_string).ok_or_else(|| TrackerError::Refused {
            status: 404,
            message: format!("no Linear team with the key {team}"),
        })
    }

    /// The user whose email is `email`.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<String>, TrackerError> {
        let query = "query($email: String!) { users(filter: { email: { eq: $email } }) { nodes { id } } }";
        let data = self.query(query, json!({ "email": email })).await?;
        Ok(data["users"]["nodes"][0]["id"].as_str().map(str::to_string))
    }

    /// `issueCreate` in `team`.
    pub async fn create(&self, team: &str, issue: &NewIssue, assignee: Option<&str>) -> Result<Issue, TrackerError> {
        let team_id = self.team_id(team).await?;
        let mut input = json!({
            "teamId": team_id,
            "title": issue.title,
            "description": issue.body,
            "dueDate": issue.due.format("%Y-%m-%d").to_string(),
        });
        if let Some(id) = assignee {
            input["assigneeId"] = json!(id);
        }
        let query = format!(
            "mutation($input: IssueCreateInput!) {{ issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}"
        );
        let data = self.query(&query, json!({ "input": input })).await?;
        issue_of(&data["issueCreate"]["issue"])
            .ok_or_else(|| TrackerError::Unknown { message: "Linear's answer has no issue".into() })
    }

    /// The team's issue whose description carries `marker`.
    pub async fn find(&self, team: &str, marker: &str) -> Result<Option<Issue>, TrackerError> {
        let query = format!(
            "query($team: String!, $marker: String!) {{ issues(filter: {{ team: {{ key: {{ eq: $team }} }}, description: {{ contains: $marker }} }}, first: 10) {{ nodes {{ {ISSUE_FIELDS} }} }} }}"
        );
        let data = self.query(&query, json!({ "team": team, "marker": marker })).await?;
        let found = data["issues"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["description"].as_str().is_some_and(|d| has_marker(d, marker)));
        Ok(found.and_then(issue_of))
    }

    /// The issue by its identifier (`ENG-3`).
    pub async fn get(&self, identifier: &str) -> Result<Issue, TrackerError> {
        let query = format!("query($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}");
        let data = self.query(&query, json!({ "id": identifier })).await?;
        issue_of(&data["issue"])
            .ok_or_else(|| TrackerError::Refused { status: 404, message: format!("Linear has no issue {identifier}") })
    }
}

fn issue_of(issue: &Value) -> Option<Issue> {
    let key = issue["identifier"].as_str()?;
    let kind = issue["state"]["type"].as_str().unwrap_or_default();
    Some(Issue {
        key: key.to_string(),
        url: issue["url"].as_str().unwrap_or_default().to_string(),
        state: issue["state"]["name"].as_str().unwrap_or("unknown").to_string(),
        closed: kind == "completed" || kind == "canceled",
    })
}
