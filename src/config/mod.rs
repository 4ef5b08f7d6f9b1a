//! Settings: `warroom.toml` (see [`file`]) plus the environment, validated once at start.
//! Secrets come only from the environment and are held as [`Secret`]s.

mod alerts;
mod allow;
mod api_url;
mod archive;
mod console;
mod diagnostics;
mod feedback;
mod file;
mod impact;
mod oncall;
mod permissions;
mod private;
mod roles;
mod runbook_path;
mod runners;
mod statuspage;
mod target;
mod tracker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use alerts::{AlertRule, AlertsConfig};
pub use allow::Allow;
pub use api_url::is_allowed_api_url;
pub use console::ConsoleEnv;
pub use diagnostics::{DiagnosticsConfig, PackDir};
pub use feedback::FeedbackConfig;
pub use file::{
    ApprovalsConfig, ComponentStatus, ConfigProblem, EscalationTier, FileConfig, ServiceConfig, SeverityConfig,
    StatuspageConfig, StatuspageMode,
};
pub use impact::{Impact, ServiceImpact};
pub use oncall::{is_pagerduty_id, OncallConfig, OncallSource};
pub use permissions::{Permission, PermissionsConfig, Principal, Responders};
pub use private::PrivateConfig;
pub use roles::{RequiredRoles, Role, RolesConfig, COMMANDER};
pub use runners::RunnerTokens;
pub use target::Target;
pub use tracker::{Tracker, TrackerEnv, TrackersConfig};

use crate::secret::Secret;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything warroom is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The validated config file (or the built-in defaults).
    pub file: FileConfig,
    /// Where the config file came from, if there was one.
    pub config_path: Option<PathBuf>,
    /// `DATABASE_URL`; `None` starts the embedded Postgres.
    pub database_url: Option<Secret>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `SLACK_BOT_TOKEN`; `None` runs against the in-process sandbox workspace.
    pub slack_bot_token: Option<Secret>,
    /// `WARROOM_SANDBOX=1`: run the sandbox workspace though warroom listens beyond loopback.
    pub sandbox: bool,
    pub slack_signing_secret: Option<Secret>,
    pub slack_app_token: Option<Secret>,
    pub slack_api_url: String,
    /// `WARROOM_SANDBOX_PUBLIC=1`: serve the sandbox page and its controls to any address, not
    /// only loopback (whoever reaches them acts as any sandbox user).
    pub sandbox_public: bool,
    pub api_token: Option<Secret>,
    /// `WARROOM_API_PRIVATE_TOKEN`: a second API bearer token, the only one that sees private
    /// incidents (with `?include_private=true`); unset, no API client sees them.
    pub api_private_token: Option<Secret>,
    pub log_format: Option<LogFormat>,
    /// `WARROOM_DIAGNOSTICS_PATH`: where diagnostics find their programs (default: warroom's PATH).
    pub diagnostics_path: Option<String>,
    /// `WARROOM_RUNNER_TOKENS` (or the deprecated `WARROOM_RUNNER_TOKEN`): each remote runner's
    /// name and token; runners are off without any.
    pub runner_tokens: RunnerTokens,
    /// `STATUSPAGE_API_KEY`; `None` pushes to the in-process sandbox status page.
    pub statuspage_api_key: Option<Secret>,
    pub statuspage_page_id: Option<String>,
    pub statuspage_api_url: String,
    /// `PAGERDUTY_ROUTING_KEY`: PagerDuty Events API v2 integration key; paging is off without it.
    pub pagerduty_routing_key: Option<Secret>,
    pub pagerduty_events_url: String,
    /// `PAGERDUTY_API_TOKEN`: a REST API key. warroom pages without one; `warroom doctor`
    /// checks it answers when it is set.
    pub pagerduty_api_token: Option<Secret>,
    /// `PAGERDUTY_API_URL`: the REST API's base (default `https://api.pagerduty.com`).
    pub pagerduty_api_url: String,
    /// How long a status page request may take before it counts as lost (not configurable
    /// from the environment; tests shorten it).
    pub statuspage_timeout: std::time::Duration,
    /// How long a Slack Web API call may take before its answer counts as lost (a post then
    /// looks for itself in the channel before posting again). Not configurable from the
    /// environment; tests shorten it.
    pub slack_timeout: std::time::Duration,
    /// The trackers' tokens and API addresses (`GITHUB_TOKEN`, `JIRA_*`, `LINEAR_*`).
    pub trackers: TrackerEnv,
    /// Sign in with Slack for the console (`SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET`,
    /// `SLACK_OIDC_URL`, `WARROOM_PUBLIC_URL`).
    pub console: ConsoleEnv,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
}

impl Settings {
    /// Loads settings from the process environment and the config file it names.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    /// Loads settings from `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut problems = Vec::new();
        let env_problem =
            |key: &str, message: String| ConfigProblem { file: PathBuf::from(format!("${key}")), line: 0, message };

        let config_path = match lookup("WARROOM_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("warroom.toml")).filter(|p| p.exists()),
        };
        let file = match &config_path {
            Some(path) => match load_file(path) {
                Ok(file) => file,
                Err(SettingsError::Invalid(mut p)) => {
                    problems.append(&mut p);
                    FileConfig::default()
                }
                Err(e) => return Err(e),
            },
            None => FileConfig::default(),
        };

        let listen = lookup("WARROOM_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen.parse().unwrap_or_else(|_| {
            problems.push(env_problem("WARROOM_LISTEN", format!("`{listen}` is not an address like 127.0.0.1:8080")));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let slack_api_url = lookup("SLACK_API_URL").unwrap_or_else(|| "https://slack.com/api".into());
        if let Some(why) = api_url::refusal(&slack_api_url) {
            problems.push(env_problem("SLACK_API_URL", format!("SLACK_API_URL {why}")));
        }
        let log_format = match lookup("WARROOM_LOG_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(LogFormat::Json),
            Some("pretty") => Some(LogFormat::Pretty),
            Some(other) => {
                problems.push(env_problem("WARROOM_LOG_FORMAT", format!("`{other}`: use json or pretty")));
                None
            }
        };
        let statuspage_api_url = lookup("STATUSPAGE_API_URL").unwrap_or_else(|| "https://api.statuspage.io/v1".into());
        if let Some(why) = api_url::refusal(&statuspage_api_url) {
            problems.push(env_problem("STATUSPAGE_API_URL", format!("STATUSPAGE_API_URL {why}")));
        }
        let pagerduty_events_url =
            lookup("PAGERDUTY_EVENTS_URL").unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into());
        if let Some(why) = api_url::refusal(&pagerduty_events_url) {
            problems.push(env_problem("PAGERDUTY_EVENTS_URL", format!("PAGERDUTY_EVENTS_URL {why}")));
        }
        let pagerduty_api_url = lookup("PAGERDUTY_API_URL").unwrap_or_else(|| "https://api.pagerduty.com".into());
        if let Some(why) = api_url::refusal(&pagerduty_api_url) {
            problems.push(env_problem("PAGERDUTY_API_URL", format!("PAGERDUTY_API_URL {why}")));
        }
        let sandbox = match lookup("WARROOM_SANDBOX").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                problems.push(env_problem("WARROOM_SANDBOX", format!("`{other}`: use 1 (run the sandbox) or 0")));
                false
            }
        };
        let runner_tokens = RunnerTokens::from_lookup(&lookup, &file.services).unwrap_or_else(|found| {
            problems.extend(found.into_iter().map(|(key, message)| env_problem(key, message)));
            RunnerTokens::default()
        });
        let mut tracker_problems = Vec::new();
        let trackers = TrackerEnv::from_lookup(&lookup, &mut tracker_problems);
        problems.extend(tracker_problems.into_iter().map(|(key, message)| env_problem(&key, message)));
        let mut console_problems = Vec::new();
        let console = ConsoleEnv::from_lookup(&lookup, &mut console_problems);
        problems.extend(console_problems.into_iter().map(|(key, message)| env_problem(&key, message)));
        let secret = |key: &str| lookup(key).map(Secret::new);
        let settings = Settings {
            file,
            config_path,
            database_url: secret("DATABASE_URL"),
            listen,
            data_dir: PathBuf::from(lookup("WARROOM_DATA_DIR").unwrap_or_else(|| ".warroom".into())),
            slack_bot_token: secret("SLACK_BOT_TOKEN"),
            sandbox,
            slack_signing_secret: secret("SLACK_SIGNING_SECRET"),
            slack_app_token: secret("SLACK_APP_TOKEN"),
            slack_api_url: slack_api_url.trim_end_matches('/').to_string(),
            sandbox_public: lookup("WARROOM_SANDBOX_PUBLIC").is_some_and(|v| matches!(v.as_str(), "1" | "true")),
            api_token: secret("WARROOM_API_TOKEN"),
            api_private_token: secret("WARROOM_API_PRIVATE_TOKEN"),
            log_format,
            diagnostics_path: lookup("WARROOM_DIAGNOSTICS_PATH"),
            runner_tokens,
            statuspage_api_key: secret("STATUSPAGE_API_KEY"),
            statuspage_page_id: lookup("STATUSPAGE_PAGE_ID"),
            statuspage_api_url: statuspage_api_url.trim_end_matches('/').to_string(),
            statuspage_timeout: std::time::Duration::from_secs(10),
            slack_timeout: std::time::Duration::from_secs(10),
            pagerduty_routing_key: secret("PAGERDUTY_ROUTING_KEY"),
            pagerduty_events_url: pagerduty_events_url.clone(),
            pagerduty_api_token: secret("PAGERDUTY_API_TOKEN"),
            pagerduty_api_url: pagerduty_api_url.trim_end_matches('/').to_string(),
            trackers,
            console,
        };
        if settings.statuspage_api_key.is_some() && settings.statuspage_page_id.is_none() {
            problems.push(env_problem(
                "STATUSPAGE_PAGE_ID",
                "STATUSPAGE_API_KEY is set but STATUSPAGE_PAGE_ID is not: warroom would not know which page to update"
                    .into(),
            ));
        }
        // Socket Mode needs no signing secret: Slack's envelopes arrive over the connection the
        // app token opened, not as requests anyone could send.
        if settings.slack_bot_token.is_some()
            && settings.slack_app_token.is_none()
            && settings.slack_signing_secret.is_none()
        {
            problems.push(env_problem(
                "SLACK_SIGNING_SECRET",
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: requests from Slack could not be verified"
                    .into(),
            ));
        }
        if settings.sandbox && settings.slack_bot_token.is_some() {
            problems.push(env_problem(
                "WARROOM_SANDBOX",
                "WARROOM_SANDBOX=1 and SLACK_BOT_TOKEN are both set: unset WARROOM_SANDBOX to use Slack, or \
                 SLACK_BOT_TOKEN to run the sandbox"
                    .into(),
            ));
        }
        if settings.slack_app_token.as_ref().is_some_and(|t| !t.expose().starts_with("xapp-")) {
            problems.push(env_problem(
                "SLACK_APP_TOKEN",
                "SLACK_APP_TOKEN must be an app-level token (`xapp-…`, with the connections:write scope)".into(),
            ));
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(SettingsError::Invalid(problems))
        }
    }

    /// Built-in defaults, listening on a random loopback port and talking to the Slack (or
    /// sandbox) at `api_url` with the sandbox's bot token: for tests and benchmarks.
    pub fn for_slack(api_url: &str, signing_secret: &str) -> Self {
        let settings = Self::from_lookup(|key| {
            match key {
                "WARROOM_CONFIG" => Some("/dev/null"),
                "WARROOM_LISTEN" => Some("127.0.0.1:0"),
                "SLACK_BOT_TOKEN" => Some(crate::sandbox::BOT_TOKEN),
                "SLACK_SIGNING_SECRET" => Some(signing_secret),
                "SLACK_API_URL" => Some(api_url),
                _ => None,
            }
            .map(str::to_string)
        });
        settings.expect("the built-in defaults and a loopback Slack are valid settings")
    }

    /// True when warroom talks to the in-process sandbox workspace instead of Slack.
    pub fn sandbox_mode(&self) -> bool {
        self.slack_bot_token.is_none()
    }

    /// Whether `warroom serve` may start: a deployment that forgot `SLACK_BOT_TOKEN` must not
    /// quietly declare incidents into an in-memory Slack. Without the token the sandbox runs
    /// only on a loopback listener, or when `WARROOM_SANDBOX=1` asks for it.
    pub fn check_serve(&self) -> Result<(), SettingsError> {
        if !self.sandbox_mode() || self.sandbox || self.listen.ip().is_loopback() {
            return Ok(());
        }
        Err(SettingsError::Invalid(vec![ConfigProblem {
            file: PathBuf::from("$SLACK_BOT_TOKEN"),
            line: 0,
            message: format!(
                "SLACK_BOT_TOKEN is not set and WARROOM_LISTEN ({}) is not a loopback address: set SLACK_BOT_TOKEN \
                 (with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN) to use Slack, or WARROOM_SANDBOX=1 to run the \
                 sandbox workspace",
                self.listen
            ),
        }]))
    }
}

/// Reads and validates one config file.
pub fn load_file(path: &Path) -> Result<FileConfig, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read { path: path.into(), source })?;
    FileConfig::parse(path, &text).map_err(SettingsError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_environment_means_sandbox_and_defaults() {
        let s = settings(&[("WARROOM_CONFIG", "/dev/null")]).unwrap();
        assert!(s.sandbox_mode());
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.slack_api_url, "https://slack.com/api");
    }

    #[test]
    fn without_a_slack_token_only_a_loopback_listener_or_warroom_sandbox_runs_the_sandbox() {
        let base = [("WARROOM_CONFIG", "/dev/null")];
        let with = |extra: &[(&str, &str)]| settings(&[base.as_slice(), extra].concat()).unwrap();

        let err = with(&[("WARROOM_LISTEN", "0.0.0.0:0")]).check_serve().unwrap_err().to_string();
        assert!(err.contains("SLACK_BOT_TOKEN is not set") && err.contains("WARROOM_SANDBOX=1"), "{err}");
        assert!(with(&[("WARROOM_LISTEN", "10.1.2.3:8080")]).check_serve().is_err());
        assert!(with(&[("WARROOM_LISTEN", "[::]:8080")]).check_serve().is_err());

        for ok in [
            with(&[]),
            with(&[("WARROOM_LISTEN", "[::1]:8080")]),
            with(&[("WARROOM_LISTEN", "0.0.0.0:0"), ("WARROOM_SANDBOX", "1")]),
            with(&[("WARROOM_LISTEN", "0.0.0.0:0"), ("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_SIGNING_SECRET", "s")]),
        ] {
            assert!(ok.check_serve().is_ok(), "{:?} sandbox={}", ok.listen, ok.sandbox);
        }
        assert!(!with(&[("WARROOM_SANDBOX", "0")]).sandbox);
    }

    #[test]
    fn warroom_sandbox_takes_one_or_zero_and_never_alongside_a_slack_token() {
        let err = settings(&[("WARROOM_CONFIG", "/dev/null"), ("WARROOM_SANDBOX", "yes")]).unwrap_err();
        assert!(err.to_string().contains("WARROOM_SANDBOX"), "{err}");
        let both = [
            ("WARROOM_CONFIG", "/dev/null"),
            ("WARROOM_SANDBOX", "1"),
            ("SLACK_BOT_TOKEN", "xoxb-secret-value"),
            ("SLACK_SIGNING_SECRET", "s"),
        ];
        let err = settings(&both).unwrap_err().to_string();
        assert!(err.contains("WARROOM_SANDBOX=1 and SLACK_BOT_TOKEN are both set"), "{err}");
        assert!(!err.contains("xoxb-secret-value"), "{err}");
    }

    #[test]
    fn runner_token_problems_name_the_variable_and_not_the_token() {
        let err = settings(&[("WARROOM_CONFIG", "/dev/null"), ("WARROOM_RUNNER_TOKENS", "edge-1=tiny-secret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("$WARROOM_RUNNER_TOKENS") && err.contains("runner `edge-1`"), "{err}");
        assert!(!err.contains("tiny-secret"), "{err}");
        let ok = settings(&[("WARROOM_CONFIG", "/dev/null"), ("WARROOM_RUNNER_TOKENS", "edge-1=0123456789abcdef0123")])
            .unwrap();
        assert_eq!(ok.runner_tokens.identify("0123456789abcdef0123"), Some("edge-1"));
        assert!(!format!("{ok:?}").contains("0123456789abcdef0123"), "Debug shows names only");
    }

    #[test]
    fn plain_http_is_only_allowed_to_loopback() {
        assert!(is_allowed_api_url("http://127.0.0.1:9999/api"));
        assert!(is_allowed_api_url("https://slack.com/api"));
        assert!(!is_allowed_api_url("http://slack.example.com/api"));
        let err =
            settings(&[("WARROOM_CONFIG", "/dev/null"), ("SLACK_API_URL", "http://evil.example/api")]).unwrap_err();
        assert!(err.to_string().contains("SLACK_API_URL"), "{err}");
        let err = settings(&[("WARROOM_CONFIG", "/dev/null"), ("STATUSPAGE_API_URL", "http://127.0.0.1:pw@evil/v1")])
            .unwrap_err();
        assert!(err.to_string().contains("STATUSPAGE_API_URL must not carry a user name or password"), "{err}");
        assert!(!err.to_string().contains("pw@evil"), "the URL (and what it carries) is not echoed: {err}");
    }

    #[test]
    fn a_bot_token_without_a_signing_secret_is_refused() {
        let err = settings(&[("WARROOM_CONFIG", "/dev/null"), ("SLACK_BOT_TOKEN", "xoxb-1")]).unwrap_err();
        assert!(err.to_string().contains("SLACK_SIGNING_SECRET"));
        assert!(!err.to_string().contains("xoxb-1"));
    }

    #[test]
    fn socket_mode_needs_no_signing_secret_but_an_app_level_token() {
        let base = [("WARROOM_CONFIG", "/dev/null"), ("SLACK_BOT_TOKEN", "xoxb-1")];
        let ok = settings(&[base.as_slice(), &[("SLACK_APP_TOKEN", "xapp-1-A1-2-abc")]].concat()).unwrap();
        assert!(ok.slack_app_token.is_some() && ok.slack_signing_secret.is_none());
        let err =
            settings(&[base.as_slice(), &[("SLACK_APP_TOKEN", "xoxb-2-pasted-by-mistake")]].concat()).unwrap_err();
        assert!(err.to_string().contains("SLACK_APP_TOKEN"), "{err}");
        assert!(!err.to_string().contains("pasted-by-mistake"), "the token is not echoed: {err}");
    }
}
