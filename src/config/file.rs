//! `warroom.toml`: the raw file shape (with source spans) and its validation into [`FileConfig`].
//! Validation collects every problem it can find, each with the file and line it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use super::statuspage::{ComponentStatus, StatuspageConfig, StatuspageMode};
use crate::duration::HumanDuration;
use crate::incident::Severity;

/// One problem in the configuration, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    slack: RawSlack,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, RawSeverity>,
    #[serde(default)]
    escalation: BTreeMap<Spanned<String>, Vec<RawTier>>,
    #[serde(default)]
    services: BTreeMap<Spanned<String>, ServiceConfig>,
    #[serde(default)]
    approvals: RawApprovals,
    #[serde(default)]
    alerts: super::alerts::RawAlerts,
    #[serde(default)]
    templates: RawTemplates,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    statuspage: RawStatuspage,
    #[serde(default)]
    permissions: super::permissions::RawPermissions,
    #[serde(default)]
    diagnostics: super::diagnostics::RawDiagnostics,
    #[serde(default)]
    trackers: super::tracker::RawTrackers,
    #[serde(default)]
    feedback: super::feedback::RawFeedback,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStatuspage {
    reconcile_every: Option<Spanned<String>>,
    deliver_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApprovals {
    #[serde(default)]
    approvers: Vec<Spanned<String>>,
    required: Option<Spanned<i64>>,
    expires_after: Option<Spanned<String>>,
}

/// Who may approve changes, how many must, and for how long a request stands.
#[derive(Debug, Clone)]
pub struct ApprovalsConfig {
    /// Slack user ids.
    pub approvers: Vec<String>,
    /// Slack user group handles (without `@`), resolved through `usergroups.users.list`.
    pub approver_groups: Vec<String>,
    /// Approvals needed, never counting the requester.
    pub required: u32,
    pub expires_after: HumanDuration,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            approvers: Vec::new(),
            approver_groups: Vec::new(),
            required: 1,
            expires_after: HumanDuration(std::time::Duration::from_secs(15 * 60)),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    #[serde(default)]
    responders: Vec<Spanned<String>>,
    names: Option<super::roles::RawNames>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    announce_channel: Option<Spanned<String>>,
    channel_prefix: Option<Spanned<String>>,
    war_room_url: Option<Spanned<String>>,
    channel_post_interval: Option<Spanned<String>>,
    announce_private: Option<bool>,
    bookmarks: Option<bool>,
    archive_after: Option<Spanned<String>>,
    postmortem_canvas: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSeverity {
    status_update_every: Option<Spanned<String>>,
    statuspage: Option<Spanned<String>>,
    statuspage_component_status: Option<Spanned<String>>,
    statuspage_impact: Option<Spanned<String>>,
    ack_within: Option<Spanned<String>>,
    roles_required: Option<Vec<Spanned<String>>>,
    remind_unfilled: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    after: Spanned<String>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    #[serde(default)]
    pagerduty: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    dir: Option<PathBuf>,
}

/// What a declared service means: its owner, diagnostics packs and parameters.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub owner: Option<String>,
    /// The service's name as customers know it ("ML Inference API"), for the status page.
    pub display_name: Option<String>,
    #[serde(default)]
    pub packs: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub statuspage_components: Vec<String>,
    pub runner: Option<String>,
    /// Target parameters a person may choose, and the pattern each value must match in full.
    #[serde(default)]
    pub allow: super::Allow,
    /// A Markdown runbook: the incident's checklist. Written relative to the config file's
    /// directory; [`FileConfig::parse`] resolves it, so this is the path to open.
    pub runbook: Option<PathBuf>,
    /// The status page impact of this service's incidents at some severities, over the
    /// severity's own (seed 001's page says `major` where P0 says `critical`).
    #[serde(default)]
    pub statuspage_impact: super::ServiceImpact,
    /// Who is on call for it in PagerDuty: the commander of incidents declared without one,
    /// and escalation's `oncall` target.
    pub oncall: Option<super::OncallConfig>,
    /// Every incident of this service is private (`crate::config::private`).
    #[serde(default)]
    pub private: bool,
    /// Where its follow-ups become issues (`github:owner/repo`, `jira:PROJ`, `linear:TEAM`).
    pub tracker: Option<super::Tracker>,
    /// Where `runbook` is written (`warroom.toml:42`), for check-config's messages.
    #[serde(skip)]
    pub runbook_location: Option<String>,
}

#[cfg(test)]
impl ServiceConfig {
    /// A service of these packs and params, the rest default (for unit tests of what reads it).
    pub(crate) fn of(packs: &[&str], params: &[(&str, &str)]) -> Self {
        Self {
            packs: packs.iter().map(|p| p.to_string()).collect(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }
}

/// Per-severity behaviour.
#[derive(Debug, Clone, Default)]
pub struct SeverityConfig {
    pub status_update_every: Option<HumanDuration>,
    /// Whether incidents at this severity appear on the status page, and how updates get there.
    pub statuspage: StatuspageMode,
    /// What the service's status page components show while the incident is open.
    pub statuspage_component_status: ComponentStatus,
    /// The status page incident's impact; `None`: by severity ([`super::Impact::default_for`]).
    pub statuspage_impact: Option<super::Impact>,
    pub ack_within: Option<HumanDuration>,
}

/// One escalation tier.
#[derive(Debug, Clone)]
pub struct EscalationTier {
    pub after: HumanDuration,
    pub notify: Vec<String>,
    pub pagerduty: bool,
}

/// The validated contents of `warroom.toml`.
#[derive(Debug, Clone)]
pub struct FileConfig {
    /// Channel (name, without `#`) where declarations are announced.
    pub announce_channel: String,
    /// Prefix of incident channels: `inc` gives `inc-42-inference-gateway`.
    pub channel_prefix: String,
    /// Link to the war room call, shown in the declaration.
    pub war_room_url: Option<String>,
    /// Minimum gap between two posts to one channel (Slack allows about one per second).
    pub channel_post_interval: HumanDuration,
    /// `[slack] bookmarks`: keep the incident channel's bookmarks (war room, runbook, status
    /// page, report). On unless turned off.
    pub bookmarks: bool,
    pub severity: BTreeMap<Severity, SeverityConfig>,
    pub escalation: BTreeMap<Severity, Vec<EscalationTier>>,
    pub services: BTreeMap<String, ServiceConfig>,
    /// Directory whose `*.hbs` files replace the compiled-in templates.
    pub templates_dir: Option<PathBuf>,
    pub approvals: ApprovalsConfig,
    /// `[alerts]`: which alerts declare incidents.
    pub alerts: super::AlertsConfig,
    /// `[roles] responders`: the people the `responders` principal means.
    pub responders: super::Responders,
    /// `[roles] names` and the roles each severity wants filled.
    pub roles: super::RolesConfig,
    /// `[permissions]`: who may do what.
    pub permissions: super::PermissionsConfig,
    pub statuspage: StatuspageConfig,
    /// `[diagnostics]`: the team's own pack directories.
    pub diagnostics: super::DiagnosticsConfig,
    /// `[trackers]`: reading follow-up issues back.
    pub trackers: super::TrackersConfig,
    /// Not from the file: where the on-call of a service without `oncall` comes from. Only the
    /// sandbox sets it (its own PagerDuty's schedule), so that a first run shows an on-call.
    pub oncall_fallback: Option<super::OncallSource>,
    /// `[slack] announce_private`: how private incidents are announced.
    pub private: super::PrivateConfig,
    /// `[slack] archive_after`: archive the incident channel this long after a resolve; `None`: never.
    pub archive_after: Option<HumanDuration>,
    /// `[feedback] ask` and `[slack] postmortem_canvas`.
    pub feedback: super::FeedbackConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        let minutes = |m: u64| Some(HumanDuration(std::time::Duration::from_secs(m * 60)));
        let mut severity = BTreeMap::new();
        severity.insert(
            Severity::P0,
            SeverityConfig {
                status_update_every: minutes(5),
                ack_within: minutes(5),
                statuspage: StatuspageMode::Auto,
                statuspage_component_status: ComponentStatus::MajorOutage,
                statuspage_impact: None,
            },
        );
        severity.insert(
            Severity::P1,
            SeverityConfig {
                status_update_every: minutes(15),
                statuspage: StatuspageMode::Auto,
                statuspage_component_status: ComponentStatus::PartialOutage,
                ..Default::default()
            },
        );
        let degraded = ComponentStatus::DegradedPerformance;
        severity.insert(
            Severity::P2,
            SeverityConfig {
                status_update_every: minutes(30),
                statuspage_component_status: degraded,
                ..Default::default()
            },
        );
        severity.insert(Severity::P3, SeverityConfig { statuspage_component_status: degraded, ..Default::default() });
        Self {
            announce_channel: "incidents".into(),
            channel_prefix: "inc".into(),
            war_room_url: None,
            channel_post_interval: HumanDuration(std::time::Duration::from_secs(1)),
            bookmarks: true,
            severity,
            escalation: default_escalation(),
            services: BTreeMap::new(),
            templates_dir: None,
            approvals: ApprovalsConfig::default(),
            alerts: super::AlertsConfig::default(),
            responders: super::Responders::default(),
            roles: super::RolesConfig::default(),
            permissions: super::PermissionsConfig::default(),
            statuspage: StatuspageConfig::default(),
            diagnostics: super::DiagnosticsConfig::default(),
            trackers: super::TrackersConfig::default(),
            oncall_fallback: None,
            private: super::PrivateConfig::default(),
            archive_after: None,
            feedback: super::FeedbackConfig::default(),
        }
    }
}

/// Seed 002's escalation path for P0: the service owner and the SRE lead at 15 minutes, the
/// engineering manager and the platform lead at 30, the VP Engineering and the CTO at 60.
fn default_escalation() -> BTreeMap<Severity, Vec<EscalationTier>> {
    let tier = |minutes: u64, notify: &[&str], pagerduty: bool| EscalationTier {
        after: HumanDuration(std::time::Duration::from_secs(minutes * 60)),
        notify: notify.iter().map(|t| t.to_string()).collect(),
        pagerduty,
    };
    let p0 = vec![
        tier(15, &["owner", "@sre-leads"], false),
        tier(30, &["@eng-managers", "@platform-lead"], true),
        tier(60, &["@vp-engineering", "@cto"], true),
    ];
    BTreeMap::from([(Severity::P0, p0)])
}

impl FileConfig {
    /// Parses and validates `text`, read from `file`; on failure returns every problem found.
    pub fn parse(file: &Path, text: &str) -> Result<Self, Vec<ConfigProblem>> {
        let problem = |span: std::ops::Range<usize>, message: String| ConfigProblem {
            file: file.to_path_buf(),
            line: line_of(text, span.start),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            vec![problem(span, e.message().to_string())]
        })?;

        let mut problems = Vec::new();
        let mut config = FileConfig::default();
        let duration = |value: &Spanned<String>, problems: &mut Vec<ConfigProblem>| {
            HumanDuration::parse(value.get_ref()).map_err(|m| problems.push(problem(value.span(), m))).ok()
        };

        if let Some(channel) = &raw.slack.announce_channel {
            let name = channel.get_ref().trim_start_matches('#');
            match crate::incident::validate_channel_name(name) {
                Ok(()) => config.announce_channel = name.to_string(),
                Err(m) => problems.push(problem(channel.span(), format!("slack.announce_channel: {m}"))),
            }
        }
        if let Some(prefix) = &raw.slack.channel_prefix {
            match crate::incident::validate_channel_name(prefix.get_ref()) {
                Ok(()) if prefix.get_ref().len() <= 20 => config.channel_prefix = prefix.get_ref().clone(),
                Ok(()) => problems.push(problem(prefix.span(), "slack.channel_prefix: at most 20 characters".into())),
                Err(m) => problems.push(problem(prefix.span(), format!("slack.channel_prefix: {m}"))),
            }
        }
        if let Some(url) = &raw.slack.war_room_url {
            if url.get_ref().starts_with("https://") || url.get_ref().starts_with("http://") {
                config.war_room_url = Some(url.get_ref().clone());
            } else {
                problems.push(problem(url.span(), "slack.war_room_url must be an http(s) URL".into()));
            }
        }
        if let Some(d) = raw.slack.channel_post_interval.as_ref().and_then(|v| duration(v, &mut problems)) {
            config.channel_post_interval = d;
        }
        config.private = super::PrivateConfig::from_raw(raw.slack.announce_private);
        config.bookmarks = raw.slack.bookmarks.unwrap_or(config.bookmarks);
        config.archive_after = super::archive::validate(raw.slack.archive_after.as_ref(), &problem, &mut problems);
        config.feedback = super::feedback::FeedbackConfig::from_raw(&raw.feedback, raw.slack.postmortem_canvas);

        for (key, raw_sev) in &raw.severity {
            let Ok(sev) = Severity::parse(key.get_ref()) else {
                problems.push(problem(
                    key.span(),
                    format!("[severity.{}]: severity must be P0, P1, P2 or P3", key.get_ref()),
                ));
                continue;
            };
            let entry = config.severity.entry(sev).or_default();
            if let Some(v) = &raw_sev.status_update_every {
                entry.status_update_every = duration(v, &mut problems);
            }
            if let Some(v) = &raw_sev.ack_within {
                entry.ack_within = duration(v, &mut problems);
            }
            if let Some(v) = &raw_sev.statuspage {
                match v.get_ref().as_str() {
                    "auto" => entry.statuspage = StatuspageMode::Auto,
                    "manual" => entry.statuspage = StatuspageMode::Manual,
                    "off" => entry.statuspage = StatuspageMode::Off,
                    other => {
                        problems.push(problem(v.span(), format!("statuspage = \"{other}\": use auto, manual or off")))
                    }
                }
            }
            if let Some(v) = &raw_sev.statuspage_component_status {
                match ComponentStatus::parse(v.get_ref()) {
                    Ok(status) => entry.statuspage_component_status = status,
                    Err(m) => problems.push(problem(v.span(), m)),
                }
            }
            if let Some(v) = &raw_sev.statuspage_impact {
                match super::Impact::parse(v.get_ref()) {
                    Ok(impact) => entry.statuspage_impact = Some(impact),
                    Err(m) => problems.push(problem(v.span(), m)),
                }
            }
        }

        for (key, tiers) in &raw.escalation {
            let Ok(sev) = Severity::parse(key.get_ref()) else {
                problems.push(problem(
                    key.span(),
                    format!("[[escalation.{}]]: severity must be P0, P1, P2 or P3", key.get_ref()),
                ));
                continue;
            };
            let mut parsed: Vec<EscalationTier> = Vec::new();
            for tier in tiers {
                for target in &tier.notify {
                    if let Err(m) = super::Target::parse(target.get_ref()) {
                        problems.push(problem(target.span(), format!("[[escalation.{sev}]] notify: {m}")));
                    }
                }
                let Some(after) = duration(&tier.after, &mut problems) else { continue };
                if parsed.last().is_some_and(|last| last.after >= after) {
                    let m =
                        format!("[[escalation.{sev}]]: tiers must come later and later (`{}`)", tier.after.get_ref());
                    problems.push(problem(tier.after.span(), m));
                }
                let notify = tier.notify.iter().map(|t| t.get_ref().clone()).collect();
                parsed.push(EscalationTier { after, notify, pagerduty: tier.pagerduty });
            }
            config.escalation.insert(sev, parsed);
        }

        for (name, service) in &raw.services {
            if let Err(m) = crate::incident::ServiceName::parse(name.get_ref()) {
                problems.push(problem(name.span(), format!("[services.{}]: {m}", name.get_ref())));
                continue;
            }
            let mut service = service.clone();
            problems.extend(service.allow.problems(name.get_ref()).into_iter().map(|(span, m)| problem(span, m)));
            let impact = service.statuspage_impact.problems(name.get_ref());
            problems.extend(impact.into_iter().map(|(span, m)| problem(span, m)));
            service.allow.locate(|span| format!("{}:{}", file.display(), line_of(text, span.start)));
            if let Some(m) = service.oncall.as_ref().and_then(|o| o.problem(name.get_ref())) {
                problems.push(problem(name.span(), m));
            }
            config.services.insert(name.get_ref().clone(), service);
        }
        // `oncall` in a ladder means the declared service's on-call: every configured service
        // must say where its on-call comes from.
        for (sev, tiers) in &raw.escalation {
            let without: Vec<&str> =
                config.services.iter().filter(|(_, s)| s.oncall.is_none()).map(|(n, _)| n.as_str()).collect();
            for target in tiers.iter().flat_map(|t| &t.notify).filter(|t| t.get_ref().trim() == "oncall") {
                if !without.is_empty() {
                    let m = format!(
                        "[[escalation.{}]] notify `oncall`: [services.{}] has no `oncall` (add oncall = {{ pagerduty_schedule = \"P…\" }}, or notify `oncall:<schedule id>`)",
                        sev.get_ref(),
                        without.join("], [services.")
                    );
                    problems.push(problem(target.span(), m));
                }
            }
        }
        super::runbook_path::resolve(file, text, &mut config.services);
        config.templates_dir = raw.templates.dir.clone();
        config.responders = super::permissions::validate_responders(&raw.roles.responders, &problem, &mut problems);
        config.permissions = super::permissions::validate(&raw.permissions, &problem, &mut problems);
        let required = raw.severity.iter().map(|(severity, s)| super::roles::RawRequired {
            severity,
            roles: s.roles_required.as_deref(),
            remind_unfilled: s.remind_unfilled.as_ref(),
        });
        config.roles = super::roles::validate(raw.roles.names.as_ref(), required, &problem, &mut problems);
        for approver in &raw.approvals.approvers {
            let text = approver.get_ref();
            let handle = text.strip_prefix('@').filter(|h| {
                !h.is_empty() && h.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            });
            match (handle, crate::incident::SlackUserId::parse(text)) {
                (Some(handle), _) => config.approvals.approver_groups.push(handle.to_string()),
                (None, Ok(id)) => config.approvals.approvers.push(id.as_str().to_string()),
                (None, Err(m)) => problems.push(problem(
                    approver.span(),
                    format!("approvals.approvers: {m} (user ids like U0123456789, or user groups like @sre-leads)"),
                )),
            }
        }
        if let Some(required) = &raw.approvals.required {
            match u32::try_from(*required.get_ref()) {
                Ok(n) if (1..=10).contains(&n) => config.approvals.required = n,
                _ => problems.push(problem(required.span(), "approvals.required must be between 1 and 10".into())),
            }
        }
        if let Some(d) = raw.approvals.expires_after.as_ref().and_then(|v| duration(v, &mut problems)) {
            config.approvals.expires_after = d;
        }
        config.alerts = super::alerts::validate(&raw.alerts, &problem, &mut problems);
        if let Some(d) = raw.statuspage.reconcile_every.as_ref().and_then(|v| duration(v, &mut problems)) {
            config.statuspage.reconcile_every = d;
        }
        if let Some(deliver) = raw.statuspage.deliver_notifications {
            config.statuspage.deliver_notifications = deliver;
        }
        let line = |span: std::ops::Range<usize>| line_of(text, span.start);
        config.diagnostics = super::diagnostics::validate(&raw.diagnostics, file, &line, &mut problems);
        config.trackers = super::tracker::validate(&raw.trackers, &problem, &mut problems);

        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, Vec<ConfigProblem>> {
        FileConfig::parse(Path::new("warroom.toml"), text)
    }

    #[test]
    fn the_empty_file_gives_the_seed_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.announce_channel, "incidents");
        assert_eq!(config.severity[&Severity::P0].status_update_every.unwrap().0.as_secs(), 300);
        assert!(config.severity[&Severity::P3].status_update_every.is_none());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "[slack]\nannounce_channel = \"Bad Name\"\n\n[severity.P0]\nstatus_update_every = \"5x\"\n\n[severity.P9]\n";
        let problems = parse(text).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 5, 7], "{problems:?}");
        assert!(problems[0].to_string().starts_with("warroom.toml:2: slack.announce_channel"));
    }

    #[test]
    fn the_example_file_is_valid_and_covers_the_five_seed_systems() {
        let config = parse(include_str!("../../warroom.example.toml")).unwrap();
        let services: Vec<&str> = config.services.keys().map(String::as_str).collect();
        assert_eq!(
            services,
            ["dmarc-dashboard", "inference-gateway", "microdiff-matdesign", "pynomaly", "web3-marketplace-backend"]
        );
        assert_eq!(config.escalation[&Severity::P0].len(), 3);
        assert_eq!(config.war_room_url.as_deref(), Some("https://meet.example.com/incident"));
        assert_eq!(config.alerts.rules.len(), 2);
    }

    #[test]
    fn oncall_is_checked_in_services_and_ladders() {
        let ok = "[services.api]\noncall = { pagerduty_schedule = \"PABC123\" }\n[[escalation.P0]]\nafter = \"5m\"\nnotify = [\"oncall\", \"oncall:PDEF456\"]\n";
        let config = parse(ok).unwrap();
        assert_eq!(config.services["api"].oncall.as_ref().unwrap().source().unwrap().id(), "PABC123");
        let text = "[services.api]\nowner = \"@a\"\n[[escalation.P0]]\nafter = \"5m\"\nnotify = [\"oncall\", \"oncall:abc\"]\n[services.web]\noncall = { pagerduty_schedule = \"x\" }\n";
        let problems: Vec<String> = parse(text).unwrap_err().iter().map(ToString::to_string).collect();
        assert!(
            problems.iter().any(|p| p.starts_with("warroom.toml:5:") && p.contains("[services.api] has no `oncall`")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("warroom.toml:5:") && p.contains("`abc` is not a PagerDuty schedule id")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("warroom.toml:6:") && p.contains("[services.web] oncall")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_with_its_line() {
        let problems = parse("[slack]\nanounce_channel = \"x\"\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("anounce_channel"), "{}", problems[0].message);
    }
}
