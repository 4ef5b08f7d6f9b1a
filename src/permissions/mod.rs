//! Who may do what (DESIGN.md "Who may do what"): every change a person asks for — by slash
//! command, button or modal — is checked here against `[permissions]` before anything is
//! written, and a refusal names who may. The principals that need the database are answered
//! from [`members`] (the incident channel's members) and `usergroup_members` (user groups, as
//! last read from Slack).

pub mod members;

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::config::{FileConfig, Permission, Principal};
use crate::incident::store::Incident;

/// Why a person may not do something: says who may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// May `user` do `permission` to `incident`? `Ok(Err(refusal))` is a refusal to show them.
pub async fn check(
    db: &mut PgConnection,
    config: &FileConfig,
    now: DateTime<Utc>,
    incident: &Incident,
    user: &str,
    permission: Permission,
) -> sqlx::Result<Result<(), Refusal>> {
    let principals = config.permissions.principals(permission);
    let mut groups: Vec<String> = Vec::new();
    let mut participants = false;
    for principal in principals {
        let holds = match principal {
            Principal::Anyone => true,
            Principal::Declarer => incident.declared_by == user,
            Principal::Commander => incident.commander == user,
            Principal::User(id) => id == user,
            Principal::Responders => {
                groups.extend(config.responders.groups.iter().cloned());
                config.responders.users.iter().any(|u| u == user)
            }
            Principal::Group(handle) => {
                groups.push(handle.clone());
                false
            }
            Principal::Participants => {
                participants = true;
                false
            }
        };
        if holds {
            return Ok(Ok(()));
        }
    }
    // One round trip answers both questions that need the database.
    let channel = incident.channel_id.as_deref().filter(|_| participants);
    if channel.is_some() || !groups.is_empty() {
        let (member, in_group) = members::lookup(&mut *db, channel, &groups, user).await?;
        if member || in_group {
            return Ok(Ok(()));
        }
        if let Some(channel) = channel {
            // Never read (an incident from before warroom kept members): read them now, so that
            // the next try is answered from Slack's list rather than refused for want of one.
            if members::queue_refresh_if_unknown(db, channel, now).await? {
                let Refusal(text) = refusal(config, incident, principals, permission);
                let reading = format!(
                    "{text} warroom is reading the members of <#{channel}> from Slack now: if you are one, try again in a moment."
                );
                return Ok(Err(Refusal(reading)));
            }
        }
    }
    Ok(Err(refusal(config, incident, principals, permission)))
}

/// "Only the Incident Commander (<@U0BOB>) or the responders (…) may resolve INC-42."
fn refusal(config: &FileConfig, incident: &Incident, principals: &[Principal], permission: Permission) -> Refusal {
    let who: Vec<String> = principals.iter().map(|p| describe(config, incident, p)).collect();
    let who = match who.as_slice() {
        [] => "nobody (`[permissions]` gives it to no one)".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    let number = incident.number();
    Refusal(format!(
        "Only {who} may {} {number}; nothing changed. (`[permissions] {}` in warroom.toml)",
        permission.verb(),
        permission.key()
    ))
}

fn describe(config: &FileConfig, incident: &Incident, principal: &Principal) -> String {
    match principal {
        Principal::Anyone => "anyone".into(),
        Principal::Participants => match &incident.channel_id {
            Some(channel) => format!("members of <#{channel}>"),
            None => "members of the incident channel".into(),
        },
        Principal::Declarer => format!("the declarer ({})", crate::slack::blocks::who(&incident.declared_by)),
        Principal::Commander => format!("the Incident Commander ({})", crate::slack::blocks::who(&incident.commander)),
        Principal::Responders => {
            let people = config.responders.users.iter().map(|u| format!("<@{u}>"));
            let people: Vec<String> = people.chain(config.responders.groups.iter().map(|g| format!("@{g}"))).collect();
            if people.is_empty() {
                "the responders (none configured: `[roles] responders`)".into()
            } else {
                format!("the responders ({})", people.join(", "))
            }
        }
        Principal::User(id) => format!("<@{id}>"),
        Principal::Group(handle) => format!("members of @{handle}"),
    }
}
