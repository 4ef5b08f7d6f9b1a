//! `warroom doctor`: a preflight against what the configuration points at — Slack (the token,
//! its scopes, the announcement channel, the user groups, the request secret or Socket Mode),
//! the status page, PagerDuty and the remote runners. Each check says what it found and, when
//! it fails, what to do; the command exits 1 when any failed.
//!
//! This file owns the report and the one list of check families ([`run`]); each family is its
//! own module. No check prints a secret: they say a secret's form is right or wrong, never what
//! it is.

mod pagerduty;
mod runners;
mod secrets;
mod slack;
mod statuspage;

use std::fmt;

use crate::clock::SharedClock;
use crate::config::Settings;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It works; what was found.
    Pass(String),
    /// It does not; what was found and how to fix it.
    Fail { found: String, fix: String },
    /// Not checked (nothing configured, or a check it depends on failed); why.
    Skip(String),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
}

impl Check {
    pub fn pass(name: &str, found: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Pass(found.into()) }
    }

    pub fn fail(name: &str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Fail { found: found.into(), fix: fix.into() } }
    }

    pub fn skip(name: &str, why: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Skip(why.into()) }
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail { .. })
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass(found) => write!(f, "✓ {}: {found}", self.name),
            Outcome::Fail { found, fix } => write!(f, "✗ {}: {found} — fix: {fix}", self.name),
            Outcome::Skip(why) => write!(f, "- {}: skipped: {why}", self.name),
        }
    }
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(Check::failed)
    }

    /// The check named `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{check}")?;
        }
        let count = |pick: fn(&Outcome) -> bool| self.checks.iter().filter(|c| pick(&c.outcome)).count();
        let failed = count(|o| matches!(o, Outcome::Fail { .. }));
        let passed = count(|o| matches!(o, Outcome::Pass(_)));
        let skipped = count(|o| matches!(o, Outcome::Skip(_)));
        writeln!(f, "{passed} passed, {failed} failed, {skipped} skipped")
    }
}

/// What the checks share: the settings, one HTTP client, the clock (a runner's last poll is
/// judged by it).
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub http: reqwest::Client,
    pub clock: SharedClock,
}

/// Runs every check against what `settings` configure. The one list of check families.
pub async fn run(settings: &Settings, clock: SharedClock) -> Report {
    let http = crate::tls::http_client_builder()
        .timeout(settings.slack_timeout)
        .build()
        .unwrap_or_else(|_| crate::tls::http_client());
    let cx = Context { settings, http, clock };
    let mut checks = slack::checks(&cx).await;
    checks.extend(secrets::checks(&cx).await);
    checks.extend(statuspage::checks(&cx).await);
    checks.extend(pagerduty::checks(&cx).await);
    checks.extend(runners::checks(&cx).await);
    checks.push(crate::seen_before::doctor::check(&cx).await);
    Report { checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_the_result_what_was_found_and_the_fix() {
        let report = Report {
            checks: vec![
                Check::pass("slack auth.test", "bot @warroom"),
                Check::fail("slack scopes", "missing pins:write", "add it under OAuth & Permissions and reinstall"),
                Check::skip("pagerduty routing key", "no PAGERDUTY_ROUTING_KEY"),
            ],
        };
        let text = report.to_string();
        assert_eq!(
            text,
            "✓ slack auth.test: bot @warroom\n\
             ✗ slack scopes: missing pins:write — fix: add it under OAuth & Permissions and reinstall\n\
             - pagerduty routing key: skipped: no PAGERDUTY_ROUTING_KEY\n\
             1 passed, 1 failed, 1 skipped\n"
        );
        assert!(report.failed());
        assert!(!Report { checks: vec![Check::skip("x", "y")] }.failed(), "a skip is no failure");
    }
}
