//! `[permissions]` and `[roles] responders`: who may do what to an incident. Each permission
//! names principals; a person holds the permission when any principal includes them. This
//! module only parses and validates: deciding membership (channel members, user groups) needs
//! the database and lives in `crate::permissions`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use toml::Spanned;

use super::file::{ConfigProblem, FileConfig};

/// Something a person may or may not do to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    RunRead,
    RequestChange,
    ChangeCommander,
    LowerSeverity,
    Resolve,
    Reopen,
    EditStatuspage,
    AssignRoles,
    PublishPrivate,
    Escalate,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Self::RunRead,
        Self::RequestChange,
        Self::ChangeCommander,
        Self::LowerSeverity,
        Self::Resolve,
        Self::Reopen,
        Self::EditStatuspage,
        Self::AssignRoles,
        Self::PublishPrivate,
        Self::Escalate,
    ];

    /// Its key in `[permissions]`.
    pub fn key(self) -> &'static str {
        match self {
            Self::RunRead => "run_read",
            Self::RequestChange => "request_change",
            Self::ChangeCommander => "change_commander",
            Self::LowerSeverity => "lower_severity",
            Self::Resolve => "resolve",
            Self::Reopen => "reopen",
            Self::EditStatuspage => "edit_statuspage",
            Self::AssignRoles => "assign_roles",
            Self::PublishPrivate => "publish_private",
            Self::Escalate => "escalate",
        }
    }

    /// What it allows, as the end of "Only … may …".
    pub fn verb(self) -> &'static str {
        match self {
            Self::RunRead => "run diagnostics in",
            Self::RequestChange => "request changes (restarts, rollbacks) in",
            Self::ChangeCommander => "change the Incident Commander of",
            Self::LowerSeverity => "lower the severity of",
            Self::Resolve => "resolve",
            Self::Reopen => "reopen",
            Self::EditStatuspage => "write or confirm the status page text of",
            Self::AssignRoles => "assign roles in",
            Self::PublishPrivate => "put on the status page the private incident",
            Self::Escalate => "escalate",
        }
    }

    /// DESIGN.md's defaults. `reopen` follows `resolve`; `escalate` is open to everyone in the
    /// channel: asking for help must never wait for a role.
    fn defaults(self) -> Vec<Principal> {
        use Principal::*;
        match self {
            Self::RunRead | Self::Escalate => vec![Participants],
            Self::RequestChange => vec![Responders],
            Self::PublishPrivate => vec![Commander],
            Self::ChangeCommander
            | Self::LowerSeverity
            | Self::Resolve
            | Self::Reopen
            | Self::EditStatuspage
            | Self::AssignRoles => vec![Commander, Responders],
        }
    }

    fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Who a permission is given to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Every member of the workspace.
    Anyone,
    /// Members of the incident's channel.
    Participants,
    /// Whoever declared the incident.
    Declarer,
    /// The incident's current commander.
    Commander,
    /// `[roles] responders`.
    Responders,
    /// One Slack user id.
    User(String),
    /// A Slack user group by handle (without `@`), resolved through `usergroups.users.list`.
    Group(String),
}

impl Principal {
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "anyone" => Self::Anyone,
            "participants" => Self::Participants,
            "declarer" => Self::Declarer,
            "commander" => Self::Commander,
            "responders" => Self::Responders,
            _ => match parse_person_or_group(text)? {
                Member::User(id) => Self::User(id),
                Member::Group(handle) => Self::Group(handle),
            },
        })
    }
}

/// A user id or a user group handle.
enum Member {
    User(String),
    Group(String),
}

fn parse_person_or_group(text: &str) -> Result<Member, String> {
    if let Some(handle) = text.strip_prefix('@') {
        let valid = !handle.is_empty()
            && handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        return if valid {
            Ok(Member::Group(handle.to_string()))
        } else {
            Err(format!("`{text}` is not a user group handle (lower-case, like @sre-leads)"))
        };
    }
    crate::incident::SlackUserId::parse(text).map(|id| Member::User(id.as_str().to_string())).map_err(|_| {
        format!(
            "`{text}` is not a principal: use anyone, participants, declarer, commander, responders, a user id (U0123456789) or a user group (@sre-leads)"
        )
    })
}

/// `[roles] responders`: people who may act on any incident where a permission names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Responders {
    pub users: Vec<String>,
    /// User group handles (without `@`).
    pub groups: Vec<String>,
}

/// The validated `[permissions]`: every permission with its principals (the defaults where the
/// file says nothing).
#[derive(Debug, Clone)]
pub struct PermissionsConfig {
    rules: BTreeMap<Permission, Vec<Principal>>,
}

impl Default for PermissionsConfig {
    fn default() -> Self {
        Self { rules: Permission::ALL.into_iter().map(|p| (p, p.defaults())).collect() }
    }
}

impl PermissionsConfig {
    /// Who holds `permission`.
    pub fn principals(&self, permission: Permission) -> &[Principal] {
        self.rules.get(&permission).map_or(&[], Vec::as_slice)
    }

    /// Gives `permission` to `principals` (tests, and the file's values).
    pub fn set(&mut self, permission: Permission, principals: Vec<Principal>) {
        self.rules.insert(permission, principals);
    }
}

impl FileConfig {
    /// Every user group the configuration names (approvers, responders, permissions): the
    /// groups whose members warroom keeps read from Slack.
    pub fn referenced_groups(&self) -> BTreeSet<String> {
        let mut groups: BTreeSet<String> = self.approvals.approver_groups.iter().cloned().collect();
        groups.extend(self.responders.groups.iter().cloned());
        for principals in self.permissions.rules.values() {
            groups.extend(principals.iter().filter_map(|p| match p {
                Principal::Group(handle) => Some(handle.clone()),
                _ => None,
            }));
        }
        groups
    }
}

/// The raw `[permissions]` table: permission name -> principals, with their spans.
pub(super) type RawPermissions = BTreeMap<Spanned<String>, Vec<Spanned<String>>>;

pub(super) fn validate(
    raw: &RawPermissions,
    problem: &dyn Fn(std::ops::Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> PermissionsConfig {
    let mut config = PermissionsConfig::default();
    for (key, values) in raw {
        let Some(permission) = Permission::parse(key.get_ref()) else {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.key()).collect();
            let message =
                format!("[permissions]: no permission `{}` (permissions: {})", key.get_ref(), known.join(", "));
            problems.push(problem(key.span(), message));
            continue;
        };
        let mut principals = Vec::new();
        for value in values {
            match Principal::parse(value.get_ref()) {
                Ok(p) => principals.push(p),
                Err(m) => problems.push(problem(value.span(), format!("[permissions] {permission}: {m}"))),
            }
        }
        config.set(permission, principals);
    }
    config
}

pub(super) fn validate_responders(
    raw: &[Spanned<String>],
    problem: &dyn Fn(std::ops::Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> Responders {
    let mut responders = Responders::default();
    for value in raw {
        match parse_person_or_group(value.get_ref()) {
            Ok(Member::User(id)) => responders.users.push(id),
            Ok(Member::Group(handle)) => responders.groups.push(handle),
            Err(_) => problems.push(problem(
                value.span(),
                format!(
                    "roles.responders: `{}` is neither a user id (U0123456789) nor a user group (@sre-oncall)",
                    value.get_ref()
                ),
            )),
        }
    }
    responders
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<FileConfig, Vec<ConfigProblem>> {
        FileConfig::parse(Path::new("warroom.toml"), text)
    }

    #[test]
    fn the_defaults_are_designs() {
        let config = parse("").unwrap();
        let p = &config.permissions;
        assert_eq!(p.principals(Permission::RunRead), [Principal::Participants]);
        assert_eq!(p.principals(Permission::RequestChange), [Principal::Responders]);
        assert_eq!(p.principals(Permission::Resolve), [Principal::Commander, Principal::Responders]);
        assert_eq!(p.principals(Permission::PublishPrivate), [Principal::Commander]);
        assert_eq!(p.principals(Permission::Escalate), [Principal::Participants]);
    }

    #[test]
    fn principals_of_every_kind_parse() {
        let text = "[permissions]\nresolve = [\"anyone\", \"participants\", \"declarer\", \"commander\", \"responders\", \"U0123ABC\", \"@sre-leads\"]\n";
        let config = parse(text).unwrap();
        assert_eq!(config.permissions.principals(Permission::Resolve).len(), 7);
        assert!(config.referenced_groups().contains("sre-leads"));
    }

    #[test]
    fn unknown_permissions_and_principals_are_errors_with_their_lines() {
        let text = "[permissions]\nresolve = [\"commander\"]\nresolv = [\"commander\"]\nrun_read = [\"everyone\", \"@Bad Group\"]\n";
        let problems = parse(text).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4, 4], "{problems:?}");
        assert!(problems[0].message.contains("no permission `resolv`"), "{}", problems[0].message);
        assert!(problems[1].message.contains("`everyone` is not a principal"), "{}", problems[1].message);
    }

    #[test]
    fn responders_take_user_ids_and_groups() {
        let config = parse("[roles]\nresponders = [\"U0BOB\", \"@sre-oncall\"]\n").unwrap();
        assert_eq!(config.responders, Responders { users: vec!["U0BOB".into()], groups: vec!["sre-oncall".into()] });
        assert!(config.referenced_groups().contains("sre-oncall"));
        let problems = parse("[roles]\nresponders = [\"bob\"]\n").unwrap_err();
        assert_eq!(problems[0].line, 2);
    }
}
