//! The sandbox Jira Cloud REST v3: `POST /rest/api/3/issue` (an ADF description, a
//! `YYYY-MM-DD` due date; Jira's 400 `errors` by field otherwise), `GET /rest/api/3/issue/{key}`,
//! `GET /rest/api/3/search/jql` (the `text ~ "marker"` search), `GET /rest/api/3/user/search`.
//! Basic auth with the sandbox's email and API token (401 otherwise); a rate limit is a 429
//! with `Retry-After`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::trackers::{marker_in, Answer, Fault, Kind, Op, SandboxIssue, TrackerSandbox, JIRA_EMAIL, JIRA_TOKEN};

impl TrackerSandbox {
    fn jira(&self, site: &str, method: &str, path: &str, query: &str, auth: Option<&str>, body: &[u8]) -> Answer {
        let mut state = self.lock();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let op = match (method, segments.as_slice()) {
            ("POST", ["issue"]) => Op::Create,
            ("GET", ["issue", _]) => Op::Get,
            ("GET", ["search", "jql"]) => Op::Search,
            ("GET", ["user", "search"]) => Op::Users,
            _ => return refusal(404),
        };
        let expected = format!("{JIRA_EMAIL}:{JIRA_TOKEN}");
        let authorized =
            auth.and_then(|a| a.strip_prefix("Basic ")).and_then(decode_base64).as_deref() == Some(expected.as_str());
        let fault = self.take_fault(&mut state, Kind::Jira, op);
        let mut answer = match (&fault, authorized) {
            (Some(Fault::Refuse(status)), _) => refusal(*status),
            (Some(Fault::RateLimited(secs)), _) => {
                let mut a = Answer::json(429, json!({ "errorMessages": ["Rate limit exceeded."], "errors": {} }));
                a.headers.push(("retry-after", secs.to_string()));
                a
            }
            (_, false) => refusal(401),
            _ => {
                let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                match op {
                    Op::List => refusal(404),
                    Op::Create => create(&mut state, site, &body),
                    Op::Get => match state.issues.iter().find(|i| i.tracker == Kind::Jira && i.key == segments[1]) {
                        Some(issue) => Answer::json(200, issue_json(issue, site)),
                        None => refusal(404),
                    },
                    Op::Search => {
                        let jql = param(query, "jql");
                        let marker = marker_in(&jql);
                        let issues: Vec<Value> = state
                            .issues
                            .iter()
                            .filter(|i| i.tracker == Kind::Jira && jql.contains(&format!("project = \"{}\"", i.place)))
                            .filter(|i| marker.as_ref().is_some_and(|m| i.body.contains(m.as_str())))
                            .map(|i| issue_json(i, site))
                            .collect();
                        Answer::json(200, json!({ "issues": issues, "isLast": true }))
                    }
                    Op::Users => {
                        let email = param(query, "query").to_ascii_lowercase();
                        let people: Vec<Value> = state
                            .people
                            .iter()
                            .filter(|p| p.email == email)
                            .map(|p| {
                                json!({ "accountId": p.jira_account, "accountType": "atlassian",
                                              "emailAddress": p.email, "displayName": p.email, "active": true })
                            })
                            .collect();
                        Answer::json(200, Value::Array(people))
                    }
                }
            }
        };
        match fault {
            Some(Fault::ApplyThenStatus(status)) if answer.status < 300 => {
                answer = Answer::json(status, json!({ "errorMessages": ["Internal server error"], "errors": {} }));
            }
            Some(Fault::ApplyThenHang) if answer.status < 300 => answer.hang = true,
            _ => {}
        }
        TrackerSandbox::log(&mut state, Kind::Jira, op, authorized, answer.status);
        answer
    }
}

fn create(state: &mut super::trackers::State, site: &str, body: &Value) -> Answer {
    let fields = &body["fields"];
    let mut errors = serde_json::Map::new();
    let project = fields["project"]["key"].as_str().unwrap_or_default().to_string();
    if project.is_empty() {
        errors.insert("project".into(), json!("valid project is required"));
    }
    let summary = fields["summary"].as_str().unwrap_or_default().trim().to_string();
    if summary.is_empty() {
        errors.insert("summary".into(), json!("You must specify a summary of the issue."));
    }
    if fields["issuetype"]["name"].as_str().is_none() && fields["issuetype"]["id"].as_str().is_none() {
        errors.insert("issuetype".into(), json!("Specify an issue type"));
    }
    let description = &fields["description"];
    if !description.is_null() && (description["type"] != "doc" || description["version"] != 1) {
        errors.insert(
            "description".into(),
            json!("Operation value must be an Atlassian Document (see the Atlassian Document Format)"),
        );
    }
    let due = fields["duedate"].as_str().map(str::to_string);
    if due.as_deref().is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()) {
        errors.insert("duedate".into(), json!("Error parsing date string: the date format is yyyy-MM-dd"));
    }
    let assignee = fields["assignee"]["id"].as_str().or(fields["assignee"]["accountId"].as_str()).map(str::to_string);
    if assignee.as_ref().is_some_and(|a| !state.people.iter().any(|p| &p.jira_account == a)) {
        errors.insert("assignee".into(), json!("Specify a valid value for assignee"));
    }
    if !errors.is_empty() {
        return Answer::json(400, json!({ "errorMessages": [], "errors": errors }));
    }
    let issue = SandboxIssue {
        tracker: Kind::Jira,
        place: project,
        key: String::new(),
        number: 0,
        title: summary,
        body: crate::trackers::jira::adf_text(description),
        labels: fields["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
        assignee,
        due,
        closed: false,
    };
    let issue = TrackerSandbox::add_issue(state, issue);
    let id = 10000 + issue.number;
    Answer::json(
        201,
        json!({ "id": id.to_string(), "key": issue.key, "self": format!("{site}/rest/api/3/issue/{id}") }),
    )
}

/// Jira's own bodies for the statuses it refuses with.
fn refusal(status: u16) -> Answer {
    let message = match status {
        401 => "Client must be authenticated to access this resource.",
        403 => "You do not have permission to create issues in this project.",
        404 => "Issue does not exist or you do not have permission to see it.",
        400 | 422 => "The request was not valid.",
        _ => "Internal server error",
    };
    let mut body = json!({ "errorMessages": [message], "errors": {} });
    if status == 422 || status == 400 {
        body = json!({ "errorMessages": [], "errors": { "project": "valid project is required" } });
    }
    Answer::json(status, body)
}

fn issue_json(issue: &SandboxIssue, site: &str) -> Value {
    let (name, category) = if issue.closed { ("Done", "done") } else { ("To Do", "new") };
    json!({
        "id": (10000 + issue.number).to_string(), "key": issue.key, "self": format!("{site}/rest/api/3/issue/{}", issue.key),
        "fields": {
            "status": { "name": name, "statusCategory": { "key": category, "name": name } },
            "description": crate::trackers::jira::adf(&issue.body),
            "summary": issue.title,
        }
    })
}

fn param(query: &str, key: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap_or_default()
}

/// Standard base64, as basic auth writes it.
fn decode_base64(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim().bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
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
        let full = uri.path().to_string();
        let (site, path) = match full.find("/rest/api/3") {
            Some(at) => (&full[..at], &full[at + "/rest/api/3".len()..]),
            None => (full.as_str(), ""),
        };
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
        let site = format!("http://{host}{site}");
        let answer = sandbox.jira(&site, method.as_str(), path, uri.query().unwrap_or_default(), auth, &body);
        super::trackers::respond(answer).await
    }
    axum::Router::new().route("/{*path}", axum::routing::any(serve)).with_state(sandbox)
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_auth_decodes() {
        assert_eq!(super::decode_base64("dXNlcjpwYXNz").as_deref(), Some("user:pass"));
        assert_eq!(super::decode_base64("YQ==").as_deref(), Some("a"));
    }
}
