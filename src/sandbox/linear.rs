//! The sandbox Linear GraphQL API (`POST /graphql`): the operations warroom sends —
//! `teams` and `users` by filter, `issueCreate`, `issues` filtered on the description, `issue`
//! by identifier — told apart by name (it is no GraphQL engine) and answered in Linear's shapes.
//! The `Authorization` header is the API key itself (400 `AUTHENTICATION_ERROR` otherwise); a
//! rate limit is `RATELIMITED` with `X-RateLimit-Requests-*` headers; bad input is
//! `INVALID_INPUT`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::trackers::{Answer, Fault, Kind, Op, SandboxIssue, TrackerSandbox, LINEAR_KEY};

impl TrackerSandbox {
    fn linear(&self, auth: Option<&str>, body: &[u8]) -> Answer {
        let now_ms = self.clock.now().timestamp_millis();
        let mut state = self.lock();
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let query = request["query"].as_str().unwrap_or_default();
        let vars = &request["variables"];
        let op = if query.contains("issueCreate") {
            Op::Create
        } else if query.contains("issues(") {
            Op::Search
        } else if query.contains("issue(") {
            Op::Get
        } else {
            Op::Users
        };
        let key = auth.map(|a| a.strip_prefix("Bearer ").unwrap_or(a));
        let authorized = key == Some(LINEAR_KEY);
        let fault = self.take_fault(&mut state, Kind::Linear, op);
        let mut answer = match (&fault, authorized) {
            (Some(Fault::Refuse(401)), _) | (_, false) => error(
                400,
                "Authentication required, not authenticated",
                "AUTHENTICATION_ERROR",
                "You need to authenticate to access this operation.",
            ),
            (Some(Fault::Refuse(404)), _) => {
                error(400, "Entity not found: Team", "INVALID_INPUT", "Could not find referenced Team.")
            }
            (Some(Fault::Refuse(status)), _) if *status < 500 => error(
                400,
                "Argument Validation Error",
                "INVALID_INPUT",
                "title must be shorter than or equal to 255 characters",
            ),
            (Some(Fault::Refuse(status)), _) => {
                Answer::json(*status, json!({ "errors": [{ "message": "Internal server error" }] }))
            }
            (Some(Fault::RateLimited(secs)), _) => {
                let mut a = error(400, "Rate limit exceeded", "RATELIMITED", "You have exceeded the rate limit.");
                a.headers.push(("x-ratelimit-requests-remaining", "0".into()));
                a.headers.push(("x-ratelimit-requests-reset", (now_ms + *secs as i64 * 1000).to_string()));
                a
            }
            _ => match op {
                // Never sent to Linear (GitHub's list of a repository's issues).
                Op::List => error(400, "Unknown operation", "GRAPHQL_VALIDATION_FAILED", "Unknown operation."),
                Op::Create => create(&mut state, &vars["input"]),
                Op::Search => {
                    let team = vars["team"].as_str().unwrap_or_default();
                    let marker = vars["marker"].as_str().unwrap_or("\u{0}");
                    let nodes: Vec<Value> = state
                        .issues
                        .iter()
                        .filter(|i| i.tracker == Kind::Linear && i.place == team && i.body.contains(marker))
                        .map(issue_json)
                        .collect();
                    Answer::json(200, json!({ "data": { "issues": { "nodes": nodes } } }))
                }
                Op::Get => {
                    let id = vars["id"].as_str().unwrap_or_default();
                    match state.issues.iter().find(|i| i.tracker == Kind::Linear && i.key == id) {
                        Some(issue) => Answer::json(200, json!({ "data": { "issue": issue_json(issue) } })),
                        None => {
                            error(400, "Entity not found: Issue", "INVALID_INPUT", "Could not find referenced Issue.")
                        }
                    }
                }
                Op::Users if query.contains("teams(") => {
                    // Every team key exists in the sandbox: its id is derived from the key.
                    let team = vars["key"].as_str().unwrap_or_default();
                    Answer::json(200, json!({ "data": { "teams": { "nodes": [{ "id": team_id(team) }] } } }))
                }
                Op::Users => {
                    let email = vars["email"].as_str().unwrap_or_default().to_ascii_lowercase();
                    let nodes: Vec<Value> = state
                        .people
                        .iter()
                        .filter(|p| p.email == email)
                        .map(|p| json!({ "id": p.linear_id }))
                        .collect();
                    Answer::json(200, json!({ "data": { "users": { "nodes": nodes } } }))
                }
            },
        };
        match fault {
            Some(Fault::ApplyThenStatus(status)) if answer.status < 300 => {
                answer = Answer::json(status, json!({ "errors": [{ "message": "Internal server error" }] }));
            }
            Some(Fault::ApplyThenHang) if answer.status < 300 => answer.hang = true,
            _ => {}
        }
        if !answer.headers.iter().any(|(n, _)| *n == "x-ratelimit-requests-remaining") {
            answer.headers.push(("x-ratelimit-requests-limit", "1500".into()));
            answer.headers.push(("x-ratelimit-requests-remaining", "1499".into()));
            answer.headers.push(("x-ratelimit-requests-reset", (now_ms + 3_600_000).to_string()));
        }
        TrackerSandbox::log(&mut state, Kind::Linear, op, authorized, answer.status);
        answer
    }
}

fn team_id(key: &str) -> String {
    format!("team-{}", key.to_ascii_lowercase())
}

fn create(state: &mut super::trackers::State, input: &Value) -> Answer {
    let title = input["title"].as_str().unwrap_or_default().trim().to_string();
    if title.is_empty() {
        return error(400, "Argument Validation Error", "INVALID_INPUT", "title should not be empty");
    }
    let team_id = input["teamId"].as_str().unwrap_or_default();
    let Some(team) = team_id.strip_prefix("team-").map(str::to_ascii_uppercase) else {
        return error(400, "Entity not found: Team", "INVALID_INPUT", "Could not find referenced Team.");
    };
    let assignee = input["assigneeId"].as_str().map(str::to_string);
    if assignee.as_ref().is_some_and(|a| !state.people.iter().any(|p| &p.linear_id == a)) {
        return error(400, "Entity not found: User", "INVALID_INPUT", "Could not find referenced User.");
    }
    let issue = SandboxIssue {
        tracker: Kind::Linear,
        place: team,
        key: String::new(),
        number: 0,
        title,
        body: input["description"].as_str().unwrap_or_default().to_string(),
        labels: Vec::new(),
        assignee,
        due: input["dueDate"].as_str().map(str::to_string),
        closed: false,
    };
    let issue = TrackerSandbox::add_issue(state, issue);
    Answer::json(200, json!({ "data": { "issueCreate": { "success": true, "issue": issue_json(&issue) } } }))
}

/// A GraphQL error as Linear sends it.
fn error(status: u16, message: &str, code: &str, presentable: &str) -> Answer {
    Answer::json(
        status,
        json!({ "errors": [{ "message": message,
                             "extensions": { "code": code, "userError": true, "userPresentableMessage": presentable } }],
                "data": null }),
    )
}

fn issue_json(issue: &SandboxIssue) -> Value {
    let (name, kind) = if issue.closed { ("Done", "completed") } else { ("Todo", "unstarted") };
    json!({
        "id": format!("issue-{}-{}", issue.place.to_ascii_lowercase(), issue.number), "identifier": issue.key,
        "url": format!("https://linear.app/sandbox/issue/{}", issue.key), "description": issue.body,
        "state": { "name": name, "type": kind },
    })
}

pub(super) fn router(sandbox: Arc<TrackerSandbox>) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{header, HeaderMap};

    async fn serve(
        State(sandbox): State<Arc<TrackerSandbox>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        super::trackers::respond(sandbox.linear(auth, &body)).await
    }
    axum::Router::new().route("/graphql", axum::routing::post(serve)).with_state(sandbox)
}
