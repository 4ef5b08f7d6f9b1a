//! The incident domain: severities, statuses, numbers, service names and the channel naming
//! rule. Pure and unit-tested; persistence lives in [`store`], the declare use case in
//! [`declare`], the other transitions in [`lifecycle`]. Each transition says what it changed
//! ([`change::Change`]) to the reactors it is handed; the domain imports none of them.

pub mod change;
pub mod declare;
pub mod lifecycle;
pub mod roles;
pub mod store;

use std::fmt;

/// How bad it is. P0 is a total outage ("All-hands").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "P0" => Ok(Self::P0),
            "P1" => Ok(Self::P1),
            "P2" => Ok(Self::P2),
            "P3" => Ok(Self::P3),
            _ => Err(format!("unknown severity `{}`: use P0, P1, P2 or P3", text.trim())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }

    /// The words seed 002 puts after the severity.
    pub fn label(self) -> &'static str {
        match self {
            Self::P0 => "All-hands",
            Self::P1 => "Major",
            Self::P2 => "Minor",
            Self::P3 => "Low",
        }
    }

    /// P0 and P1 are announced as major incidents.
    pub fn is_major(self) -> bool {
        matches!(self, Self::P0 | Self::P1)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the incident stands, in the status page's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Status {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "investigating" => Ok(Self::Investigating),
            "identified" => Ok(Self::Identified),
            "monitoring" => Ok(Self::Monitoring),
            "resolved" => Ok(Self::Resolved),
            other => Err(format!("unknown status `{other}`: use investigating, identified, monitoring or resolved")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }
}

/// The human number of an incident: `INC-42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentNumber(pub i64);

impl IncidentNumber {
    /// Accepts `INC-42`, `inc-42` and `42`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let digits = t.get(..4).filter(|p| p.eq_ignore_ascii_case("inc-")).map_or(t, |_| &t[4..]);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!("`{t}` is not an incident number like INC-42")),
        }
    }
}

impl fmt::Display for IncidentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{}", self.0)
    }
}

/// A service name as it appears in `warroom.toml` and in channel names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceName(String);

impl ServiceName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("a service name is required".into());
        }
        if t.len() > 64 {
            return Err(format!("service name `{t}` is longer than 64 characters"));
        }
        let ok = t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && t.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "`{t}` is not a service name: use letters, digits, `-`, `_` and `.`, starting with a letter or digit"
            ));
        }
        Ok(Self(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Slack user id (`U0123ABCD`), accepted bare or as a mention (`<@U0123ABCD|alice>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUserId(String);

impl SlackUserId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let inner = t.strip_prefix("<@").and_then(|r| r.strip_suffix('>')).unwrap_or(t);
        let id = inner.split('|').next().unwrap_or("");
        let ok = id.len() >= 2
            && id.len() <= 32
            && (id.starts_with('U') || id.starts_with('W'))
            && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(format!("`{t}` is not a Slack user (mention them with @)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a Slack channel name: lowercase letters, digits, `-` and `_`, at most 80 characters.
pub fn validate_channel_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 80 {
        return Err(format!("`{name}` must be 1 to 80 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(format!("`{name}` may only hold lowercase letters, digits, `-` and `_`"));
    }
    Ok(())
}

/// The incident channel's name: `inc-42-inference-gateway`, lowercase, at most 80 characters.
/// `attempt` > 1 adds a suffix (`-2`) for when the name is taken by a channel that is not ours.
pub fn channel_name(prefix: &str, number: IncidentNumber, service: &str, attempt: u32) -> String {
    let mut slug = String::new();
    for c in service.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let suffix = if attempt > 1 { format!("-{attempt}") } else { String::new() };
    let head = format!("{prefix}-{}", number.0);
    let room = 80usize.saturating_sub(head.len() + suffix.len() + 1);
    let slug = slug.get(..room.min(slug.len())).unwrap_or("").trim_end_matches('-');
    if slug.is_empty() {
        format!("{head}{suffix}")
    } else {
        format!("{head}-{slug}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_any_case_and_refuse_others() {
        assert_eq!(Severity::parse("p1").unwrap(), Severity::P1);
        assert!(Severity::parse("P5").unwrap_err().contains("P0, P1, P2 or P3"));
    }

    #[test]
    fn incident_numbers_read_like_people_write_them() {
        assert_eq!(IncidentNumber::parse("INC-42").unwrap(), IncidentNumber(42));
        assert_eq!(IncidentNumber::parse("inc-7").unwrap(), IncidentNumber(7));
        assert_eq!(IncidentNumber::parse("12").unwrap().to_string(), "INC-12");
        assert!(IncidentNumber::parse("INC-").is_err());
        assert!(IncidentNumber::parse("INC-0").is_err());
    }

    #[test]
    fn user_ids_come_bare_or_as_mentions() {
        assert_eq!(SlackUserId::parse("<@U024BE7LH|bob>").unwrap().as_str(), "U024BE7LH");
        assert_eq!(SlackUserId::parse("U024BE7LH").unwrap().as_str(), "U024BE7LH");
        assert!(SlackUserId::parse("@bob").is_err());
        assert!(SlackUserId::parse("<!channel>").is_err());
    }

    #[test]
    fn channel_names_are_slugs_of_at_most_80_characters() {
        assert_eq!(channel_name("inc", IncidentNumber(42), "Inference_Gateway", 1), "inc-42-inference-gateway");
        assert_eq!(channel_name("inc", IncidentNumber(42), "api", 2), "inc-42-api-2");
        let long = channel_name("inc", IncidentNumber(1), &"x".repeat(200), 3);
        assert_eq!(long.len(), 80);
        assert!(long.ends_with("-3"));
        assert!(validate_channel_name(&long).is_ok());
    }

    #[test]
    fn service_names_refuse_mentions_and_spaces() {
        assert!(ServiceName::parse("inference-gateway").is_ok());
        assert!(ServiceName::parse("<!channel>").is_err());
        assert!(ServiceName::parse("").is_err());
    }
}
