//! `[alerts]`: which Alertmanager and Grafana alerts declare incidents, at what severity, for
//! which service and with which commander; validated like the rest of the file (every problem,
//! with its line).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::file::ConfigProblem;
use crate::incident::{ServiceName, Severity, SlackUserId};

/// `[alerts]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    rules: Option<Vec<Spanned<RawRule>>>,
    commander: Option<Spanned<String>>,
    auto_resolve: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match", default)]
    matchers: BTreeMap<String, String>,
    severity: Option<Spanned<String>>,
    service_label: Option<Spanned<String>>,
    #[serde(default)]
    service_map: BTreeMap<String, Spanned<String>>,
    commander: Option<Spanned<String>>,
}

/// One rule: alerts whose labels include every `matchers` pair declare an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// Label name → exact value; all must match.
    pub matchers: BTreeMap<String, String>,
    pub severity: Severity,
    /// The label whose value names the service (`job` by default, as in `up{job="..."} == 0`).
    pub service_label: String,
    /// Label value → warroom service; values not listed are taken as the service name itself.
    pub service_map: BTreeMap<String, String>,
    /// The Incident Commander of incidents this rule declares (else `[alerts] commander`).
    pub commander: Option<String>,
}

impl AlertRule {
    /// `alertname="ServiceDown"`, for messages and logs.
    pub fn describe(&self) -> String {
        let pairs: Vec<String> = self.matchers.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.join(", ")
    }
}

/// `[alerts]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// In order: the first rule an alert group matches decides.
    pub rules: Vec<AlertRule>,
    /// Commander of alert-declared incidents when their rule names none. Without one the
    /// incident's commander is warroom's own bot user, and the declaration reads "unassigned".
    pub commander: Option<String>,
    /// Resolve the incident when its alert group resolves (else ask in the channel).
    pub auto_resolve: bool,
}

impl Default for AlertsConfig {
    /// The seed runbooks' alert: `ServiceDown` (`up{job="..."} == 0`) declares a P0 for its job.
    fn default() -> Self {
        Self {
            rules: vec![AlertRule {
                matchers: BTreeMap::from([("alertname".to_string(), "ServiceDown".to_string())]),
                severity: Severity::P0,
                service_label: "job".into(),
                service_map: BTreeMap::new(),
                commander: None,
            }],
            commander: None,
            auto_resolve: false,
        }
    }
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates `[alerts]`; `problem` locates a span of the file.
pub(super) fn validate(
    raw: &RawAlerts,
    problem: &dyn Fn(Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> AlertsConfig {
    let mut config = AlertsConfig::default();
    let user = |value: &Spanned<String>, key: &str, problems: &mut Vec<ConfigProblem>| {
        SlackUserId::parse(value.get_ref())
            .map(|id| id.as_str().to_string())
            .map_err(|m| problems.push(problem(value.span(), format!("{key}: {m} (use a user id like U0123456789)"))))
            .ok()
    };
    config.commander = raw.commander.as_ref().and_then(|c| user(c, "alerts.commander", problems));
    config.auto_resolve = raw.auto_resolve.unwrap_or(false);
    let Some(rules) = &raw.rules else { return config };
    config.rules.clear();
    for (i, spanned) in rules.iter().enumerate() {
        let (rule, span) = (spanned.get_ref(), spanned.span());
        let at = format!("alerts.rules[{i}]");
        let before = problems.len();
        if rule.matchers.is_empty() {
            problems.push(problem(
                span.clone(),
                format!("{at}: `match` must name at least one label (a rule matching every alert would declare for all of them)"),
            ));
        }
        for name in rule.matchers.keys().filter(|n| !is_label_name(n)) {
            problems.push(problem(span.clone(), format!("{at}: `{name}` is not a label name")));
        }
        let severity = match &rule.severity {
            None => Severity::P0,
            Some(s) => Severity::parse(s.get_ref())
                .map_err(|m| problems.push(problem(s.span(), format!("{at}.severity: {m}"))))
                .unwrap_or(Severity::P0),
        };
        let service_label = match &rule.service_label {
            None => "job".to_string(),
            Some(l) if is_label_name(l.get_ref()) => l.get_ref().clone(),
            Some(l) => {
                problems.push(problem(l.span(), format!("{at}.service_label: `{}` is not a label name", l.get_ref())));
                String::new()
            }
        };
        let mut service_map = BTreeMap::new();
        for (value, service) in &rule.service_map {
            match ServiceName::parse(service.get_ref()) {
                Ok(name) => {
                    service_map.insert(value.clone(), name.as_str().to_string());
                }
                Err(m) => problems.push(problem(service.span(), format!("{at}.service_map.{value}: {m}"))),
            }
        }
        let commander = rule.commander.as_ref().and_then(|c| user(c, &format!("{at}.commander"), problems));
        if problems.len() == before {
            config.rules.push(AlertRule {
                matchers: rule.matchers.clone(),
                severity,
                service_label,
                service_map,
                commander,
            });
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use crate::config::FileConfig;
    use std::path::Path;

    fn parse(text: &str) -> Result<FileConfig, Vec<crate::config::ConfigProblem>> {
        FileConfig::parse(Path::new("warroom.toml"), text)
    }

    #[test]
    fn without_alerts_service_down_declares_a_p0_for_its_job() {
        let alerts = parse("").unwrap().alerts;
        assert_eq!(alerts.rules.len(), 1);
        assert_eq!(alerts.rules[0].describe(), r#"alertname="ServiceDown""#);
        assert_eq!(alerts.rules[0].service_label, "job");
        assert!(!alerts.auto_resolve && alerts.commander.is_none());
    }

    #[test]
    fn rules_take_a_service_map_and_a_commander() {
        let text = r#"
[alerts]
commander = "U0ONCALL"
auto_resolve = true

[[alerts.rules]]
match = { alertname = "ServiceDown" }
severity = "P0"
service_label = "job"

[[alerts.rules]]
match = { alertname = "HighLatency", team = "ml" }
severity = "P2"
service_label = "service"
service_map = { "gw" = "inference-gateway" }
commander = "U0BOB"
"#;
        let alerts = parse(text).unwrap().alerts;
        assert_eq!(alerts.commander.as_deref(), Some("U0ONCALL"));
        assert!(alerts.auto_resolve);
        assert_eq!(alerts.rules.len(), 2);
        assert_eq!(alerts.rules[1].service_map["gw"], "inference-gateway");
        assert_eq!(alerts.rules[1].commander.as_deref(), Some("U0BOB"));
        assert_eq!(alerts.rules[1].severity, crate::incident::Severity::P2);
    }

    #[test]
    fn an_empty_rule_list_declares_nothing() {
        assert!(parse("[alerts]\nrules = []\n").unwrap().alerts.rules.is_empty());
    }

    #[test]
    fn every_bad_rule_is_reported_with_its_line() {
        let text = "[alerts]\ncommander = \"bob\"\nrules = [\n  { match = {} },\n  { match = { a = \"b\" }, severity = \"P7\" },\n  { match = { a = \"b\" }, service_map = { x = \"not a service\" } },\n  { match = { a = \"b\" }, service_label = \"bad-label\" },\n]\n";
        let problems = parse(text).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 4, 5, 6, 7], "{problems:?}");
        assert!(problems[0].message.contains("alerts.commander"), "{}", problems[0].message);
        assert!(problems[1].message.contains("at least one label"), "{}", problems[1].message);
        assert!(problems[2].message.contains("P0, P1, P2 or P3"), "{}", problems[2].message);
        assert!(problems[3].message.contains("alerts.rules[2].service_map.x"), "{}", problems[3].message);
        assert!(problems[4].message.contains("not a label name"), "{}", problems[4].message);
    }

    #[test]
    fn an_unknown_key_in_a_rule_is_an_error() {
        let problems = parse("[alerts]\nrules = [{ match = { a = \"b\" }, sevrity = \"P1\" }]\n").unwrap_err();
        assert!(problems[0].message.contains("sevrity"), "{}", problems[0].message);
    }
}
