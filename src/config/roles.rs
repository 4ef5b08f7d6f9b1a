//! `[roles] names` and `[severity.Px] roles_required` / `remind_unfilled`: the roles people fill
//! in an incident, and which of them a severity wants filled. The commander is one of the roles
//! (its holder is the incident's `commander`); the others are kept by `crate::roles`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::file::ConfigProblem;
use crate::duration::HumanDuration;
use crate::incident::Severity;

/// The commander's role key.
pub const COMMANDER: &str = "commander";

/// `[roles] names` as written: role key → display name.
pub(super) type RawNames = BTreeMap<Spanned<String>, Spanned<String>>;

/// At most this many roles: each is a field of the declare modal and a line of the declaration.
const MAX_ROLES: usize = 10;
const MAX_NAME: usize = 50;
/// What `remind_unfilled` is when a severity lists `roles_required` without it.
const DEFAULT_REMIND_MINUTES: u64 = 10;

/// One role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `scribe`: what `/incident role scribe @u` names.
    pub key: String,
    /// `Scribe`: what people read.
    pub name: String,
}

/// What a severity asks of its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRoles {
    /// Role keys, each a known role.
    pub roles: Vec<String>,
    /// How long after the declaration an unfilled one is reminded (and again as long later,
    /// in the announcement channel).
    pub remind_unfilled: HumanDuration,
}

/// The incident roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolesConfig {
    /// The commander first, then the file's order.
    roles: Vec<Role>,
    required: BTreeMap<Severity, RequiredRoles>,
}

impl Default for RolesConfig {
    fn default() -> Self {
        let role = |key: &str, name: &str| Role { key: key.into(), name: name.into() };
        Self {
            roles: vec![
                role(COMMANDER, "Incident Commander"),
                role("scribe", "Scribe"),
                role("comms", "Communications lead"),
            ],
            required: BTreeMap::new(),
        }
    }
}

impl RolesConfig {
    /// Every role, the commander first.
    pub fn all(&self) -> &[Role] {
        &self.roles
    }

    /// The role named `key` (as typed: any case).
    pub fn get(&self, key: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.key.eq_ignore_ascii_case(key))
    }

    /// The roles other than the commander.
    pub fn others(&self) -> impl Iterator<Item = &Role> {
        self.roles.iter().filter(|r| r.key != COMMANDER)
    }

    /// `commander, scribe, comms`, for messages.
    pub fn keys(&self) -> String {
        self.roles.iter().map(|r| format!("`{}`", r.key)).collect::<Vec<_>>().join(", ")
    }

    /// What `severity` wants filled, if anything.
    pub fn required(&self, severity: Severity) -> Option<&RequiredRoles> {
        self.required.get(&severity).filter(|r| !r.roles.is_empty())
    }

    /// Sets what `severity` wants filled (tests and the sandbox; the file goes through
    /// validation).
    pub fn require(&mut self, severity: Severity, roles: &[&str], remind_unfilled: HumanDuration) {
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.required.insert(severity, RequiredRoles { roles, remind_unfilled });
    }
}

/// One severity's `roles_required` and `remind_unfilled`, as written.
pub(super) struct RawRequired<'a> {
    pub severity: &'a Spanned<String>,
    pub roles: Option<&'a [Spanned<String>]>,
    pub remind_unfilled: Option<&'a Spanned<String>>,
}

/// Validates `[roles] names` and each severity's required roles against them.
pub(super) fn validate<'a>(
    names: Option<&RawNames>,
    severities: impl Iterator<Item = RawRequired<'a>>,
    problem: &dyn Fn(Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> RolesConfig {
    let mut config = RolesConfig::default();
    if let Some(names) = names {
        config.roles = validate_names(names, problem, problems);
    }
    for raw in severities {
        // A bad severity key is reported where the section is read.
        let Ok(severity) = Severity::parse(raw.severity.get_ref()) else { continue };
        let remind = raw.remind_unfilled.and_then(|v| match HumanDuration::parse(v.get_ref()) {
            Ok(d) if d.0.is_zero() => {
                problems
                    .push(problem(v.span(), format!("[severity.{severity}] remind_unfilled must be longer than 0")));
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                problems.push(problem(v.span(), m));
                None
            }
        });
        let Some(listed) = raw.roles else {
            if let Some(v) = raw.remind_unfilled {
                let m = format!(
                    "[severity.{severity}] remind_unfilled without roles_required: there is nothing to remind of"
                );
                problems.push(problem(v.span(), m));
            }
            continue;
        };
        let mut roles: Vec<String> = Vec::new();
        for role in listed {
            let key = role.get_ref().trim();
            match config.get(key) {
                None => problems.push(problem(
                    role.span(),
                    format!(
                        "[severity.{severity}] roles_required: `{key}` is no role; the roles are {}",
                        config.keys()
                    ),
                )),
                Some(known) if roles.contains(&known.key) => problems.push(problem(
                    role.span(),
                    format!("[severity.{severity}] roles_required: `{key}` is listed twice"),
                )),
                Some(known) => roles.push(known.key.clone()),
            }
        }
        let remind_unfilled =
            remind.unwrap_or(HumanDuration(std::time::Duration::from_secs(DEFAULT_REMIND_MINUTES * 60)));
        config.required.insert(severity, RequiredRoles { roles, remind_unfilled });
    }
    config
}

/// The roles of `[roles] names`, in the file's order, the commander first (added with its
/// default name when the table leaves it out: every incident has one).
fn validate_names(
    names: &RawNames,
    problem: &dyn Fn(Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<Role> {
    let mut written: Vec<(&Spanned<String>, &Spanned<String>)> = names.iter().collect();
    written.sort_by_key(|(key, _)| key.span().start);
    let mut roles = Vec::new();
    for (key, name) in written {
        let (k, n) = (key.get_ref().as_str(), name.get_ref().trim());
        let key_ok = k.len() <= 32
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            let m = format!("[roles] names: `{k}` is not a role key (lowercase letters, digits and `_`, starting with a letter, at most 32)");
            problems.push(problem(key.span(), m));
            continue;
        }
        if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
            let m = format!("[roles] names: the name of `{k}` must be 1 to {MAX_NAME} characters of text");
            problems.push(problem(name.span(), m));
            continue;
        }
        roles.push(Role { key: k.to_string(), name: n.to_string() });
    }
    if let Some(at) = roles.iter().position(|r| r.key == COMMANDER) {
        let commander = roles.remove(at);
        roles.insert(0, commander);
    } else {
        roles.insert(0, RolesConfig::default().roles.remove(0));
    }
    if roles.len() > MAX_ROLES {
        let span = names.keys().map(|k| k.span()).min_by_key(|s| s.start).unwrap_or(0..0);
        problems.push(problem(span, format!("[roles] names: at most {MAX_ROLES} roles (the commander included)")));
    }
    roles
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::FileConfig;

    fn parse(text: &str) -> Result<FileConfig, Vec<String>> {
        FileConfig::parse(Path::new("warroom.toml"), text).map_err(|p| p.iter().map(ToString::to_string).collect())
    }

    fn keys(config: &RolesConfig) -> Vec<&str> {
        config.all().iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn the_defaults_are_commander_scribe_and_comms_with_nothing_required() {
        let config = parse("").unwrap().roles;
        assert_eq!(keys(&config), ["commander", "scribe", "comms"]);
        assert_eq!(config.get("Scribe").unwrap().name, "Scribe");
        assert_eq!(config.get("comms").unwrap().name, "Communications lead");
        assert!(Severity::ALL.iter().all(|s| config.required(*s).is_none()));
    }

    #[test]
    fn names_keep_the_file_order_with_the_commander_first() {
        let text =
            "[roles]\nnames = { ops = \"Operations lead\", commander = \"IC\", liaison = \"Customer liaison\" }\n";
        let config = parse(text).unwrap().roles;
        assert_eq!(keys(&config), ["commander", "ops", "liaison"]);
        assert_eq!(config.get("commander").unwrap().name, "IC");
        assert!(config.get("scribe").is_none(), "names replaces the defaults");
        let others: Vec<&str> = config.others().map(|r| r.key.as_str()).collect();
        assert_eq!(others, ["ops", "liaison"]);
    }

    #[test]
    fn a_table_without_the_commander_still_has_one() {
        let config = parse("[roles]\nnames = { scribe = \"Note taker\" }\n").unwrap().roles;
        assert_eq!(keys(&config), ["commander", "scribe"]);
        assert_eq!(config.all()[0].name, "Incident Commander");
    }

    #[test]
    fn required_roles_are_read_with_their_reminder() {
        let text = "[severity.P0]\nroles_required = [\"commander\", \"comms\"]\nremind_unfilled = \"10m\"\n[severity.P1]\nroles_required = [\"scribe\"]\n";
        let config = parse(text).unwrap().roles;
        let p0 = config.required(Severity::P0).unwrap();
        assert_eq!(
            (p0.roles.as_slice(), p0.remind_unfilled.0.as_secs()),
            (&["commander".to_string(), "comms".to_string()][..], 600)
        );
        assert_eq!(config.required(Severity::P1).unwrap().remind_unfilled.0.as_secs(), 600, "the default interval");
        assert!(config.required(Severity::P2).is_none());
    }

    #[test]
    fn an_unknown_required_role_names_the_roles_there_are() {
        let text = "[severity.P0]\nroles_required = [\"commander\", \"scrib\"]\n";
        let problems = parse(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("warroom.toml:2:"), "{problems:?}");
        assert!(
            problems[0].contains("`scrib` is no role; the roles are `commander`, `scribe`, `comms`"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_required_role_is_checked_against_the_files_own_names_wherever_they_are() {
        let text = "[severity.P1]\nroles_required = [\"ops\", \"scribe\"]\n[roles]\nnames = { ops = \"Operations\" }\n";
        let problems = parse(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`scribe` is no role; the roles are `commander`, `ops`"), "{problems:?}");
    }

    #[test]
    fn bad_names_durations_and_repeats_are_each_reported_with_their_line() {
        let text = "[roles]\nnames = { Scribe = \"S\", comms = \"\" }\n[severity.P0]\nroles_required = [\"commander\", \"commander\"]\nremind_unfilled = \"soon\"\n[severity.P2]\nremind_unfilled = \"0s\"\n";
        let problems = parse(text).unwrap_err();
        let has = |line: usize, text: &str| {
            problems.iter().any(|p| p.starts_with(&format!("warroom.toml:{line}:")) && p.contains(text))
        };
        assert!(has(2, "`Scribe` is not a role key"), "{problems:?}");
        assert!(has(2, "the name of `comms` must be 1 to 50 characters"), "{problems:?}");
        assert!(has(4, "`commander` is listed twice"), "{problems:?}");
        assert!(has(5, "soon"), "{problems:?}");
        assert!(has(7, "remind_unfilled must be longer than 0"), "{problems:?}");
    }

    #[test]
    fn a_reminder_without_required_roles_is_refused() {
        let problems = parse("[severity.P1]\nremind_unfilled = \"5m\"\n").unwrap_err();
        assert!(problems[0].contains("remind_unfilled without roles_required"), "{problems:?}");
    }

    #[test]
    fn at_most_ten_roles() {
        let names: Vec<String> = (0..11).map(|n| format!("r{n} = \"Role {n}\"")).collect();
        let problems = parse(&format!("[roles]\nnames = {{ {} }}\n", names.join(", "))).unwrap_err();
        assert!(problems[0].contains("at most 10 roles"), "{problems:?}");
    }
}
