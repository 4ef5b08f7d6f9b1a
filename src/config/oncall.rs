//! `[services.x] oncall`: where PagerDuty keeps who is on call for the service — one schedule
//! (`pagerduty_schedule`) or one escalation policy (`pagerduty_escalation_policy`, whose first
//! level is the on-call).

use serde::Deserialize;

/// `oncall = { pagerduty_schedule = "PABC123" }` as written.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OncallConfig {
    pub pagerduty_schedule: Option<String>,
    pub pagerduty_escalation_policy: Option<String>,
}

/// What PagerDuty is asked about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum OncallSource {
    Schedule(String),
    EscalationPolicy(String),
}

impl OncallSource {
    pub fn id(&self) -> &str {
        match self {
            Self::Schedule(id) | Self::EscalationPolicy(id) => id,
        }
    }

    /// "schedule PABC123", for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Schedule(id) => format!("PagerDuty schedule {id}"),
            Self::EscalationPolicy(id) => format!("PagerDuty escalation policy {id}"),
        }
    }
}

impl OncallConfig {
    /// The one source it names (validated by [`Self::problem`], so `None` only when invalid).
    pub fn source(&self) -> Option<OncallSource> {
        match (&self.pagerduty_schedule, &self.pagerduty_escalation_policy) {
            (Some(id), None) => Some(OncallSource::Schedule(id.clone())),
            (None, Some(id)) => Some(OncallSource::EscalationPolicy(id.clone())),
            _ => None,
        }
    }

    /// What is wrong with it, if anything.
    pub fn problem(&self, service: &str) -> Option<String> {
        let key = format!("[services.{service}] oncall");
        match (&self.pagerduty_schedule, &self.pagerduty_escalation_policy) {
            (None, None) => Some(format!("{key}: name `pagerduty_schedule` or `pagerduty_escalation_policy`")),
            (Some(_), Some(_)) => {
                Some(format!("{key}: name `pagerduty_schedule` or `pagerduty_escalation_policy`, not both"))
            }
            (Some(id), None) | (None, Some(id)) if !is_pagerduty_id(id) => {
                Some(format!("{key}: `{id}` is not a PagerDuty id (like PABC123: P and capital letters or digits)"))
            }
            _ => None,
        }
    }
}

/// PagerDuty's object ids: `P` and up to 19 more capital letters or digits (`PABC123`).
pub fn is_pagerduty_id(id: &str) -> bool {
    (2..=20).contains(&id.len())
        && id.starts_with('P')
        && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_with_a_pagerduty_id() {
        let schedule = OncallConfig { pagerduty_schedule: Some("PABC123".into()), ..Default::default() };
        assert_eq!(schedule.problem("api"), None);
        assert_eq!(schedule.source(), Some(OncallSource::Schedule("PABC123".into())));
        let both = OncallConfig { pagerduty_escalation_policy: Some("PDEF456".into()), ..schedule.clone() };
        assert!(both.problem("api").unwrap().contains("not both"));
        assert!(OncallConfig::default().problem("api").unwrap().contains("name `pagerduty_schedule`"));
        let bad = OncallConfig { pagerduty_escalation_policy: Some("pabc 1".into()), ..Default::default() };
        assert!(bad.problem("api").unwrap().contains("`pabc 1` is not a PagerDuty id"));
    }
}
