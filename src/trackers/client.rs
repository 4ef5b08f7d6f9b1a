//! What the three tracker clients share: the issue as warroom keeps it, the error classes the
//! jobs need (refused for good, throttled, outcome unknown, not sent), and one request sender
//! that reads rate-limit headers and never puts a URL or a token into an error's text.

use std::time::Duration;

use serde_json::Value;

/// An issue as warroom keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `acme/api#12`, `OPS-7`, `ENG-3`.
    pub key: String,
    pub url: String,
    /// The tracker's own word for its state.
    pub state: String,
    /// Closed / done / completed / cancelled: the follow-up is done.
    pub closed: bool,
}

/// What warroom asks a tracker to create.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub title: String,
    /// Plain text; its last line is the marker.
    pub body: String,
    pub marker: String,
    pub labels: Vec<String>,
    /// The owner's Slack email, to find them in the tracker.
    pub owner_email: Option<String>,
    /// When it is due (its horizon from when it was added).
    pub due: chrono::NaiveDate,
}

/// Why a tracker call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TrackerError {
    /// The tracker refused (401, 403, 404, 410, 422, a GraphQL error): will not change.
    #[error("HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    /// Rate limited: come back after `after`.
    #[error("rate limited ({message}), retrying in {}s", after.as_secs())]
    Throttled { after: Duration, message: String },
    /// No answer, or a 5xx: the request may have been carried out.
    #[error("{message}")]
    Unknown { message: String },
    /// Not sent (connection refused) or refused before it was carried out (503).
    #[error("{message}")]
    NotSent { message: String },
    /// warroom has no credentials for this tracker.
    #[error("{0}")]
    NotConfigured(String),
}

impl TrackerError {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::NotConfigured(_))
    }
}

/// Sends `request` and reads the answer's JSON. `limited` says whether an answer is a rate limit and
/// for how long (each tracker says it in its own headers, or its body).
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    limited: impl Fn(u16, &reqwest::header::HeaderMap, &Value) -> Option<Duration>,
) -> Result<Value, TrackerError> {
    send_keeping(request, limited, false).await.map(|(_, body)| body)
}

/// [`send`] for GraphQL, whose 4xx bodies say what was wrong in `errors` (with a code): a 4xx
/// answer is returned with its status for the caller to read.
pub(super) async fn send_graphql(
    request: reqwest::RequestBuilder,
    limited: impl Fn(u16, &reqwest::header::HeaderMap, &Value) -> Option<Duration>,
) -> Result<(u16, Value), TrackerError> {
    send_keeping(request, limited, true).await
}

async fn send_keeping(
    request: reqwest::RequestBuilder,
    limited: impl Fn(u16, &reqwest::header::HeaderMap, &Value) -> Option<Duration>,
    keep_4xx: bool,
) -> Result<(u16, Value), TrackerError> {
    let response = request.send().await.map_err(|e| {
        // A connection refused never reached the tracker; anything else may have.
        if e.is_connect() {
            TrackerError::NotSent { message: cause(e) }
        } else {
            TrackerError::Unknown { message: cause(e) }
        }
    })?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| TrackerError::Unknown { message: cause(e) })?;
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text_of(&body)));
    let wait = limited(status, &headers, &body);
    if let Some(after) = wait {
        return Err(TrackerError::Throttled { after, message: format!("HTTP {status}: {}", message_of(&body)) });
    }
    match status {
        200..=299 => Ok((status, body)),
        400..=499 if keep_4xx && status != 408 => Ok((status, body)),
        503 => Err(TrackerError::NotSent { message: format!("HTTP 503: {}", message_of(&body)) }),
        500..=599 => Err(TrackerError::Unknown { message: format!("HTTP {status}: {}", message_of(&body)) }),
        408 => Err(TrackerError::Unknown { message: "HTTP 408: request timeout".into() }),
        _ => Err(TrackerError::Refused { status, message: message_of(&body) }),
    }
}

/// The human part of an error body: GitHub's `message` (with its `errors`), Jira's
/// `errorMessages` and `errors`, a GraphQL `errors[].message`, or the text itself.
pub(super) fn message_of(body: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = body["message"].as_str() {
        parts.push(m.to_string());
    }
    for e in body["errors"].as_array().into_iter().flatten() {
        let detail = e["message"].as_str().map(str::to_string).unwrap_or_else(|| {
            let field = e["field"].as_str().unwrap_or_default();
            let code = e["code"].as_str().unwrap_or_default();
            format!("{field} {code}").trim().to_string()
        });
        if !detail.is_empty() {
            parts.push(detail);
        }
    }
    for m in body["errorMessages"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        parts.push(m.to_string());
    }
    for (field, m) in body["errors"].as_object().into_iter().flatten() {
        parts.push(format!("{field}: {}", m.as_str().unwrap_or_default()));
    }
    if let Some(text) = body.as_str() {
        parts.push(text.to_string());
    }
    let text = parts.join("; ");
    let text = if text.is_empty() { "no message".to_string() } else { text };
    crate::slack::limits::label(&text, 300)
}

fn text_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// What went wrong in sending, with its causes but without the URL.
fn cause(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = if error.is_timeout() { "no answer in time".to_string() } else { error.to_string() };
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

/// A header's value as a number.
pub(super) fn header_number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Whether `text` carries `marker` exactly (`warroom:followup:12` is not in
/// `warroom:followup:123`).
pub fn has_marker(text: &str, marker: &str) -> bool {
    text.match_indices(marker).any(|(at, _)| !text[at + marker.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_match_whole_ids() {
        assert!(has_marker("body\n\nwarroom:followup:12", "warroom:followup:12"));
        assert!(has_marker("warroom:followup:12 more", "warroom:followup:12"));
        assert!(!has_marker("warroom:followup:123", "warroom:followup:12"));
    }

    #[test]
    fn error_bodies_of_each_tracker_read_as_one_line() {
        let github = json!({ "message": "Validation Failed",
            "errors": [{ "resource": "Issue", "code": "missing_field", "field": "title" }] });
        assert_eq!(message_of(&github), "Validation Failed; title missing_field");
        let jira = json!({ "errorMessages": [], "errors": { "project": "valid project is required" } });
        assert_eq!(message_of(&jira), "project: valid project is required");
        let linear = json!({ "errors": [{ "message": "Authentication required, not authenticated" }] });
        assert_eq!(message_of(&linear), "Authentication required, not authenticated");
    }
}
