//! The two webhook bodies — Alertmanager's (version "4") and Grafana's unified alerting (version
//! "1") — read into one [`Notification`]. Fields warroom does not use are ignored; the ones it
//! uses are checked, and a bad one is refused with a message that names it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who sent the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Alertmanager,
    Grafana,
}

impl Source {
    /// Stored in `alert_groups.source`, used as the timeline actor and the declaration's `via`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
        }
    }

    /// For people: "Alertmanager".
    pub fn label(self) -> &'static str {
        match self {
            Self::Alertmanager => "Alertmanager",
            Self::Grafana => "Grafana",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "alertmanager" => Some(Self::Alertmanager),
            "grafana" => Some(Self::Grafana),
            _ => None,
        }
    }

    /// The webhook format version warroom reads.
    fn version(self) -> &'static str {
        match self {
            Self::Alertmanager => "4",
            Self::Grafana => "1",
        }
    }
}

/// Firing or resolved: of a group, or of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "firing" => Some(Self::Firing),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub fingerprint: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `None` for Go's zero time.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
}

/// One webhook delivery: the state of one alert group.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub source: Source,
    /// The group's identity at its source (Grafana's is qualified by its organisation).
    pub group_key: String,
    pub status: AlertStatus,
    pub receiver: String,
    /// The group's alerts, one per fingerprint.
    pub alerts: Vec<Alert>,
    pub common_annotations: BTreeMap<String, String>,
}

impl Notification {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Firing)
    }
}

/// Group keys longer than this (Alertmanager's hold the route's matchers and the group's labels)
/// are kept as their SHA-256, to stay within what a Postgres index entry can hold.
const MAX_GROUP_KEY: usize = 1000;
const MAX_FINGERPRINT: usize = 128;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    version: Option<String>,
    group_key: Option<String>,
    status: Option<String>,
    /// Grafana: `alerting` or `ok`.
    state: Option<String>,
    /// Grafana's organisation (a number).
    org_id: Option<Value>,
    receiver: Option<String>,
    alerts: Option<Vec<RawAlert>>,
    #[serde(default)]
    common_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    status: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: Option<String>,
}

/// Reads a webhook body from `source`; the error says what was wrong with it.
pub fn parse(source: Source, body: &[u8]) -> Result<Notification, String> {
    let raw: RawNotification = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    if let Some(version) = raw.version.as_deref().filter(|v| *v != source.version()) {
        return Err(format!(
            "unsupported {} webhook version \"{version}\" (warroom reads version \"{}\")",
            source.label(),
            source.version()
        ));
    }
    let group_key = raw.group_key.filter(|k| !k.is_empty()).ok_or("`groupKey` is missing")?;
    let group_key = match (source, &raw.org_id) {
        (Source::Grafana, Some(org)) => {
            format!("org={}:{group_key}", org.as_str().map_or_else(|| org.to_string(), String::from))
        }
        _ => group_key,
    };
    let group_key = if group_key.len() > MAX_GROUP_KEY {
        format!("sha256:{}", hex::encode(Sha256::digest(group_key.as_bytes())))
    } else {
        group_key
    };
    let status = match (raw.status.as_deref(), raw.state.as_deref()) {
        (Some(s), _) => {
            AlertStatus::parse(s).ok_or_else(|| format!("`status` \"{s}\": expected firing or resolved"))?
        }
        (None, Some("alerting")) => AlertStatus::Firing,
        (None, Some("ok")) => AlertStatus::Resolved,
        _ => return Err("`status` is missing".into()),
    };
    let raw_alerts = raw.alerts.filter(|a| !a.is_empty()).ok_or("`alerts` is missing or empty")?;
    let mut alerts: Vec<Alert> = Vec::with_capacity(raw_alerts.len());
    for (i, a) in raw_alerts.into_iter().enumerate() {
        let at = |field: &str| format!("alerts[{i}].{field}");
        let alert_status = match a.status.as_deref() {
            None => status,
            Some(s) => {
                AlertStatus::parse(s).ok_or_else(|| format!("{} \"{s}\": expected firing or resolved", at("status")))?
            }
        };
        let fingerprint = match a.fingerprint.filter(|f| !f.is_empty()) {
            Some(f) if f.len() > MAX_FINGERPRINT => return Err(format!("{} is too long", at("fingerprint"))),
            Some(f) => f,
            None => fingerprint_of(&a.labels),
        };
        if alerts.iter().any(|seen| seen.fingerprint == fingerprint) {
            continue;
        }
        alerts.push(Alert {
            fingerprint,
            status: alert_status,
            starts_at: time(a.starts_at.as_deref()).map_err(|m| format!("{}: {m}", at("startsAt")))?,
            ends_at: time(a.ends_at.as_deref()).map_err(|m| format!("{}: {m}", at("endsAt")))?,
            generator_url: a.generator_url.filter(|u| !u.is_empty()),
            labels: a.labels,
            annotations: a.annotations,
        });
    }
    Ok(Notification {
        source,
        group_key,
        status,
        receiver: raw.receiver.unwrap_or_default(),
        alerts,
        common_annotations: raw.common_annotations,
    })
}

/// An RFC 3339 time; Go's zero time (`0001-01-01T00:00:00Z`, "not set") and absence are `None`.
fn time(text: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(text).map_err(|e| format!("`{text}` is not an RFC 3339 time ({e})"))?;
    Ok(Some(at.with_timezone(&Utc)).filter(|at| at.year() > 1))
}

/// A stable fingerprint from the labels, for senders that give none.
fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    for (name, value) in labels {
        hash.update(name.as_bytes());
        hash.update([0xff]);
        hash.update(value.as_bytes());
        hash.update([0xff]);
    }
    hex::encode(&hash.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alertmanager() -> Value {
        json!({
            "version": "4", "groupKey": "{}:{alertname=\"ServiceDown\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "warroom", "groupLabels": { "alertname": "ServiceDown" },
            "commonLabels": { "alertname": "ServiceDown" }, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [{
                "status": "firing", "labels": { "alertname": "ServiceDown", "job": "api" },
                "annotations": { "summary": "api is down" },
                "startsAt": "2026-11-23T14:58:30.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": "a1b2c3d4e5f60718"
            }]
        })
    }

    #[test]
    fn an_alertmanager_body_is_read_with_its_times() {
        let n = parse(Source::Alertmanager, alertmanager().to_string().as_bytes()).unwrap();
        assert_eq!(n.group_key, "{}:{alertname=\"ServiceDown\"}");
        assert_eq!(n.status, AlertStatus::Firing);
        let alert = &n.alerts[0];
        assert_eq!(alert.starts_at.unwrap().to_rfc3339(), "2026-11-23T14:58:30.123456789+00:00");
        assert_eq!(alert.ends_at, None, "Go's zero time is no time");
        assert_eq!(alert.labels["job"], "api");
    }

    #[test]
    fn grafana_keys_are_qualified_by_organisation_and_state_stands_in_for_status() {
        let body = json!({ "version": "1", "orgId": 3, "groupKey": "{}:{alertname=\"X\"}", "state": "ok",
                           "alerts": [{ "labels": { "alertname": "X" }, "startsAt": "2026-11-23T15:00:00+02:00" }] });
        let n = parse(Source::Grafana, body.to_string().as_bytes()).unwrap();
        assert_eq!(n.group_key, "org=3:{}:{alertname=\"X\"}");
        assert_eq!(n.status, AlertStatus::Resolved);
        assert_eq!(n.alerts[0].status, AlertStatus::Resolved, "an alert without status takes the group's");
        assert_eq!(n.alerts[0].starts_at.unwrap().to_rfc3339(), "2026-11-23T13:00:00+00:00");
        assert_eq!(n.alerts[0].fingerprint.len(), 16, "a fingerprint is made from the labels");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let refuse = |body: Value| parse(Source::Alertmanager, body.to_string().as_bytes()).unwrap_err();
        assert!(parse(Source::Alertmanager, b"{not json").unwrap_err().starts_with("malformed JSON"));
        let mut v = alertmanager();
        v["version"] = json!("3");
        assert!(refuse(v).contains("version \"3\""));
        let mut v = alertmanager();
        v["alerts"][0]["startsAt"] = json!("yesterday");
        assert!(refuse(v).contains("alerts[0].startsAt"));
        let mut v = alertmanager();
        v["status"] = json!("exploding");
        assert!(refuse(v).contains("`status`"));
        let mut v = alertmanager();
        v["alerts"] = json!([]);
        assert!(refuse(v).contains("`alerts`"));
        let mut v = alertmanager();
        v["alerts"][0]["labels"]["job"] = json!(7);
        assert!(refuse(v).starts_with("malformed JSON"));
    }

    #[test]
    fn a_very_long_group_key_is_kept_as_its_hash() {
        let mut v = alertmanager();
        v["groupKey"] = json!("k".repeat(5000));
        let key = parse(Source::Alertmanager, v.to_string().as_bytes()).unwrap().group_key;
        assert!(key.starts_with("sha256:") && key.len() == 71, "{key}");
    }

    #[test]
    fn the_same_fingerprint_twice_is_one_alert() {
        let mut v = alertmanager();
        let again = v["alerts"][0].clone();
        v["alerts"].as_array_mut().unwrap().push(again);
        assert_eq!(parse(Source::Alertmanager, v.to_string().as_bytes()).unwrap().alerts.len(), 1);
    }
}
