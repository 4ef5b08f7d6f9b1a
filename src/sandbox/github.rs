//! The sandbox GitHub REST API for issues: `POST /repos/{owner}/{repo}/issues`,
//! `GET /repos/{owner}/{repo}/issues/{number}`, `GET /search/issues`, `GET /search/users`. It
//! wants a bearer token (401 `Bad credentials` otherwise) and a `User-Agent` (403), answers
//! GitHub's `Validation Failed` 422 (no title, an assignee it does not know), and sends the
//! `x-ratelimit-*` headers on every answer; a rate limit is a 403 with none remaining.

use std::sync::Arc;

use serde_json::{json, Value};

use super::trackers::{marker_in, Answer, Fault, Kind, Op, SandboxIssue, TrackerSandbox, GITHUB_TOKEN};

const DOCS: &str = "https://docs.github.com/rest";

impl TrackerSandbox {
    fn github(&self, method: &str, path: &str, query: &str, auth: Option<&str>, agent: bool, body: &[u8]) -> Answer {
        let now = self.clock.now().timestamp();
        let mut state = self.lock();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let op = match (method, segments.as_slice()) {
            ("POST", ["repos", _, _, "issues"]) => Op::Create,
            ("GET", ["repos", _, _, "issues", _]) => Op::Get,
            ("GET", ["repos", _, _, "issues"]) => Op::List,
            ("GET", ["search", "issues"]) => Op::Search,
            ("GET", ["search", "users"]) => Op::Users,
            _ => {
                return Answer::json(404, json!({ "message": "Not Found", "documentation_url": DOCS, "status": "404" }))
            }
        };
        let token = auth.and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")));
        let authorized = token == Some(GITHUB_TOKEN);
        let fault = self.take_fault(&mut state, Kind::GitHub, op);
        let reset = now + 3600;
        let mut answer = match (&fault, authorized, agent) {
            (Some(Fault::Refuse(status)), _, _) => refusal(*status),
            (Some(Fault::RateLimited(secs)), _, _) => {
                let mut a = Answer::json(
                    403,
                    json!({ "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
                            "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting", "status": "403" }),
                );
                state.github_remaining = 0;
                a.headers.push(("x-ratelimit-reset", (now + *secs as i64).to_string()));
                a
            }
            (_, false, _) => refusal(401),
            (_, true, false) => Answer::json(
                403,
                json!({ "message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.", "status": "403" }),
            ),
            _ => {
                let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                match op {
                    Op::Create => create(&mut state, segments[1], segments[2], &body),
                    Op::Get => match state.issues.iter().find(|i| {
                        i.tracker == Kind::GitHub
                            && i.place == format!("{}/{}", segments[1], segments[2])
                            && i.number.to_string() == segments[4]
                    }) {
                        Some(issue) => Answer::json(200, issue_json(issue)),
                        None => refusal(404),
                    },
                    Op::List => {
                        let place = format!("{}/{}", segments[1], segments[2]);
                        let label = param(query, "labels");
                        let mut items: Vec<Value> = state
                            .issues
                            .iter()
                            .filter(|i| i.tracker == Kind::GitHub && i.place == place)
                            .filter(|i| label.is_empty() || i.labels.contains(&label))
                            .map(issue_json)
                            .collect();
                        items.reverse();
                        Answer::json(200, Value::Array(items))
                    }
                    Op::Search => {
                        let q = param(query, "q");
                        let marker = marker_in(&q);
                        let items: Vec<Value> = state
                            .issues
                            .iter()
                            .filter(|i| i.tracker == Kind::GitHub && q.contains(&format!("repo:{}", i.place)))
                            .filter(|i| marker.as_ref().is_some_and(|m| i.body.contains(m.as_str())))
                            .filter(|_| !state.search_lags)
                            .map(issue_json)
                            .collect();
                        Answer::json(
                            200,
                            json!({ "total_count": items.len(), "incomplete_results": false, "items": items }),
                        )
                    }
                    Op::Users => {
                        let q = param(query, "q");
                        let email = q.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
                        let items: Vec<Value> = state
                            .people
                            .iter()
                            .filter(|p| p.email == email)
                            .map(|p| json!({ "login": p.github_login, "id": 1, "type": "User" }))
                            .collect();
                        Answer::json(
                            200,
                            json!({ "total_count": items.len(), "incomplete_results": false, "items": items }),
                        )
                    }
                }
            }
        };
        match fault {
            Some(Fault::ApplyThenStatus(status)) if answer.status < 300 => {
                answer = Answer::json(status, json!({ "message": "Server Error" }));
            }
            Some(Fault::ApplyThenHang) if answer.status < 300 => answer.hang = true,
            _ => {}
        }
        if answer.status != 401 {
            state.github_remaining = (state.github_remaining - 1).max(0);
        }
        answer.headers.push(("x-ratelimit-limit", "5000".into()));
        answer.headers.push(("x-ratelimit-remaining", state.github_remaining.to_string()));
        answer.headers.push(("x-ratelimit-used", (5000 - state.github_remaining).to_string()));
        answer.headers.push(("x-ratelimit-resource", if op == Op::Search { "search" } else { "core" }.into()));
        if !answer.headers.iter().any(|(n, _)| *n == "x-ratelimit-reset") {
            answer.headers.push(("x-ratelimit-reset", reset.to_string()));
        }
        if state.github_remaining == 0 && answer.status == 403 {
            // The window the fault described ends now for the next caller.
            state.github_remaining = 5000;
        }
        TrackerSandbox::log(&mut state, Kind::GitHub, op, authorized, answer.status);
        answer
    }
}

fn create(state: &mut super::trackers::State, owner: &str, repo: &str, body: &Value) -> Answer {
    let title = body["title"].as_str().unwrap_or_default().trim().to_string();
    if title.is_empty() {
        return invalid(json!({ "resource": "Issue", "code": "missing_field", "field": "title" }));
    }
    let assignees: Vec<String> =
        body["assignees"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)).collect();
    if let Some(unknown) = assignees.iter().find(|a| !state.people.iter().any(|p| &p.github_login == *a)) {
        return invalid(json!({ "value": unknown, "resource": "Issue", "field": "assignees", "code": "invalid" }));
    }
    let issue = SandboxIssue {
        tracker: Kind::GitHub,
        place: format!("{owner}/{repo}"),
        key: String::new(),
        number: 0,
        title,
        body: body["body"].as_str().unwrap_or_default().to_string(),
        labels: body["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
        assignee: assignees.first().cloned(),
        due: None,
        closed: false,
    };
    let issue = TrackerSandbox::add_issue(state, issue);
    Answer::json(201, issue_json(&issue))
}

fn invalid(error: Value) -> Answer {
    Answer::json(
        422,
        json!({ "message": "Validation Failed", "errors": [error],
                "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422" }),
    )
}

/// GitHub's own bodies for the statuses it refuses with.
fn refusal(status: u16) -> Answer {
    match status {
        401 => Answer::json(401, json!({ "message": "Bad credentials", "documentation_url": DOCS, "status": "401" })),
        404 => Answer::json(
            404,
            json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "404" }),
        ),
        410 => Answer::json(
            410,
            json!({ "message": "Issues are disabled for this repo", "documentation_url": DOCS, "status": "410" }),
        ),
        422 => invalid(json!({ "resource": "Label", "code": "invalid", "field": "labels" })),
        status => Answer::json(status, json!({ "message": "Server Error" })),
    }
}

fn issue_json(issue: &SandboxIssue) -> Value {
    let state = if issue.closed { "closed" } else { "open" };
    json!({
        "id": 1000 + issue.number, "number": issue.number, "title": issue.title, "body": issue.body,
        "state": state, "state_reason": if issue.closed { json!("completed") } else { Value::Null },
        "html_url": format!("https://github.com/{}/issues/{}", issue.place, issue.number),
        "url": format!("https://api.github.com/repos/{}/issues/{}", issue.place, issue.number),
        "labels": issue.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "assignees": issue.assignee.iter().map(|a| json!({ "login": a })).collect::<Vec<_>>(),
    })
}

fn param(query: &str, key: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or_default()
}

pub(super) fn router(sandbox: Arc<TrackerSandbox>) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{header, HeaderMap, Method, Uri};

    async fn serve(
        State(sandbox): State<Arc<TrackerSandbox>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let agent = headers.contains_key(header::USER_AGENT);
        let path = uri.path().to_string();
        let path = path.rfind("/repos/").or_else(|| path.rfind("/search/")).map_or(path.as_str(), |at| &path[at..]);
        let answer = sandbox.github(method.as_str(), path, uri.query().unwrap_or_default(), auth, agent, &body);
        super::trackers::respond(answer).await
    }
    axum::Router::new().route("/{*path}", axum::routing::any(serve)).with_state(sandbox)
}
