//! An escalation tier's `notify` targets, as `[[escalation.Px]]` writes them: parsed when the
//! configuration is read (escalation uses them when a tier fires).

use crate::incident::SlackUserId;

/// Someone a tier notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Slack user id.
    User(String),
    /// A Slack user group, by handle (without `@`).
    Group(String),
    /// The declared service's `owner` (itself a user or a group).
    Owner,
    /// Who is on call when the tier fires: the declared service's (`oncall`), or one PagerDuty
    /// schedule's (`oncall:PABC123`).
    Oncall(Option<String>),
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "owner" {
            return Ok(Self::Owner);
        }
        if text == "oncall" {
            return Ok(Self::Oncall(None));
        }
        if let Some(id) = text.strip_prefix("oncall:") {
            return if super::is_pagerduty_id(id) {
                Ok(Self::Oncall(Some(id.into())))
            } else {
                Err(format!("`{id}` is not a PagerDuty schedule id (like PABC123: P and capital letters or digits)"))
            };
        }
        if let Some(handle) = text.strip_prefix('@') {
            let valid = !handle.is_empty()
                && handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            return if valid {
                Ok(Self::Group(handle.into()))
            } else {
                Err(format!("`{text}` is not a user group handle"))
            };
        }
        SlackUserId::parse(text)
            .map(|id| Self::User(id.as_str().into()))
            .map_err(|m| format!("{m} (use user ids like U0123456789, user groups like @sre-leads, `owner`, `oncall` or `oncall:<schedule id>`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_users_groups_the_owner_or_the_oncall() {
        assert_eq!(Target::parse("U0123456789"), Ok(Target::User("U0123456789".into())));
        assert_eq!(Target::parse("@sre-leads"), Ok(Target::Group("sre-leads".into())));
        assert_eq!(Target::parse("owner"), Ok(Target::Owner));
        assert!(Target::parse("@").is_err());
        assert_eq!(Target::parse("oncall"), Ok(Target::Oncall(None)));
        assert_eq!(Target::parse("oncall:PABC123"), Ok(Target::Oncall(Some("PABC123".into()))));
        assert!(Target::parse("oncall:abc").unwrap_err().contains("not a PagerDuty schedule id"));
        assert!(Target::parse("bob").unwrap_err().contains("user groups like @sre-leads"));
    }
}
