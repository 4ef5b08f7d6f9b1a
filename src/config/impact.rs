//! The status page incident's impact (`impact_override`): `[severity.Px] statuspage_impact`, a
//! service's own `[services.x] statuspage_impact = { P0 = "major" }` where its team's runbook says
//! otherwise (seed 001), and the defaults by severity when neither is set.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::FileConfig;
use crate::incident::Severity;

/// How bad the status page says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "none" => Ok(Self::None),
            "minor" => Ok(Self::Minor),
            "major" => Ok(Self::Major),
            "critical" => Ok(Self::Critical),
            other => Err(format!("statuspage_impact = \"{other}\": use none, minor, major or critical")),
        }
    }

    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }

    /// Without configuration: P0 critical, P1 major, P2 and P3 minor.
    pub fn default_for(severity: Severity) -> Self {
        match severity {
            Severity::P0 => Self::Critical,
            Severity::P1 => Self::Major,
            Severity::P2 | Severity::P3 => Self::Minor,
        }
    }
}

/// `[services.x] statuspage_impact`: the service's impact at some severities, as written (with
/// where each entry is, for check-config's lines).
#[derive(Debug, Clone, Default)]
pub struct ServiceImpact {
    entries: Vec<(Spanned<String>, Spanned<String>)>,
}

impl ServiceImpact {
    /// The service's impact at `severity`, if it names one (and it is valid).
    pub fn get(&self, severity: Severity) -> Option<Impact> {
        self.entries
            .iter()
            .find(|(sev, _)| Severity::parse(sev.get_ref()) == Ok(severity))
            .and_then(|(_, impact)| Impact::parse(impact.get_ref()).ok())
    }

    /// Every bad entry, with where it is in the file; `service` names the table.
    pub fn problems(&self, service: &str) -> Vec<(Range<usize>, String)> {
        let mut problems = Vec::new();
        for (sev, impact) in &self.entries {
            // Lower case is a slip worth refusing here: the severity tables are spelled P0..P3.
            if !matches!(sev.get_ref().as_str(), "P0" | "P1" | "P2" | "P3") {
                let m = format!(
                    "[services.{service}] statuspage_impact: `{}` is not a severity (P0, P1, P2 or P3)",
                    sev.get_ref()
                );
                problems.push((sev.span(), m));
            }
            if let Err(m) = Impact::parse(impact.get_ref()) {
                problems.push((impact.span(), format!("[services.{service}] {m}")));
            }
        }
        problems
    }
}

impl<'de> Deserialize<'de> for ServiceImpact {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<Spanned<String>, Spanned<String>>::deserialize(deserializer)?;
        Ok(Self { entries: raw.into_iter().collect() })
    }
}

impl FileConfig {
    /// The impact a status page push of `service`'s incident at `severity` carries: the
    /// service's own, else the severity's, else the default by severity.
    pub fn statuspage_impact(&self, severity: Severity, service: &str) -> Impact {
        let own = self.services.get(service).and_then(|s| s.statuspage_impact.get(severity));
        let by_severity = self.severity.get(&severity).and_then(|s| s.statuspage_impact);
        own.or(by_severity).unwrap_or_else(|| Impact::default_for(severity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<FileConfig, Vec<super::super::ConfigProblem>> {
        FileConfig::parse(Path::new("warroom.toml"), text)
    }

    #[test]
    fn without_configuration_the_impact_follows_the_severity() {
        let config = parse("").unwrap();
        let impacts: Vec<&str> = Severity::ALL.iter().map(|s| config.statuspage_impact(*s, "api").as_str()).collect();
        assert_eq!(impacts, ["critical", "major", "minor", "minor"]);
    }

    #[test]
    fn a_service_s_own_impact_wins_over_its_severity_s() {
        let text = "[severity.P0]\nstatuspage_impact = \"major\"\n[severity.P1]\nstatuspage_impact = \"none\"\n\n\
                    [services.web3]\nstatuspage_impact = { P1 = \"minor\" }\n";
        let config = parse(text).unwrap();
        assert_eq!(config.statuspage_impact(Severity::P0, "web3"), Impact::Major, "the severity's");
        assert_eq!(config.statuspage_impact(Severity::P1, "web3"), Impact::Minor, "the service's");
        assert_eq!(config.statuspage_impact(Severity::P1, "other"), Impact::None);
        assert_eq!(config.statuspage_impact(Severity::P2, "web3"), Impact::Minor, "the default");
    }

    #[test]
    fn in_the_example_file_seed_001_s_service_opens_as_major_and_the_others_by_severity() {
        let config = parse(include_str!("../../warroom.example.toml")).unwrap();
        assert_eq!(config.statuspage_impact(Severity::P0, "web3-marketplace-backend"), Impact::Major);
        assert_eq!(config.statuspage_impact(Severity::P1, "web3-marketplace-backend"), Impact::Major);
        for other in ["inference-gateway", "microdiff-matdesign", "dmarc-dashboard", "pynomaly"] {
            assert_eq!(config.statuspage_impact(Severity::P0, other), Impact::Critical, "{other}");
        }
    }

    #[test]
    fn a_bad_impact_or_severity_is_a_problem_on_its_line() {
        let text = "[severity.P0]\nstatuspage_impact = \"severe\"\n\n[services.api]\n\
                    statuspage_impact = { P0 = \"huge\", P7 = \"minor\" }\n";
        let problems = parse(text).unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "warroom.toml:2: statuspage_impact = \"severe\": use none, minor, major or critical",
                "warroom.toml:5: [services.api] statuspage_impact = \"huge\": use none, minor, major or critical",
                "warroom.toml:5: [services.api] statuspage_impact: `P7` is not a severity (P0, P1, P2 or P3)",
            ]
        );
    }
}
