//! `/incident` text → a typed [`Command`], or an error that says what was wrong and the usage.

use crate::incident::{ServiceName, Severity, SlackUserId};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    List,
    /// `/incident declare` with no arguments: open the modal.
    DeclareModal,
    Declare(DeclareArgs),
    /// A subcommand of the design that this version does not do yet.
    NotYetAvailable(&'static str),
}

/// `/incident declare [P0-P3] <service> <summary...>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclareArgs {
    pub severity: Severity,
    pub service: ServiceName,
    pub summary: String,
    pub commander: Option<SlackUserId>,
}

/// Bad input: shown to the user, ephemeral, with the usage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
}

pub const USAGE: &str = "*Usage:* `/incident <subcommand>`\n\
• `declare` — open the declaration form\n\
• `declare [P0-P3] <service> <summary…> [ic=@user]` — declare directly (severity defaults to P0)\n\
• `list` — active incidents\n\
• `help` — this message";

/// Later subcommands from the design, answered honestly until they exist.
const PLANNED: [&str; 13] = [
    "update",
    "status",
    "ic",
    "sev",
    "note",
    "run",
    "diagnostics",
    "escalate",
    "resolve",
    "summary",
    "timeline",
    "export",
    "reopen",
];

const MAX_SUMMARY: usize = 200;

pub fn parse(text: &str) -> Result<Command, CommandError> {
    let mut words = text.split_whitespace();
    let Some(sub) = words.next() else { return Ok(Command::Help) };
    let rest: Vec<&str> = words.collect();
    match sub.to_ascii_lowercase().as_str() {
        "help" => Ok(Command::Help),
        "list" => Ok(Command::List),
        "declare" if rest.is_empty() => Ok(Command::DeclareModal),
        "declare" => parse_declare(&rest).map(Command::Declare),
        other => match PLANNED.iter().find(|p| **p == other) {
            Some(planned) => Ok(Command::NotYetAvailable(planned)),
            None => Err(CommandError { message: format!("Unknown subcommand `{}`.", truncate(sub, 40)) }),
        },
    }
}

fn parse_declare(words: &[&str]) -> Result<DeclareArgs, CommandError> {
    let bad = |message: String| CommandError { message };
    let mut words = words.iter().copied().peekable();
    let mut severity = Severity::P0;
    // A first word shaped like a severity (P<digits>) is one, so `P5` is an error, not a service.
    if let Some(first) = words.peek() {
        let looks_like_severity =
            first.len() >= 2 && first.starts_with(['P', 'p']) && first[1..].chars().all(|c| c.is_ascii_digit());
        if looks_like_severity {
            severity = Severity::parse(first).map_err(|m| bad(capitalize(&m)))?;
            words.next();
        }
    }
    let service = words.next().ok_or_else(|| bad("Missing service: say which service is down.".into()))?;
    let service = ServiceName::parse(service).map_err(|m| bad(capitalize(&m)))?;
    let mut commander = None;
    let mut summary = Vec::new();
    for word in words {
        match word.strip_prefix("ic=") {
            Some(user) => commander = Some(SlackUserId::parse(user).map_err(|m| bad(format!("ic=: {m}")))?),
            None => summary.push(word),
        }
    }
    let summary = summary.join(" ");
    if summary.chars().count() > MAX_SUMMARY {
        return Err(bad(format!("The summary is longer than {MAX_SUMMARY} characters; keep it to one line.")));
    }
    Ok(DeclareArgs { severity, service, summary, commander })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare(text: &str) -> DeclareArgs {
        match parse(text).unwrap() {
            Command::Declare(args) => args,
            other => panic!("expected a declare, got {other:?}"),
        }
    }

    #[test]
    fn declare_reads_severity_service_and_summary() {
        let args = declare("declare P0 inference-gateway Inference API returns 100% errors");
        assert_eq!(args.severity, Severity::P0);
        assert_eq!(args.service.as_str(), "inference-gateway");
        assert_eq!(args.summary, "Inference API returns 100% errors");
    }

    #[test]
    fn severity_defaults_to_p0_and_commander_can_be_named() {
        let args = declare("declare api 500s everywhere ic=<@U024BE7LH|bob>");
        assert_eq!(args.severity, Severity::P0);
        assert_eq!(args.summary, "500s everywhere");
        assert_eq!(args.commander.unwrap().as_str(), "U024BE7LH");
    }

    #[test]
    fn declare_alone_opens_the_modal_and_nothing_is_help() {
        assert_eq!(parse("declare").unwrap(), Command::DeclareModal);
        assert_eq!(parse("  ").unwrap(), Command::Help);
    }

    #[test]
    fn bad_input_says_what_was_wrong() {
        assert!(parse("declare P7 api down").unwrap_err().message.contains("Unknown severity `P7`"));
        assert!(parse("declare P1").unwrap_err().message.contains("Missing service"));
        assert!(parse("declare P1 <!channel> x").unwrap_err().message.contains("not a service name"));
        assert!(parse("frobnicate").unwrap_err().message.contains("Unknown subcommand `frobnicate`"));
    }
}
