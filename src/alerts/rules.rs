//! Which rule a firing alert group matches, and the incident it declares: service from a
//! label (mapped through the rule's `service_map`), summary from the annotations, detection
//! time from the earliest `startsAt`, runbook from `runbook_url`. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::payload::{Alert, Notification};
use crate::config::{AlertRule, AlertsConfig};
use crate::incident::{ServiceName, Severity};

/// What a matching group declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    pub rule: &'a AlertRule,
    pub severity: Severity,
    pub service: ServiceName,
    pub title: String,
    pub runbook_url: Option<String>,
    pub detected_at: Option<DateTime<Utc>>,
    /// The rule's commander, else `[alerts] commander` (else: nobody yet).
    pub commander: Option<&'a str>,
}

/// A rule matched, but the group cannot be declared from it (the sender's or the config's
/// mistake: refused with this message, so that it is seen).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

/// The longest title taken from an annotation (the declaration modal's limit).
const MAX_TITLE: usize = 200;
const MAX_URL: usize = 2048;

/// The first rule (in config order) that a firing alert of the group matches, and what it
/// declares; `None` when no rule matches a firing alert.
pub fn plan<'a>(config: &'a AlertsConfig, n: &'a Notification) -> Result<Option<Plan<'a>>, Unusable> {
    for rule in &config.rules {
        let matching: Vec<&Alert> = n.firing().filter(|a| matches(rule, &a.labels)).collect();
        if matching.is_empty() {
            continue;
        }
        let mut reasons = Vec::new();
        let lead = matching.iter().find_map(|a| match service_of(rule, &a.labels) {
            Ok(service) => Some((*a, service)),
            Err(why) => {
                reasons.push(why);
                None
            }
        });
        let Some((lead, service)) = lead else {
            reasons.dedup();
            return Err(Unusable(format!(
                "the rule {{{}}} matches, but no firing alert names a service: {}",
                rule.describe(),
                reasons.join("; ")
            )));
        };
        let annotation = |key: &str| {
            lead.annotations
                .get(key)
                .or_else(|| n.common_annotations.get(key))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let alertname = lead.labels.get("alertname").map_or("Alert", String::as_str);
        let title = annotation("summary")
            .or_else(|| annotation("description"))
            .map_or_else(|| format!("{alertname}: {} is down", service.as_str()), str::to_string);
        return Ok(Some(Plan {
            rule,
            severity: rule.severity,
            service,
            title: shorten(&title.split_whitespace().collect::<Vec<_>>().join(" "), MAX_TITLE),
            runbook_url: annotation("runbook_url").filter(|u| is_web_link(u)).map(str::to_string),
            detected_at: matching.iter().filter_map(|a| a.starts_at).min(),
            commander: rule.commander.as_deref().or(config.commander.as_deref()),
        }));
    }
    Ok(None)
}

/// Every matcher's label has exactly its value.
pub fn matches(rule: &AlertRule, labels: &BTreeMap<String, String>) -> bool {
    rule.matchers.iter().all(|(name, value)| labels.get(name) == Some(value))
}

/// The service an alert names through the rule's `service_label` and `service_map`.
fn service_of(rule: &AlertRule, labels: &BTreeMap<String, String>) -> Result<ServiceName, String> {
    let label = &rule.service_label;
    let value = labels.get(label).ok_or_else(|| format!("no `{label}` label"))?;
    let name = rule.service_map.get(value).unwrap_or(value);
    ServiceName::parse(name).map_err(|m| format!("{label}={value:?}: {m} (map it with service_map)"))
}

/// An http(s) link with nothing in it that could break out of Slack's link syntax.
pub fn is_web_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= MAX_URL
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|'))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::payload::{AlertStatus, Source};

    fn alert(fp: &str, labels: &[(&str, &str)], status: AlertStatus, starts: &str) -> Alert {
        Alert {
            fingerprint: fp.into(),
            status,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: BTreeMap::new(),
            starts_at: Some(starts.parse().unwrap()),
            ends_at: None,
            generator_url: None,
        }
    }

    fn group(alerts: Vec<Alert>) -> Notification {
        Notification {
            source: Source::Alertmanager,
            group_key: "g".into(),
            status: AlertStatus::Firing,
            receiver: "warroom".into(),
            alerts,
            common_annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn service_down_declares_a_p0_for_its_job_from_the_earliest_start() {
        let config = AlertsConfig::default();
        let mut first =
            alert("1", &[("alertname", "ServiceDown"), ("job", "api")], AlertStatus::Firing, "2026-11-23T14:59:00Z");
        first.annotations.insert("summary".into(), "api has been down for 1m".into());
        first.annotations.insert("runbook_url".into(), "https://runbooks.example.com/api".into());
        let second =
            alert("2", &[("alertname", "ServiceDown"), ("job", "api")], AlertStatus::Firing, "2026-11-23T14:58:00Z");
        let n = group(vec![first, second]);
        let plan = plan(&config, &n).unwrap().unwrap();
        assert_eq!((plan.severity, plan.service.as_str()), (Severity::P0, "api"));
        assert_eq!(plan.title, "api has been down for 1m");
        assert_eq!(plan.runbook_url.as_deref(), Some("https://runbooks.example.com/api"));
        assert_eq!(plan.detected_at.unwrap().to_rfc3339(), "2026-11-23T14:58:00+00:00");
        assert_eq!(plan.commander, None);
    }

    #[test]
    fn other_alerts_and_resolved_ones_match_nothing() {
        let config = AlertsConfig::default();
        let n = group(vec![
            alert("1", &[("alertname", "DiskFull"), ("job", "api")], AlertStatus::Firing, "2026-11-23T14:59:00Z"),
            alert("2", &[("alertname", "ServiceDown"), ("job", "api")], AlertStatus::Resolved, "2026-11-23T14:59:00Z"),
        ]);
        assert_eq!(plan(&config, &n).unwrap(), None);
    }

    #[test]
    fn the_service_map_names_the_service_and_a_bad_name_is_refused() {
        let mut config = AlertsConfig::default();
        config.rules[0].service_map.insert("node-exporter:9100".into(), "host-1".into());
        let mapped = group(vec![alert(
            "1",
            &[("alertname", "ServiceDown"), ("job", "node-exporter:9100")],
            AlertStatus::Firing,
            "2026-11-23T14:59:00Z",
        )]);
        assert_eq!(plan(&config, &mapped).unwrap().unwrap().service.as_str(), "host-1");
        let unmapped = group(vec![alert(
            "1",
            &[("alertname", "ServiceDown"), ("job", "a b")],
            AlertStatus::Firing,
            "2026-11-23T14:59:00Z",
        )]);
        assert!(plan(&config, &unmapped).unwrap_err().0.contains("service_map"));
        let unlabelled =
            group(vec![alert("1", &[("alertname", "ServiceDown")], AlertStatus::Firing, "2026-11-23T14:59:00Z")]);
        assert!(plan(&config, &unlabelled).unwrap_err().0.contains("no `job` label"));
    }

    #[test]
    fn only_web_links_become_runbook_links() {
        assert!(is_web_link("https://wiki.example.com/runbooks/api?x=1&y=2"));
        assert!(!is_web_link("javascript:alert(1)"));
        assert!(!is_web_link("https://example.com/<!channel>"));
        assert!(!is_web_link("https://example.com/a|b"));
    }
}
