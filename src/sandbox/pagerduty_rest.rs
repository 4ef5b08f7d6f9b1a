//! The sandbox PagerDuty REST API (v2): users with emails, schedules made of layers of
//! rotating shifts (a later layer overrides an earlier one, a layer may be restricted to a daily
//! window), escalation policies whose levels point at schedules or users, and `GET /oncalls`
//! computed from them on the injected clock — so a test moves the clock across a shift change.
//! It checks the request as PagerDuty does (the `Token token=` key, the v2 media type), answers
//! 401 with PagerDuty's error body, and can be made to throttle (429, `Retry-After`) or fail.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::{json, Value};

use super::pagerduty::REST_TOKEN;
use crate::clock::SharedClock;

/// One layer: `users` take turns of `turn`, from `start`; with `daily` only inside the daily
/// window (seconds after midnight UTC, length in seconds).
#[derive(Debug, Clone)]
pub struct Layer {
    pub start: DateTime<Utc>,
    pub turn: Duration,
    pub users: Vec<String>,
    pub daily: Option<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct Schedule {
    id: String,
    name: String,
    layers: Vec<Layer>,
}

/// What an escalation policy's level names.
#[derive(Debug, Clone)]
pub enum Target {
    Schedule(String),
    User(String),
}

#[derive(Debug, Clone)]
struct Policy {
    id: String,
    name: String,
    levels: Vec<Vec<Target>>,
}

#[derive(Debug, Default)]
struct State {
    /// (id, name, email).
    users: Vec<(String, String, String)>,
    schedules: Vec<Schedule>,
    policies: Vec<Policy>,
    /// Statuses to answer the next requests with, in order.
    faults: Vec<u16>,
    /// While set, every request is answered 503.
    down: bool,
    /// Each request's query string and whether its key was accepted.
    requests: Vec<(String, bool)>,
}

/// The sandbox's schedule and escalation policy of the default world (`sandbox mode`).
pub const SANDBOX_SCHEDULE: &str = "PSBXPRI";
pub const SANDBOX_POLICY: &str = "PSBXESC";

pub struct PagerDutyRest {
    clock: SharedClock,
    state: Mutex<State>,
}

impl PagerDutyRest {
    /// An account with nobody in it.
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, state: Mutex::default() }
    }

    /// The first run's account: alice, bob and carol (their sandbox Slack emails), and the
    /// schedule "Primary on-call" in which bob holds 03:00–15:00 UTC and alice 15:00–03:00,
    /// behind the escalation policy "Sandbox escalation".
    pub fn with_default_world(clock: SharedClock) -> Self {
        let rest = Self::new(clock);
        for name in ["alice", "bob", "carol"] {
            rest.add_user(&user_id(name), name, &super::sandbox_email(name));
        }
        let start = DateTime::parse_from_rfc3339("2026-01-01T03:00:00Z").map(|t| t.with_timezone(&Utc));
        let layer = Layer {
            start: start.unwrap_or_default(),
            turn: Duration::hours(12),
            users: vec![user_id("bob"), user_id("alice")],
            daily: None,
        };
        rest.add_schedule(SANDBOX_SCHEDULE, "Primary on-call", vec![layer]);
        rest.add_policy(SANDBOX_POLICY, "Sandbox escalation", vec![vec![Target::Schedule(SANDBOX_SCHEDULE.into())]]);
        rest
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_user(&self, id: &str, name: &str, email: &str) {
        self.lock().users.push((id.into(), name.into(), email.into()));
    }

    /// Adds (or replaces) a schedule.
    pub fn add_schedule(&self, id: &str, name: &str, layers: Vec<Layer>) {
        let mut state = self.lock();
        state.schedules.retain(|s| s.id != id);
        state.schedules.push(Schedule { id: id.into(), name: name.into(), layers });
    }

    pub fn add_policy(&self, id: &str, name: &str, levels: Vec<Vec<Target>>) {
        let mut state = self.lock();
        state.policies.retain(|p| p.id != id);
        state.policies.push(Policy { id: id.into(), name: name.into(), levels });
    }

    /// Makes a schedule or policy the configuration names exist, as a copy of the default
    /// world's (so a first run with the team's warroom.toml shows an on-call too).
    pub fn adopt(&self, source: &crate::config::OncallSource) {
        let mut state = self.lock();
        let Some(template) = state.schedules.iter().find(|s| s.id == SANDBOX_SCHEDULE).cloned() else { return };
        match source {
            crate::config::OncallSource::Schedule(id) if !state.schedules.iter().any(|s| &s.id == id) => {
                let levels = vec![vec![Target::Schedule(id.clone())]];
                let policy = Policy { id: format!("{id}EP"), name: format!("{} escalation", template.name), levels };
                state.policies.push(policy);
                state.schedules.push(Schedule { id: id.clone(), ..template });
            }
            crate::config::OncallSource::EscalationPolicy(id) if !state.policies.iter().any(|p| &p.id == id) => {
                let levels = vec![vec![Target::Schedule(SANDBOX_SCHEDULE.into())]];
                state.policies.push(Policy { id: id.clone(), name: "Sandbox escalation".into(), levels });
            }
            _ => {}
        }
    }

    /// Whether the account has this schedule or escalation policy.
    pub fn knows(&self, id: &str) -> bool {
        let state = self.lock();
        state.schedules.iter().any(|s| s.id == id) || state.policies.iter().any(|p| p.id == id)
    }

    /// The next requests are answered with these statuses (429, 500, 401 ...), in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().faults.extend_from_slice(statuses);
    }

    /// PagerDuty down (every request 503) or back.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Each request's query string, and whether its API key was accepted.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.lock().requests.clone()
    }

    /// Who is on call in schedule `id` at `at`: (user id, stint start, stint end).
    pub fn on_call_at(&self, id: &str, at: DateTime<Utc>) -> Option<(String, DateTime<Utc>, Option<DateTime<Utc>>)> {
        let state = self.lock();
        let schedule = state.schedules.iter().find(|s| s.id == id)?;
        stint(schedule, at)
    }

    /// `GET /oncalls`: (status, `Retry-After`, body).
    fn oncalls(&self, authorization: Option<&str>, accept: Option<&str>, query: &str) -> (u16, Option<u64>, Value) {
        let now = self.clock.now();
        let mut state = self.lock();
        let authorized = authorization.and_then(|h| h.strip_prefix("Token token=")) == Some(REST_TOKEN);
        state.requests.push((query.to_string(), authorized));
        if state.down {
            return (503, None, json!({ "error": { "message": "Service Unavailable" } }));
        }
        if !state.faults.is_empty() {
            let status = state.faults.remove(0);
            return match status {
                429 => (429, Some(30), json!({ "error": { "message": "Rate Limit Exceeded", "code": 2020 } })),
                401 => (401, None, auth_failed()),
                status => (status, None, json!({ "error": { "message": "Internal Server Error" } })),
            };
        }
        if !authorized {
            return (401, None, auth_failed());
        }
        if !accept.is_some_and(|a| a.contains("application/vnd.pagerduty+json;version=2")) {
            let errors = ["Accept must be application/vnd.pagerduty+json;version=2"];
            return (
                400,
                None,
                json!({ "error": { "message": "Invalid Input Provided", "code": 2001, "errors": errors } }),
            );
        }
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let all = |key: &str| params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect::<Vec<_>>();
        let (schedule_ids, policy_ids) = (all("schedule_ids[]"), all("escalation_policy_ids[]"));
        let with_users = all("include[]").iter().any(|v| v == "users");
        let at = all("since").first().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or(now, |t| t.into());
        let mut oncalls = Vec::new();
        for policy in state.policies.iter().filter(|p| policy_ids.is_empty() || policy_ids.contains(&p.id)) {
            for (index, targets) in policy.levels.iter().enumerate() {
                for target in targets {
                    let (user, schedule, start, end) = match target {
                        Target::Schedule(id) if schedule_ids.is_empty() || schedule_ids.contains(id) => {
                            let Some(schedule) = state.schedules.iter().find(|s| &s.id == id) else { continue };
                            let Some((user, start, end)) = stint(schedule, at) else { continue };
                            let reference = json!({ "id": id, "type": "schedule_reference", "summary": schedule.name });
                            (user, reference, Some(start), end)
                        }
                        Target::User(user) if schedule_ids.is_empty() => (user.clone(), Value::Null, None, None),
                        _ => continue,
                    };
                    let (name, email) = state
                        .users
                        .iter()
                        .find(|(id, _, _)| *id == user)
                        .map(|(_, n, e)| (n.clone(), e.clone()))
                        .unwrap_or_default();
                    let user = if with_users {
                        json!({ "id": user, "type": "user", "name": name, "email": email, "summary": name, "time_zone": "UTC" })
                    } else {
                        json!({ "id": user, "type": "user_reference", "summary": name })
                    };
                    oncalls.push(json!({
                        "escalation_policy": { "id": policy.id, "type": "escalation_policy_reference", "summary": policy.name },
                        "escalation_level": index + 1, "schedule": schedule, "user": user,
                        "start": start.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                        "end": end.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    }));
                }
            }
        }
        (200, None, json!({ "oncalls": oncalls, "limit": 100, "offset": 0, "more": false, "total": null }))
    }
}

/// The sandbox PagerDuty user id of a sandbox person (`PBOB`).
pub fn user_id(name: &str) -> String {
    format!("P{}", name.to_uppercase())
}

fn auth_failed() -> Value {
    json!({ "error": { "message": "Authentication failed", "code": 2006 } })
}

/// The layer's user at `t`, if it covers `t`.
fn layer_user(layer: &Layer, t: DateTime<Utc>) -> Option<&String> {
    if t < layer.start || layer.users.is_empty() || layer.turn <= Duration::zero() {
        return None;
    }
    if let Some((from, length)) = layer.daily {
        let second = i64::from(t.num_seconds_from_midnight());
        if (second - from).rem_euclid(86_400) >= length {
            return None;
        }
    }
    let turns = (t - layer.start).num_seconds() / layer.turn.num_seconds();
    layer.users.get(turns as usize % layer.users.len())
}

/// The final schedule's user at `t`: the last layer that covers it.
fn final_user(schedule: &Schedule, t: DateTime<Utc>) -> Option<String> {
    schedule.layers.iter().rev().find_map(|l| layer_user(l, t)).cloned()
}

/// The first moment after `t` at which some layer changes hands or opens or closes its window.
fn next_edge(schedule: &Schedule, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut edges = Vec::new();
    for layer in &schedule.layers {
        let turn = layer.turn.num_seconds().max(1);
        if t < layer.start {
            edges.push(layer.start);
        } else {
            let turns = (t - layer.start).num_seconds() / turn + 1;
            edges.push(layer.start + Duration::seconds(turns * turn));
        }
        if let Some((from, length)) = layer.daily {
            let midnight = t
                - Duration::seconds(i64::from(t.num_seconds_from_midnight()))
                - Duration::nanoseconds(i64::from(t.nanosecond()));
            for day in 0..2 {
                for edge in [from, from + length] {
                    let at = midnight + Duration::days(day) + Duration::seconds(edge);
                    if at > t {
                        edges.push(at);
                    }
                }
            }
        }
    }
    edges.into_iter().min()
}

/// Who holds the final schedule at `at`, since when and until when (`None`: for good).
fn stint(schedule: &Schedule, at: DateTime<Utc>) -> Option<(String, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let user = final_user(schedule, at)?;
    let mut end = None;
    let mut t = at;
    // A few months of edges is as far as anyone looks.
    for _ in 0..2000 {
        let Some(edge) = next_edge(schedule, t) else { break };
        if final_user(schedule, edge).as_ref() != Some(&user) {
            end = Some(edge);
            break;
        }
        t = edge;
    }
    // The stint began at the last edge of the week before `at` where the user took over.
    let mut start = at - Duration::days(7);
    let mut t = start;
    let mut before = final_user(schedule, t);
    for _ in 0..5000 {
        let Some(edge) = next_edge(schedule, t).filter(|e| *e <= at) else { break };
        let now = final_user(schedule, edge);
        if now.as_ref() == Some(&user) && before.as_ref() != Some(&user) {
            start = edge;
        }
        (before, t) = (now, edge);
    }
    Some((user, start, end))
}

/// `GET /oncalls` over HTTP.
pub fn router(rest: Arc<PagerDutyRest>) -> axum::Router {
    use axum::extract::{RawQuery, State};
    use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
    use axum::response::IntoResponse;

    async fn oncalls(
        State(rest): State<Arc<PagerDutyRest>>,
        headers: HeaderMap,
        RawQuery(query): RawQuery,
    ) -> axum::response::Response {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (status, retry_after, body) = rest.oncalls(
            text(header::AUTHORIZATION).as_deref(),
            text(header::ACCEPT).as_deref(),
            &query.unwrap_or_default(),
        );
        let mut response =
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body))
                .into_response();
        if let Some(seconds) = retry_after {
            let value = HeaderValue::from(seconds);
            response.headers_mut().insert(header::RETRY_AFTER, value.clone());
            response.headers_mut().insert("ratelimit-reset", value);
        }
        response
    }

    axum::Router::new().route("/oncalls", axum::routing::get(oncalls)).with_state(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn layers_rotate_and_a_later_layer_overrides_inside_its_window() {
        let day = Layer {
            start: at(23, 3),
            turn: Duration::hours(12),
            users: vec!["PBOB".into(), "PALICE".into()],
            daily: None,
        };
        // carol covers 22:00–02:00 every night, over the rotation.
        let night = Layer {
            start: at(1, 0),
            turn: Duration::days(7),
            users: vec!["PCAROL".into()],
            daily: Some((22 * 3600, 4 * 3600)),
        };
        let schedule = Schedule { id: "P1".into(), name: "s".into(), layers: vec![day, night] };

        assert_eq!(stint(&schedule, at(23, 2)), None, "before the rotation and outside carol's window");
        assert_eq!(stint(&schedule, at(23, 5)), Some(("PBOB".into(), at(23, 3), Some(at(23, 15)))));
        assert_eq!(stint(&schedule, at(23, 16)), Some(("PALICE".into(), at(23, 15), Some(at(23, 22)))));
        assert_eq!(stint(&schedule, at(23, 23)), Some(("PCAROL".into(), at(23, 22), Some(at(24, 2)))));
        assert_eq!(stint(&schedule, at(24, 2)), Some(("PALICE".into(), at(24, 2), Some(at(24, 3)))));
        assert_eq!(stint(&schedule, at(24, 3)).unwrap().0, "PBOB");
    }

    #[test]
    fn one_person_always_on_call_has_no_end() {
        let solo = Layer { start: at(1, 0), turn: Duration::days(7), users: vec!["PBOB".into()], daily: None };
        let schedule = Schedule { id: "P1".into(), name: "s".into(), layers: vec![solo] };
        let (user, _, end) = stint(&schedule, at(23, 5)).unwrap();
        assert_eq!((user.as_str(), end), ("PBOB", None));
    }
}
