//! The Atlassian Statuspage REST API v1 client: create, update, read and list unresolved
//! incidents on one page, with the error distinctions the push jobs need (retry or not; did the
//! request perhaps reach the server).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;

/// Statuspage's limits on an incident's name and on one update's body.
pub const NAME_LIMIT: usize = 255;
pub const BODY_LIMIT: usize = 25_000;
const TRUNCATED: &str = "\n\n[… shortened by warroom: the full text is in the incident channel]";

/// Unresolved incidents are read 100 to a page, at most this many pages.
pub const PER_PAGE: usize = 100;
pub const MAX_PAGES: u32 = 20;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StatuspageError {
    /// The API answered with an error status; `message` is its `error`/`message` text.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String, retry_after: Option<Duration> },
    /// No answer. `maybe_sent`: the request may have reached the server (a timeout, a dropped
    /// connection) rather than failing before it was sent (connection refused).
    #[error("{message}")]
    Transport { message: String, maybe_sent: bool },
    /// An answer that is not the API's.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl StatuspageError {
    /// 429, 5xx and network failures are worth another attempt; other 4xx never succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::Decode(_) => false,
        }
    }

    /// The request may have been applied although it did not succeed: check before repeating it.
    /// (503 says the server did not take the request; 500, 502 and 504 leave it open.)
    pub fn maybe_applied(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 && *status != 503,
            Self::Transport { maybe_sent, .. } => *maybe_sent,
            Self::Decode(_) => true,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The failure's class as a metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Status { status, .. } => crate::metrics::status_outcome(*status),
            Self::Transport { .. } => "transport",
            Self::Decode(_) => "decode",
        }
    }

    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The `incident` object of a create or update request.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IncidentRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_override: Option<String>,
    pub component_ids: Vec<String>,
    pub components: BTreeMap<String, String>,
    pub deliver_notifications: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// One update of a status page incident, as customers see it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IncidentUpdate {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub status: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A status page incident (the fields warroom reads).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RemoteIncident {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    pub shortlink: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    /// Newest first, as the API lists them.
    #[serde(default)]
    pub incident_updates: Vec<IncidentUpdate>,
}

impl RemoteIncident {
    /// The warroom incident this one mirrors, from the metadata warroom set when creating it.
    pub fn warroom_id(&self) -> Option<uuid::Uuid> {
        self.metadata.get("warroom")?.get("incident_id")?.as_str()?.parse().ok()
    }

    /// The newest update.
    pub fn latest_update(&self) -> Option<&IncidentUpdate> {
        self.incident_updates.iter().max_by_key(|u| u.created_at)
    }
}

/// A client for one page, with one API key.
#[derive(Debug, Clone)]
pub struct StatuspageClient {
    http: reqwest::Client,
    base_url: String,
    key: Secret,
    page_id: String,
    /// Pushes go to the in-process sandbox status page.
    sandbox: bool,
    /// Counts requests by operation and outcome (a private registry until [`Self::with_metrics`]).
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl StatuspageClient {
    pub fn new(http: reqwest::Client, base_url: &str, key: Secret, page_id: &str, sandbox: bool) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        Self { http, base_url, key, page_id: page_id.to_string(), sandbox, metrics: Default::default() }
    }

    /// Counts this client's requests in `metrics`.
    pub fn with_metrics(self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics, ..self }
    }

    pub fn is_sandbox(&self) -> bool {
        self.sandbox
    }

    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// The name the shared request budget is kept under: per API key, never the key itself.
    pub fn budget_key(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.key.expose().as_bytes());
        format!("statuspage:{}", hex::encode(&digest[..8]))
    }

    pub async fn create(&self, incident: &IncidentRequest) -> Result<RemoteIncident, StatuspageError> {
        let url = format!("{}/pages/{}/incidents", self.base_url, self.page_id);
        self.send("create", self.http.post(url).json(&serde_json::json!({ "incident": incident }))).await
    }

    pub async fn update(&self, id: &str, incident: &IncidentRequest) -> Result<RemoteIncident, StatuspageError> {
        let url = format!("{}/pages/{}/incidents/{}", self.base_url, self.page_id, id);
        self.send("update", self.http.patch(url).json(&serde_json::json!({ "incident": incident }))).await
    }

    pub async fn get(&self, id: &str) -> Result<RemoteIncident, StatuspageError> {
        let url = format!("{}/pages/{}/incidents/{}", self.base_url, self.page_id, id);
        self.send("get", self.http.get(url)).await
    }

    /// One page ([`PER_PAGE`] incidents) of the page's unresolved incidents.
    pub async fn unresolved(&self, page: u32) -> Result<Vec<RemoteIncident>, StatuspageError> {
        let url =
            format!("{}/pages/{}/incidents/unresolved?page={page}&per_page={PER_PAGE}", self.base_url, self.page_id);
        self.send("unresolved", self.http.get(url)).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StatuspageError> {
        let result = self.send_uncounted(request).await;
        self.metrics.statuspage_request(operation, result.as_ref().map_or_else(StatuspageError::outcome, |_| "ok"));
        result
    }

    async fn send_uncounted<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StatuspageError> {
        let response = request
            .header(reqwest::header::AUTHORIZATION, format!("OAuth {}", self.key.expose()))
            .send()
            .await
            .map_err(|e| StatuspageError::Transport {
                maybe_sent: !e.is_connect(),
                message: if e.is_timeout() { "no answer in time".into() } else { format!("connection failed: {e}") },
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| StatuspageError::Transport {
            message: format!("the answer was cut off: {e}"),
            maybe_sent: true,
        })?;
        if !(200..300).contains(&status) {
            return Err(StatuspageError::Status { status, message: error_message(&bytes), retry_after });
        }
        serde_json::from_slice(&bytes).map_err(|e| StatuspageError::Decode(e.to_string()))
    }
}

/// The API's error text: `{"error": ...}` or `{"message": ...}` (a string or a list), else the body.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let field = v.get("error").or_else(|| v.get("message"))?;
        Some(match field {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
            other => other.to_string(),
        })
    });
    let message = message.unwrap_or_else(|| text.trim().to_string());
    truncate(&message, 300, "…")
}

/// `text` cut to at most `limit` characters, ending with `marker` when it was cut.
pub fn truncate(text: &str, limit: usize, marker: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let keep = limit.saturating_sub(marker.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(marker);
    out
}

/// An incident name within Statuspage's limit.
pub fn fit_name(name: &str) -> String {
    truncate(name, NAME_LIMIT, "…")
}

/// An update body within Statuspage's limit: longer text is shortened with a marker, never refused.
pub fn fit_body(body: &str) -> String {
    truncate(body, BODY_LIMIT, TRUNCATED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_body_is_shortened_to_the_limit_with_a_marker() {
        let body = "é".repeat(30_000);
        let fitted = fit_body(&body);
        assert_eq!(fitted.chars().count(), BODY_LIMIT);
        assert!(fitted.ends_with("the full text is in the incident channel]"));
        assert_eq!(fit_body("short"), "short");
    }

    #[test]
    fn the_api_error_text_is_read_from_either_shape() {
        assert_eq!(error_message(br#"{"error": "Name can't be blank"}"#), "Name can't be blank");
        assert_eq!(error_message(br#"{"message": ["a", "b"]}"#), "a; b");
        assert_eq!(error_message(b"Service Unavailable"), "Service Unavailable");
    }

    #[test]
    fn only_throttling_server_errors_and_network_failures_are_retried() {
        let status = |status| StatuspageError::Status { status, message: String::new(), retry_after: None };
        assert!(status(429).is_retryable() && !status(429).maybe_applied());
        assert!(status(503).is_retryable() && !status(503).maybe_applied());
        assert!(status(504).is_retryable() && status(504).maybe_applied());
        assert!(!status(422).is_retryable());
        let refused = StatuspageError::Transport { message: String::new(), maybe_sent: false };
        assert!(refused.is_retryable() && !refused.maybe_applied());
    }
}
