//! The sandbox PagerDuty: the Events API v2 endpoint (`POST /v2/enqueue`) in process, served over
//! HTTP. It validates events as PagerDuty does (routing key, action, the trigger's payload), keeps
//! one alert per `dedup_key`, and can answer 429 or 5xx on purpose.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::SharedClock;

/// An event as received, and the status it was answered with.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub body: Value,
    pub status: u16,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<Event>,
    /// dedup_key → `triggered` | `resolved`.
    alerts: BTreeMap<String, String>,
    /// Statuses to answer the next requests with.
    faults: Vec<u16>,
}

pub struct PagerDutySandbox {
    clock: SharedClock,
    routing_key: String,
    state: Mutex<State>,
}

impl PagerDutySandbox {
    pub fn new(clock: SharedClock, routing_key: &str) -> Self {
        Self { clock, routing_key: routing_key.into(), state: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next requests are answered with these statuses (429, 500, ...), in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().faults.extend_from_slice(statuses);
    }

    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// Each alert's state by `dedup_key`.
    pub fn alerts(&self) -> BTreeMap<String, String> {
        self.lock().alerts.clone()
    }

    /// Answers one event: (status, body).
    pub fn enqueue(&self, body: &[u8]) -> (u16, Value) {
        let now = self.clock.now();
        let mut state = self.lock();
        let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let (status, answer) = if !state.faults.is_empty() {
            let status = state.faults.remove(0);
            let message =
                if status == 429 { "Requests for this service are arriving too quickly" } else { "Internal error" };
            (status, json!({ "status": if status == 429 { "throttle event" } else { "error" }, "message": message }))
        } else {
            match self.validate(&event) {
                Err(errors) => {
                    (400, json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors }))
                }
                Ok(()) => {
                    let key = event["dedup_key"].as_str().unwrap_or_default().to_string();
                    let action = event["event_action"].as_str().unwrap_or_default();
                    let entry = state.alerts.entry(key.clone());
                    match action {
                        "trigger" => {
                            entry
                                .and_modify(|s| {
                                    if s == "resolved" {
                                        *s = "triggered".into()
                                    }
                                })
                                .or_insert_with(|| "triggered".into());
                        }
                        "resolve" => {
                            entry.and_modify(|s| *s = "resolved".into());
                        }
                        _ => {}
                    }
                    (202, json!({ "status": "success", "message": "Event processed", "dedup_key": key }))
                }
            }
        };
        state.events.push(Event { body: event, status, at: now });
        (status, answer)
    }

    fn validate(&self, event: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if event["routing_key"].as_str() != Some(self.routing_key.as_str()) {
            errors.push("'routing_key' is invalid".to_string());
        }
        let action = event["event_action"].as_str().unwrap_or_default();
        if !["trigger", "acknowledge", "resolve"].contains(&action) {
            errors.push("'event_action' must be one of trigger, acknowledge, resolve".into());
        }
        let key = event["dedup_key"].as_str().unwrap_or_default();
        if key.chars().count() > 255 || (action != "trigger" && key.is_empty()) {
            errors.push("'dedup_key' is missing or longer than 255 characters".into());
        }
        if action == "trigger" {
            let payload = &event["payload"];
            let summary = payload["summary"].as_str().unwrap_or_default();
            if summary.is_empty() || summary.chars().count() > 1024 {
                errors.push("'payload.summary' is missing or longer than 1024 characters".into());
            }
            if payload["source"].as_str().is_none_or(str::is_empty) {
                errors.push("'payload.source' is missing".into());
            }
            if !["critical", "error", "warning", "info"].contains(&payload["severity"].as_str().unwrap_or_default()) {
                errors.push("'payload.severity' must be one of critical, error, warning, info".into());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The sandbox's REST API key (`PAGERDUTY_API_TOKEN`): the one `GET /abilities` accepts.
pub const REST_TOKEN: &str = "u+sandboxrestapikey0";

/// `GET /abilities` of the REST API: what the account may do, for a token that answers
/// (`Authorization: Token token=…`); 401 otherwise, as PagerDuty answers.
fn abilities(authorization: Option<&str>) -> (u16, Value) {
    if authorization.and_then(|h| h.strip_prefix("Token token=")) == Some(REST_TOKEN) {
        (200, json!({ "abilities": ["teams", "read_only_users", "urgencies"] }))
    } else {
        (401, json!({ "error": { "message": "Authentication failed", "code": 2006 } }))
    }
}

/// The sandbox PagerDuty over HTTP: `POST /v2/enqueue` (Events API v2) and `GET /abilities`
/// (the one REST request, which `warroom doctor` makes).
pub fn router(sandbox: std::sync::Arc<PagerDutySandbox>) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    async fn enqueue(State(sandbox): State<std::sync::Arc<PagerDutySandbox>>, body: Bytes) -> axum::response::Response {
        let (status, answer) = sandbox.enqueue(&body);
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(answer)).into_response()
    }

    async fn rest_abilities(headers: axum::http::HeaderMap) -> axum::response::Response {
        let authorization = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let (status, answer) = abilities(authorization);
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(answer)).into_response()
    }

    axum::Router::new()
        .route("/v2/enqueue", axum::routing::post(enqueue))
        .route("/abilities", axum::routing::get(rest_abilities))
        .with_state(sandbox)
}
