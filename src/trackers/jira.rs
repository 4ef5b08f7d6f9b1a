//! Jira Cloud REST v3 (`JIRA_URL`, `JIRA_EMAIL`, `JIRA_API_TOKEN`, basic auth): create an issue
//! with an ADF description and a due date, find one by its marker (JQL `text ~`), read its
//! status (done when its status category is `done`), and find the owner's account by email.
//!
//! Rate limits: 429 with `Retry-After` (seconds).

use std::time::Duration;

use serde_json::{json, Value};

use super::client::{self, has_marker, Issue, NewIssue, TrackerError};
use crate::secret::Secret;

#[derive(Clone)]
pub struct Jira {
    http: reqwest::Client,
    /// The site, `https://acme.atlassian.net`.
    site: String,
    email: String,
    token: Secret,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jira").field("site", &self.site).finish_non_exhaustive()
    }
}

impl Jira {
    pub fn new(http: reqwest::Client, site: &str, email: &str, token: Secret) -> Self {
        Self { http, site: site.trim_end_matches('/').to_string(), email: email.to_string(), token }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/rest/api/3{path}", self.site))
            .basic_auth(&self.email, Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, TrackerError> {
        client::send(request, |status, headers, _| limited(status, headers)).await
    }

    /// `POST /rest/api/3/issue` (a Task in `project`).
    pub async fn create(&self, project: &str, issue: &NewIssue, account: Option<&str>) -> Result<Issue, TrackerError> {
        let mut fields = json!({
            "project": { "key": project },
            "issuetype": { "name": "Task" },
            "summary": issue.title,
            "description": adf(&issue.body),
            "labels": issue.labels,
            "duedate": issue.due.format("%Y-%m-%d").to_string(),
        });
        if let Some(id) = account {
            fields["assignee"] = json!({ "id": id });
        }
        let answer =
            self.send(self.request(reqwest::Method::POST, "/issue").json(&json!({ "fields": fields }))).await?;
        let key = answer["key"]
            .as_str()
            .ok_or_else(|| TrackerError::Unknown { message: "Jira's answer has no key".into() })?;
        Ok(Issue { key: key.to_string(), url: self.browse(key), state: "To Do".into(), closed: false })
    }

    /// The issue of `project` whose description carries `marker` (JQL text search).
    pub async fn find(&self, project: &str, marker: &str) -> Result<Option<Issue>, TrackerError> {
        let jql = format!("project = \"{project}\" AND text ~ \"\\\"{marker}\\\"\"");
        let query = [("jql", jql.as_str()), ("fields", "status,description"), ("maxResults", "10")];
        let answer = self.send(self.request(reqwest::Method::GET, "/search/jql").query(&query)).await?;
        let found = answer["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| has_marker(&adf_text(&i["fields"]["description"]), marker));
        Ok(found.and_then(|i| self.issue_of(i)))
    }

    /// `GET /rest/api/3/issue/{key}?fields=status`.
    pub async fn get(&self, key: &str) -> Result<Issue, TrackerError> {
        let request = self.request(reqwest::Method::GET, &format!("/issue/{key}")).query(&[("fields", "status")]);
        let answer = self.send(request).await?;
        self.issue_of(&answer).ok_or_else(|| TrackerError::Unknown { message: "Jira's answer has no key".into() })
    }

    /// The account whose email is `email` (`GET /rest/api/3/user/search?query=`): the one whose
    /// visible email matches, or the only active person found.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<String>, TrackerError> {
        let answer = self.send(self.request(reqwest::Method::GET, "/user/search").query(&[("query", email)])).await?;
        let people: Vec<&Value> = answer
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["accountType"] == "atlassian" && u["active"] != false)
            .collect();
        let exact = people.iter().find(|u| u["emailAddress"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)));
        let one = exact.or(if people.len() == 1 { people.first() } else { None });
        Ok(one.and_then(|u| u["accountId"].as_str()).map(str::to_string))
    }

    fn browse(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.site)
    }

    fn issue_of(&self, issue: &Value) -> Option<Issue> {
        let key = issue["key"].as_str()?;
        let status = &issue["fields"]["status"];
        Some(Issue {
            key: key.to_string(),
            url: self.browse(key),
            state: status["name"].as_str().unwrap_or("unknown").to_string(),
            closed: status["statusCategory"]["key"] == "done",
        })
    }
}

/// Plain text as an Atlassian Document: one paragraph per line.
pub fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| json!({ "type": "paragraph", "content": [{ "type": "text", "text": l }] }))
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

/// An Atlassian Document's text, its text nodes joined by newlines.
pub fn adf_text(doc: &Value) -> String {
    fn walk(node: &Value, out: &mut Vec<String>) {
        if let Some(text) = node["text"].as_str() {
            out.push(text.to_string());
        }
        for child in node["content"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut out);
    out.join("\n")
}

fn limited(status: u16, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    (status == 429)
        .then(|| Duration::from_secs(client::header_number(headers, "retry-after").unwrap_or(60).clamp(1, 3600) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_round_trips_the_marker() {
        let doc = adf("Restart the gateway\n\nwarroom:followup:7");
        assert_eq!(doc["content"].as_array().unwrap().len(), 2);
        assert!(has_marker(&adf_text(&doc), "warroom:followup:7"));
    }
}
