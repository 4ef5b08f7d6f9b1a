//! Follow-ups in the team's tracker: `[services.x] tracker` (`github:owner/repo`, `jira:PROJ`,
//! `linear:TEAM`), `[trackers]` (how often issues are read back, GitHub logins by email) and
//! the tracker environment (`GITHUB_TOKEN`, `GITHUB_API_URL`, `JIRA_URL`, `JIRA_EMAIL`,
//! `JIRA_API_TOKEN`, `LINEAR_API_KEY`, `LINEAR_API_URL`). Tokens are [`Secret`]s, never printed.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigProblem;
use crate::duration::HumanDuration;
use crate::secret::Secret;

/// Where a service's follow-ups go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Tracker {
    /// GitHub Issues of `owner/repo`.
    GitHub { owner: String, repo: String },
    /// A Jira Cloud project, by key.
    Jira { project: String },
    /// A Linear team, by key.
    Linear { team: String },
}

impl Tracker {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("tracker = \"{text}\": {why} (use github:owner/repo, jira:PROJ or linear:TEAM)");
        let (kind, rest) = text.split_once(':').ok_or_else(|| bad("no tracker named"))?;
        let word = |s: &str, extra: &str| {
            !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        match kind {
            "github" => {
                let (owner, repo) = rest.split_once('/').ok_or_else(|| bad("a GitHub repository is owner/repo"))?;
                if !word(owner, "-") || !word(repo, "-_.") || repo.starts_with('.') {
                    return Err(bad("not a GitHub owner/repo"));
                }
                Ok(Self::GitHub { owner: owner.into(), repo: repo.into() })
            }
            "jira" if word(rest, "_") && rest.starts_with(|c: char| c.is_ascii_uppercase()) => {
                Ok(Self::Jira { project: rest.into() })
            }
            "jira" => Err(bad("a Jira project key is capital letters and digits, like OPS")),
            "linear" if word(rest, "_") => Ok(Self::Linear { team: rest.to_ascii_uppercase() }),
            "linear" => Err(bad("a Linear team key is letters and digits, like ENG")),
            _ => Err(bad(&format!("unknown tracker `{kind}`"))),
        }
    }

    /// `github`, `jira`, `linear`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GitHub { .. } => "github",
            Self::Jira { .. } => "jira",
            Self::Linear { .. } => "linear",
        }
    }

    /// "GitHub", "Jira", "Linear", for people.
    pub fn label(&self) -> &'static str {
        match self {
            Self::GitHub { .. } => "GitHub",
            Self::Jira { .. } => "Jira",
            Self::Linear { .. } => "Linear",
        }
    }
}

impl TryFrom<String> for Tracker {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl std::fmt::Display for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GitHub { owner, repo } => write!(f, "github:{owner}/{repo}"),
            Self::Jira { project } => write!(f, "jira:{project}"),
            Self::Linear { team } => write!(f, "linear:{team}"),
        }
    }
}

/// `[trackers]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackers {
    sync_every: Option<Spanned<String>>,
    #[serde(default)]
    github_logins: BTreeMap<String, Spanned<String>>,
}

/// `[trackers]`, validated.
#[derive(Debug, Clone)]
pub struct TrackersConfig {
    /// How often each open follow-up's issue is read back (default 15 minutes).
    pub sync_every: HumanDuration,
    /// GitHub login by Slack email (lower case): GitHub shows a user's email only when they
    /// made it public, so this table is how an owner becomes an assignee for sure.
    pub github_logins: BTreeMap<String, String>,
}

impl Default for TrackersConfig {
    fn default() -> Self {
        Self { sync_every: HumanDuration(std::time::Duration::from_secs(15 * 60)), github_logins: BTreeMap::new() }
    }
}

/// Validates `[trackers]`.
pub(super) fn validate(
    raw: &RawTrackers,
    problem: &dyn Fn(std::ops::Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> TrackersConfig {
    let mut config = TrackersConfig::default();
    if let Some(every) = &raw.sync_every {
        match HumanDuration::parse(every.get_ref()) {
            Ok(d) if d.0.as_secs() >= 60 => config.sync_every = d,
            Ok(_) => problems.push(problem(every.span(), "trackers.sync_every: at least 1m".into())),
            Err(m) => problems.push(problem(every.span(), format!("trackers.sync_every: {m}"))),
        }
    }
    for (email, login) in &raw.github_logins {
        let ok = !login.get_ref().is_empty()
            && login.get_ref().len() <= 39
            && login.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !email.contains('@') || !ok {
            let m =
                format!("trackers.github_logins: `{email}` = `{}` is not an email and a GitHub login", login.get_ref());
            problems.push(problem(login.span(), m));
            continue;
        }
        config.github_logins.insert(email.to_ascii_lowercase(), login.get_ref().clone());
    }
    config
}

/// The trackers' credentials and API addresses, from the environment.
#[derive(Debug, Clone)]
pub struct TrackerEnv {
    pub github_token: Option<Secret>,
    pub github_api_url: String,
    /// The Jira site (`https://acme.atlassian.net`).
    pub jira_url: Option<String>,
    pub jira_email: Option<String>,
    pub jira_api_token: Option<Secret>,
    pub linear_api_key: Option<Secret>,
    /// Linear's GraphQL endpoint.
    pub linear_api_url: String,
    /// How long a tracker request may take before its outcome counts as unknown (not from the
    /// environment; tests shorten it).
    pub timeout: std::time::Duration,
}

impl TrackerEnv {
    /// Reads the tracker variables; a bad URL or a half-configured Jira is a problem `(variable,
    /// message)`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>, problems: &mut Vec<(String, String)>) -> Self {
        let mut url = |key: &str, default: Option<&str>| {
            let value = lookup(key).or_else(|| default.map(str::to_string))?;
            match super::api_url::refusal(&value) {
                Some(why) => {
                    problems.push((key.to_string(), format!("{key} {why}")));
                    None
                }
                None => Some(value.trim_end_matches('/').to_string()),
            }
        };
        let github_api_url = url("GITHUB_API_URL", Some("https://api.github.com")).unwrap_or_default();
        let linear_api_url = url("LINEAR_API_URL", Some("https://api.linear.app/graphql")).unwrap_or_default();
        let jira_url = url("JIRA_URL", None);
        let env = Self {
            github_token: lookup("GITHUB_TOKEN").map(Secret::new),
            github_api_url,
            jira_url,
            jira_email: lookup("JIRA_EMAIL"),
            jira_api_token: lookup("JIRA_API_TOKEN").map(Secret::new),
            linear_api_key: lookup("LINEAR_API_KEY").map(Secret::new),
            linear_api_url,
            timeout: std::time::Duration::from_secs(10),
        };
        let jira = [lookup("JIRA_URL").is_some(), env.jira_email.is_some(), env.jira_api_token.is_some()];
        if jira.iter().any(|set| *set) && !jira.iter().all(|set| *set) {
            problems.push((
                "JIRA_API_TOKEN".into(),
                "Jira needs JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN together (one or two of them are set)".into(),
            ));
        }
        env
    }

    /// Whether any tracker has credentials.
    pub fn any(&self) -> bool {
        self.github_token.is_some() || self.jira_api_token.is_some() || self.linear_api_key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trackers_are_named_by_kind_and_place() {
        assert_eq!(
            Tracker::parse("github:acme/inference-gateway").unwrap(),
            Tracker::GitHub { owner: "acme".into(), repo: "inference-gateway".into() }
        );
        assert_eq!(Tracker::parse("jira:OPS").unwrap(), Tracker::Jira { project: "OPS".into() });
        assert_eq!(Tracker::parse("linear:eng").unwrap(), Tracker::Linear { team: "ENG".into() });
        for bad in ["github:acme", "github:/x", "jira:ops", "gitlab:a/b", "OPS", "linear:", "github:a/b c"] {
            assert!(Tracker::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Tracker::parse("jira:OPS").unwrap().to_string(), "jira:OPS");
    }

    #[test]
    fn check_config_names_the_line_of_a_bad_tracker_and_of_a_bad_sync_every() {
        let parse = |text: &str| super::super::FileConfig::parse(std::path::Path::new("warroom.toml"), text);
        let ok = parse("[services.api]\ntracker = \"jira:OPS\"\n[trackers]\nsync_every = \"5m\"\n").unwrap();
        assert_eq!(ok.services["api"].tracker, Some(Tracker::Jira { project: "OPS".into() }));
        assert_eq!(ok.trackers.sync_every.0.as_secs(), 300);
        assert_eq!(parse("").unwrap().trackers.sync_every.0.as_secs(), 900, "15m by default");
        let bad = parse("[services.api]\nowner = \"@a\"\ntracker = \"gitlab:a/b\"\n").unwrap_err();
        assert_eq!(bad[0].line, 3, "{bad:?}");
        assert!(bad[0].message.contains("unknown tracker `gitlab`"), "{bad:?}");
        let bad = parse("[trackers]\nsync_every = \"10s\"\n").unwrap_err();
        assert!(bad[0].to_string().starts_with("warroom.toml:2: trackers.sync_every: at least 1m"), "{bad:?}");
    }

    #[test]
    fn half_a_jira_is_a_problem_and_tokens_are_not_printed() {
        let vars = [("JIRA_URL", "https://acme.atlassian.net"), ("JIRA_API_TOKEN", "jira-secret-1")];
        let lookup = |k: &str| vars.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string());
        let mut problems = Vec::new();
        let env = TrackerEnv::from_lookup(&lookup, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(!format!("{env:?}").contains("jira-secret-1"));
        let vars = [("GITHUB_API_URL", "http://evil.example")];
        let lookup = |k: &str| vars.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string());
        let mut problems = Vec::new();
        TrackerEnv::from_lookup(&lookup, &mut problems);
        assert!(problems[0].1.contains("GITHUB_API_URL"), "{problems:?}");
    }
}
