//! The sandbox status page: an in-process Atlassian Statuspage (the v1 incident endpoints warroom
//! uses) served over HTTP. It keeps incidents, their updates and the page's components in memory,
//! checks every request body against the API's published shapes, enforces the API's one request
//! per second per key, and can fail on purpose: an HTTP status until a moment of the workspace
//! clock, a 429 with `Retry-After`, or a request that is applied but never answered (a timeout)
//! or answered with an error.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::SharedClock;
use crate::statuspage::schema::{self, Request};

/// Realtime incident statuses and component statuses the API accepts.
const STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];

/// A failure to inject.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this HTTP status, without applying the request.
    Status(u16),
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// Apply the request, then never answer (the client times out).
    ApplyThenHang,
    /// Apply the request, then answer with this HTTP status (a 500 after the work was done).
    ApplyThenStatus(u16),
}

#[derive(Debug)]
struct Injected {
    fault: Fault,
    /// Applies to this many requests...
    remaining: u32,
    /// ...or to every request from `from` until `until` on the workspace clock.
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// A request as the sandbox received it.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub at: DateTime<Utc>,
    /// The status it was answered with (0: never answered).
    pub status: u16,
    /// How the body departs from the API's request schema (empty when it conforms).
    pub violations: Vec<String>,
}

/// An incident on the sandbox page.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub shortlink: String,
    pub metadata: Value,
    pub components: BTreeMap<String, String>,
    /// Oldest first (the API lists them newest first).
    pub updates: Vec<Update>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Update {
    pub id: String,
    pub status: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    incidents: Vec<Incident>,
    /// Component id → (name, status).
    components: BTreeMap<String, (String, String)>,
    requests: Vec<Recorded>,
    faults: Vec<Injected>,
    last_accepted: Option<DateTime<Utc>>,
    next_id: u64,
}

/// An answer: status, JSON body, `Retry-After`; `hang` means apply and never answer.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
    pub hang: bool,
}

/// The sandbox status page: one page, one API key.
pub struct StatusPage {
    clock: SharedClock,
    key: String,
    page_id: String,
    state: Mutex<State>,
    /// Told of every request received, for tests that act the moment one arrives.
    received: tokio::sync::Notify,
}

impl StatusPage {
    pub fn new(clock: SharedClock, key: &str, page_id: &str) -> Self {
        Self { clock, key: key.into(), page_id: page_id.into(), state: Mutex::default(), received: Default::default() }
    }

    /// Waits until the page has received `count` requests in all.
    pub async fn received(&self, count: usize) {
        loop {
            let notified = self.received.notified();
            if self.lock().requests.len() >= count {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// Adds a component (operational) to the page.
    pub fn add_component(&self, id: &str, name: &str) {
        self.lock().components.insert(id.into(), (name.into(), "operational".into()));
    }

    /// A component's current status.
    pub fn component_status(&self, id: &str) -> Option<String> {
        self.lock().components.get(id).map(|(_, status)| status.clone())
    }

    /// The next `count` requests fail with `fault`.
    pub fn fail_next(&self, count: u32, fault: Fault) {
        self.lock().faults.push(Injected { fault, remaining: count, from: None, until: None });
    }

    /// Every request fails with `fault` until `until` on the workspace clock.
    pub fn fail_until(&self, until: DateTime<Utc>, fault: Fault) {
        self.lock().faults.push(Injected { fault, remaining: 0, from: None, until: Some(until) });
    }

    /// Every request from `from` until `until` (an outage planned ahead) fails with `fault`.
    pub fn fail_between(&self, from: DateTime<Utc>, until: DateTime<Utc>, fault: Fault) {
        self.lock().faults.push(Injected { fault, remaining: 0, from: Some(from), until: Some(until) });
    }

    /// A person changes an incident's status on the status page itself (not through the API).
    pub fn set_status_by_hand(&self, id: &str, status: &str) {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some(index) = state.incidents.iter().position(|i| i.id == id) else { return };
        let mut incident = state.incidents[index].clone();
        apply(
            &mut state,
            &mut incident,
            &json!({ "status": status, "body": "Changed by hand on the status page." }),
            now,
        );
        state.incidents[index] = incident;
    }

    pub fn incidents(&self) -> Vec<Incident> {
        self.lock().incidents.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Answers one API request. `authorization` is the raw header.
    pub fn handle(&self, method: &str, path: &str, authorization: Option<&str>, body: &[u8]) -> Answer {
        let now = self.clock.now();
        let mut state = self.lock();
        let body: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or(Value::Null) };
        let mut record = Recorded {
            method: method.into(),
            path: path.into(),
            body: body.clone(),
            at: now,
            status: 0,
            violations: Vec::new(),
        };
        let answer = self.answer(&mut state, now, method, path, authorization, &body, &mut record);
        record.status = if answer.hang { 0 } else { answer.status };
        state.requests.push(record);
        drop(state);
        self.received.notify_waiters();
        answer
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        state: &mut State,
        now: DateTime<Utc>,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &Value,
        record: &mut Recorded,
    ) -> Answer {
        if authorization.and_then(|h| h.strip_prefix("OAuth ")) != Some(self.key.as_str()) {
            return error(401, "Could not authenticate");
        }
        // Statuspage allows one request per second per API key. On the real clock a request
        // arrives a few milliseconds after its budget slot was taken, so the next one may arrive a
        // hair under a second later: allow that jitter (injected clocks move in whole seconds).
        if state.last_accepted.is_some_and(|last| now - last < chrono::Duration::milliseconds(900)) {
            return Answer { retry_after: Some(1), ..error(429, "Rate limit exceeded") };
        }
        state.last_accepted = Some(now);
        let (mut hang, mut spoiled) = (false, None);
        if let Some(fault) = take_fault(&mut state.faults, now) {
            match fault {
                Fault::Status(status) => return error(status, "Service Unavailable"),
                Fault::RateLimited { retry_after_secs } => {
                    return Answer { retry_after: Some(retry_after_secs), ..error(429, "Rate limit exceeded") }
                }
                Fault::ApplyThenHang => hang = true,
                Fault::ApplyThenStatus(status) => spoiled = Some(status),
            }
        }
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if let Some(answer) = self.page_read(state, method, path) {
            return answer;
        }
        let prefix = format!("/pages/{}/incidents", self.page_id);
        let Some(rest) = path.strip_prefix(&prefix) else {
            return error(404, "The requested resource could not be found.");
        };
        let answer = match (method, rest.trim_end_matches(".json")) {
            ("POST", "") => self.create(state, now, body, record),
            ("GET", "/unresolved") => {
                let number = |key: &str, default: usize| {
                    let value = query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='));
                    value.and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
                };
                let (page, per_page) = (number("page", 1), number("per_page", 100));
                let open: Vec<Value> = state
                    .incidents
                    .iter()
                    .filter(|i| i.resolved_at.is_none())
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|i| self.render(state, i))
                    .collect();
                ok(200, Value::Array(open))
            }
            ("GET", id) => match state.incidents.iter().find(|i| Some(i.id.as_str()) == id.strip_prefix('/')) {
                Some(incident) => ok(200, self.render(state, incident)),
                None => error(404, "The requested resource could not be found."),
            },
            ("PATCH" | "PUT", id) => self.update(state, now, id.trim_start_matches('/'), body, record),
            _ => error(405, "Method not allowed"),
        };
        match spoiled {
            Some(status) if answer.status < 300 => error(status, "Internal Server Error"),
            _ => Answer { hang: hang && answer.status < 300, ..answer },
        }
    }

    /// `GET /pages/{id}` and `GET /pages/{id}/components` (what `warroom doctor` reads); `None`
    /// for every other request. A wrong page id falls through to the API's 404.
    fn page_read(&self, state: &State, method: &str, path: &str) -> Option<Answer> {
        let page = format!("/pages/{}", self.page_id);
        let rest = path.trim_end_matches(".json").strip_prefix(&page)?;
        match (method, rest) {
            ("GET", "") => Some(ok(200, json!({ "id": self.page_id, "name": "Sandbox status page" }))),
            ("GET", "/components") => {
                let components: Vec<Value> = state
                    .components
                    .iter()
                    .map(|(id, (name, status))| json!({ "id": id, "name": name, "status": status, "page_id": self.page_id }))
                    .collect();
                Some(ok(200, Value::Array(components)))
            }
            _ => None,
        }
    }

    fn create(&self, state: &mut State, now: DateTime<Utc>, body: &Value, record: &mut Recorded) -> Answer {
        if let Err(answer) = check(state, Request::Create, body, record) {
            return answer;
        }
        let incident = &body["incident"];
        state.next_id += 1;
        let id = format!("sbx{:09}", state.next_id);
        let mut created = Incident {
            shortlink: format!("https://stspg.io/{id}"),
            id,
            name: incident["name"].as_str().unwrap_or_default().into(),
            status: incident["status"].as_str().unwrap_or("investigating").into(),
            impact: incident["impact_override"].as_str().unwrap_or("none").into(),
            metadata: incident.get("metadata").cloned().unwrap_or_else(|| json!({})),
            components: BTreeMap::new(),
            updates: Vec::new(),
            created_at: now,
            resolved_at: None,
        };
        apply(state, &mut created, incident, now);
        let rendered = self.render(state, &created);
        state.incidents.push(created);
        ok(201, rendered)
    }

    fn update(&self, state: &mut State, now: DateTime<Utc>, id: &str, body: &Value, record: &mut Recorded) -> Answer {
        if let Err(answer) = check(state, Request::Update, body, record) {
            return answer;
        }
        let Some(index) = state.incidents.iter().position(|i| i.id == id) else {
            return error(404, "The requested resource could not be found.");
        };
        let mut incident = state.incidents[index].clone();
        let fields = &body["incident"];
        if let Some(name) = fields["name"].as_str() {
            incident.name = name.into();
        }
        if let Some(impact) = fields["impact_override"].as_str() {
            incident.impact = impact.into();
        }
        apply(state, &mut incident, fields, now);
        let rendered = self.render(state, &incident);
        state.incidents[index] = incident;
        ok(200, rendered)
    }

    /// The API's JSON for an incident.
    fn render(&self, state: &State, incident: &Incident) -> Value {
        let components: Vec<Value> = incident
            .components
            .keys()
            .map(|id| {
                let (name, status) = state.components.get(id).cloned().unwrap_or_default();
                json!({ "id": id, "name": name, "status": status, "page_id": self.page_id })
            })
            .collect();
        let updates: Vec<Value> = incident
            .updates
            .iter()
            .rev()
            .map(|u| {
                json!({ "id": u.id, "incident_id": incident.id, "status": u.status, "body": u.body,
                        "created_at": u.created_at, "display_at": u.created_at, "deliver_notifications": true })
            })
            .collect();
        json!({
            "id": incident.id, "page_id": self.page_id, "name": incident.name, "status": incident.status,
            "impact": incident.impact, "impact_override": incident.impact, "shortlink": incident.shortlink,
            "metadata": incident.metadata, "components": components, "incident_updates": updates,
            "created_at": incident.created_at, "updated_at": incident.updates.last().map(|u| u.created_at),
            "resolved_at": incident.resolved_at,
        })
    }
}

/// Checks a create or update body: the API's schema, then its limits and references.
fn check(state: &State, request: Request, body: &Value, record: &mut Recorded) -> Result<(), Answer> {
    if let Err(violations) = schema::check(request, body) {
        let message = violations.join("; ");
        record.violations = violations;
        return Err(error(422, &message));
    }
    let incident = &body["incident"];
    if incident["name"].as_str().is_some_and(|n| n.chars().count() > crate::statuspage::client::NAME_LIMIT) {
        return Err(error(422, "Name is too long (maximum is 255 characters)"));
    }
    if incident["body"].as_str().is_some_and(|b| b.chars().count() > crate::statuspage::client::BODY_LIMIT) {
        return Err(error(422, "Body is too long (maximum is 25000 characters)"));
    }
    if incident["status"].as_str().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(error(422, "Status is not valid for a realtime incident"));
    }
    if incident["metadata"].as_object().is_some_and(|m| m.values().any(|v| !v.is_object())) {
        return Err(error(422, "Metadata: all top-level values must be objects"));
    }
    let ids = incident["component_ids"].as_array().into_iter().flatten().filter_map(Value::as_str);
    let keys = incident["components"].as_object().into_iter().flat_map(|m| m.keys().map(String::as_str));
    if let Some(unknown) = ids.chain(keys).find(|id| !state.components.contains_key(*id)) {
        return Err(error(422, &format!("Component {unknown} could not be found on this page")));
    }
    Ok(())
}

/// Applies status, body and component changes; a body or a new status makes an incident update.
fn apply(state: &mut State, incident: &mut Incident, fields: &Value, now: DateTime<Utc>) {
    let status = fields["status"].as_str().unwrap_or(&incident.status).to_string();
    let body = fields["body"].as_str();
    if body.is_some() || status != incident.status || incident.updates.is_empty() {
        state.next_id += 1;
        incident.updates.push(Update {
            id: format!("upd{:09}", state.next_id),
            status: status.clone(),
            body: body.unwrap_or_default().into(),
            created_at: now,
        });
    }
    incident.resolved_at = if status == "resolved" { incident.resolved_at.or(Some(now)) } else { None };
    incident.status = status;
    for id in fields["component_ids"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        incident.components.entry(id.into()).or_insert_with(|| "major_outage".into());
    }
    for (id, status) in fields["components"].as_object().into_iter().flatten() {
        let status = status.as_str().unwrap_or("operational").to_string();
        incident.components.insert(id.clone(), status.clone());
        if let Some(component) = state.components.get_mut(id) {
            component.1 = status;
        }
    }
}

fn take_fault(faults: &mut Vec<Injected>, now: DateTime<Utc>) -> Option<Fault> {
    faults.retain(|f| f.remaining > 0 || f.until.is_some_and(|until| now < until));
    let injected = faults.iter_mut().find(|f| f.from.is_none_or(|from| from <= now))?;
    if injected.until.is_none() {
        injected.remaining -= 1;
    }
    Some(injected.fault.clone())
}

fn ok(status: u16, body: Value) -> Answer {
    Answer { status, body, retry_after: None, hang: false }
}

fn error(status: u16, message: &str) -> Answer {
    Answer { status, body: json!({ "error": message }), retry_after: None, hang: false }
}

/// The sandbox status page over HTTP: `/v1/pages/{page_id}/incidents...`.
pub fn router(page: std::sync::Arc<StatusPage>) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};

    async fn serve(
        State(page): State<std::sync::Arc<StatusPage>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        // Nested or not, the API path is what follows `/v1`.
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let path = path.find("/v1/").map_or(path, |i| &path[i + 3..]);
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let answer = page.handle(method.as_str(), path, auth, &body);
        if answer.hang {
            std::future::pending::<()>().await;
        }
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(answer.body)).into_response();
        if let Some(secs) = answer.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        response
    }

    axum::Router::new().route("/v1/{*path}", axum::routing::any(serve)).with_state(page)
}
