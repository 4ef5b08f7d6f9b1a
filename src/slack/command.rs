//! `/incident` text → a typed [`Command`], or an error that says what was wrong and the usage.

use crate::incident::store::UpdateFields;
use crate::incident::{IncidentNumber, ServiceName, Severity, SlackUserId, Status};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    List,
    /// `/incident declare` with no arguments: open the modal.
    DeclareModal,
    Declare(DeclareArgs),
    /// Something done to one incident: the channel's, or the one named (`INC-42`).
    Incident {
        target: Option<IncidentNumber>,
        action: IncidentAction,
    },
    /// A subcommand of the design that this version does not do yet.
    NotYetAvailable(&'static str),
}

/// What to do to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentAction {
    UpdateModal,
    Update(UpdateFields),
    Status,
    Commander(SlackUserId),
    Severity(Severity),
    Note(String),
    Summary,
    Resolve,
    Reopen,
    /// The last 20 timeline entries.
    Timeline,
    /// List the diagnostics that apply to the incident's service.
    Diagnostics,
    /// Run one: `run docker.logs container=api`.
    Run {
        action: String,
        params: std::collections::BTreeMap<String, String>,
        /// Why (for a change's approval message).
        reason: Option<String>,
    },
    /// Fire the next escalation tier now, and why.
    Escalate(String),
    /// An action item for the report: `followup <text> [@owner] [immediate|short|long]`.
    Followup {
        text: String,
        owner: Option<SlackUserId>,
        horizon: &'static str,
    },
    /// Upload the report to the channel.
    Export(crate::timeline::export::Format),
    /// Post the service's runbook checklist again, with its state.
    Runbook,
    /// `role <role> @user`: fill a role (the role is checked against `[roles] names` later).
    Role {
        role: String,
        user: SlackUserId,
    },
    /// `roles`: who holds each role.
    Roles,
    /// The catch-up card, to the person who asked.
    Catchup,
}

/// `/incident declare [P0-P3] <service> <summary...>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclareArgs {
    pub severity: Severity,
    pub service: ServiceName,
    pub summary: String,
    pub commander: Option<SlackUserId>,
    /// `--private`: a private channel, no public trail.
    pub private: bool,
}

/// Bad input: shown to the user, ephemeral, with the usage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
}

pub const USAGE: &str = "*Usage:* `/incident <subcommand>`\n\
• `declare` — open the declaration form\n\
• `declare [P0-P3] <service> <summary…> [ic=@user]` — declare directly (severity defaults to P0); `declare --private …` — a private incident (private channel, no public trail)\n\
• `update` — the update form; or inline: `update status=identified cause=\"OOM kill (exit 137)\" action=\"Raising memory to 4G\" eta=\"3 min\" impact=\"All users\"`\n\
• `status` — where the incident stands (only you see it)\n\
• `ic @user` · `sev P1` · `note <text>` — commander, severity, a timeline note\n\
• `summary` — the executive summary · `timeline` — the last 20 entries · `resolve` — the resolution form · `reopen`\n\
• `diagnostics` — the runbook checks for this service · `run <diagnostic> [name=value] [reason=\"why\"]` — run one\n\
• `runbook` — the service's runbook checklist, posted again with each step's state\n\
• `role <role> @user` — fill a role (`role scribe @dana`) · `roles` — who holds each role\n\
• `catchup` — where the incident stands, for you alone (also sent to whoever joins the channel)\n\
• `escalate [why]` — page the next escalation tier now\n\
• `followup <text> [@owner] [immediate|short|long]` — an action item for the report · `export [md|json|csv]` — upload the post-incident report\n\
• `list` — active incidents\n\
In an incident channel the incident is implied; elsewhere name it first: `/incident status INC-42`.\n\
• `help` — this message";

/// Later subcommands from the design, answered honestly until they exist.
const PLANNED: [&str; 0] = [];

/// The keys `/incident update` takes inline.
pub const UPDATE_KEYS: [&str; 5] = ["status", "cause", "action", "eta", "impact"];

const MAX_FIELD: usize = 500;

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
        sub @ ("update" | "status" | "ic" | "sev" | "note" | "summary" | "resolve" | "reopen" | "diagnostics"
        | "run" | "timeline" | "escalate" | "followup" | "export" | "runbook" | "role" | "roles" | "catchup") => {
            parse_incident_command(sub, text.trim_start()[sub.len()..].trim())
        }
        other => match PLANNED.iter().find(|p| **p == other) {
            Some(planned) => Ok(Command::NotYetAvailable(planned)),
            None => Err(CommandError { message: format!("Unknown subcommand `{}`.", truncate(sub, 40)) }),
        },
    }
}

fn parse_declare(words: &[&str]) -> Result<DeclareArgs, CommandError> {
    let bad = |message: String| CommandError { message };
    // `--private` may come anywhere before the service (`declare --private P1 vault …`,
    // `declare P1 --private vault …`); after it, it is part of the summary.
    let lead = words.iter().take_while(|w| is_private_flag(w) || looks_like_severity(w)).count();
    let flags = words[..lead].iter().filter(|w| is_private_flag(w)).count();
    if flags > 1 {
        return Err(bad(format!("`{PRIVATE_FLAG}` is given twice.")));
    }
    let private = flags == 1;
    let words: Vec<&str> =
        words.iter().enumerate().filter(|(i, w)| !(*i < lead && is_private_flag(w))).map(|(_, w)| *w).collect();
    let mut words = words.iter().copied().peekable();
    let mut severity = Severity::P0;
    if let Some(first) = words.peek() {
        if looks_like_severity(first) {
            severity = Severity::parse(first).map_err(|m| bad(capitalize(&m)))?;
            words.next();
        }
    }
    let service = words.next().ok_or_else(|| {
        let hint = if private { " (or `/incident declare` alone, and tick *Private* in the form)" } else { "" };
        bad(format!("Missing service: say which service is down{hint}."))
    })?;
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
    Ok(DeclareArgs { severity, service, summary, commander, private })
}

/// `declare --private`: the flag, in any case.
pub const PRIVATE_FLAG: &str = "--private";

fn is_private_flag(word: &str) -> bool {
    // Some Slack clients turn `--` into an em dash as it is typed.
    word.eq_ignore_ascii_case(PRIVATE_FLAG) || word.eq_ignore_ascii_case("—private")
}

/// A word shaped like a severity (P<digits>) is one, so `P5` is an error, not a service.
fn looks_like_severity(word: &str) -> bool {
    word.len() >= 2 && word.starts_with(['P', 'p']) && word[1..].chars().all(|c| c.is_ascii_digit())
}

fn parse_incident_command(sub: &str, args: &str) -> Result<Command, CommandError> {
    let bad = |message: String| CommandError { message };
    let (target, args) = match args.split_whitespace().next().map(IncidentNumber::parse) {
        Some(Ok(number)) if args.to_ascii_uppercase().starts_with("INC-") => {
            (Some(number), args.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim()))
        }
        _ => (None, args),
    };
    let action = match sub {
        "update" if args.is_empty() => IncidentAction::UpdateModal,
        "update" => IncidentAction::Update(parse_update(args)?),
        "status" => IncidentAction::Status,
        "summary" => IncidentAction::Summary,
        "resolve" => IncidentAction::Resolve,
        "reopen" => IncidentAction::Reopen,
        "diagnostics" => IncidentAction::Diagnostics,
        "timeline" => IncidentAction::Timeline,
        "runbook" => IncidentAction::Runbook,
        "roles" => IncidentAction::Roles,
        "role" => parse_role(args)?,
        "catchup" if !args.is_empty() => {
            return Err(bad(
                "`/incident catchup [INC-n]` takes nothing else: which incident, or none in its channel.".into()
            ))
        }
        "catchup" => IncidentAction::Catchup,
        "escalate" if args.chars().count() > MAX_FIELD => {
            return Err(bad(format!("The reason holds at most {MAX_FIELD} characters.")))
        }
        "escalate" => IncidentAction::Escalate(args.to_string()),
        "export" => IncidentAction::Export(
            crate::timeline::export::Format::parse(args)
                .map_err(|m| bad(format!("`/incident export [md|json|csv]`: {m}")))?,
        ),
        "followup" => parse_followup(args)?,
        "run" => {
            let (action, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            if action.is_empty() {
                return Err(bad("`/incident run <diagnostic> [name=value ...] [reason=\"...\"]`: which diagnostic? See `/incident diagnostics`.".into()));
            }
            let mut params = std::collections::BTreeMap::new();
            let mut reason = None;
            for (name, value) in key_values(rest, &[])? {
                if name == "reason" {
                    reason = Some(value);
                } else {
                    params.insert(name, value);
                }
            }
            IncidentAction::Run { action: truncate(action, 64), params, reason }
        }
        "ic" => {
            IncidentAction::Commander(SlackUserId::parse(args).map_err(|m| bad(format!("`/incident ic @user`: {m}")))?)
        }
        "sev" => IncidentAction::Severity(Severity::parse(args).map_err(|m| bad(format!("`/incident sev P1`: {m}")))?),
        _ => {
            if args.is_empty() {
                return Err(bad("`/incident note <text>`: the note is empty.".into()));
            }
            if args.chars().count() > 2000 {
                return Err(bad("A note holds at most 2000 characters.".into()));
            }
            IncidentAction::Note(args.to_string())
        }
    };
    Ok(Command::Incident { target, action })
}

/// `status=identified cause="OOM kill (exit 137)" eta="3 min"`: keys from [`UPDATE_KEYS`],
/// values bare or quoted (Slack's “curly” quotes too).
pub fn parse_update(args: &str) -> Result<UpdateFields, CommandError> {
    let bad = |message: String| CommandError { message };
    let mut fields = UpdateFields::default();
    for (key, value) in key_values(args, &UPDATE_KEYS)? {
        match key.as_str() {
            "status" => match Status::parse(&value) {
                Ok(Status::Resolved) => return Err(bad("To resolve, use `/incident resolve`.".into())),
                Ok(status) => fields.status = Some(status),
                Err(_) => fields.status_text = Some(value),
            },
            "cause" => fields.root_cause = Some(value),
            "action" => fields.action = Some(value),
            "eta" => fields.eta = Some(value),
            _ => fields.impact = Some(value),
        }
    }
    Ok(fields)
}

/// `role <role> @user`.
fn parse_role(args: &str) -> Result<IncidentAction, CommandError> {
    const ROLE_USAGE: &str = "`/incident role <role> @user` (`/incident roles` lists the roles)";
    let bad = |message: String| CommandError { message };
    let words: Vec<&str> = args.split_whitespace().collect();
    let [role, user] = words.as_slice() else {
        return Err(bad(format!("{ROLE_USAGE}: name the role and mention the person who takes it.")));
    };
    let user = SlackUserId::parse(user.trim_start_matches('@')).map_err(|m| bad(format!("{ROLE_USAGE}: {m}")))?;
    Ok(IncidentAction::Role { role: truncate(role, 40).to_ascii_lowercase(), user })
}

/// `followup <text> [@owner] [immediate|short|long]` (short-term by default).
fn parse_followup(args: &str) -> Result<IncidentAction, CommandError> {
    let bad = |message: &str| CommandError { message: message.to_string() };
    let mut words: Vec<&str> = args.split_whitespace().collect();
    let horizon = match words.last().map(|w| w.to_ascii_lowercase()) {
        Some(w) if w == "immediate" => "immediate",
        Some(w) if w == "long" || w == "long-term" => "long",
        Some(w) if w == "short" || w == "short-term" => "short",
        _ => "",
    };
    if !horizon.is_empty() {
        words.pop();
    }
    let mut owner = None;
    if let Some(last) = words.last().filter(|w| w.starts_with("<@") || w.starts_with('@')) {
        let raw = if last.starts_with("<@") { last } else { last.trim_start_matches('@') };
        owner = Some(SlackUserId::parse(raw).map_err(|m| bad(&format!("`/incident followup`: the owner: {m}")))?);
        words.pop();
    }
    let text = words.join(" ");
    if text.is_empty() {
        return Err(bad("`/incident followup <text> [@owner] [immediate|short|long]`: what needs doing?"));
    }
    if text.chars().count() > MAX_FIELD {
        return Err(bad(&format!("An action item holds at most {MAX_FIELD} characters.")));
    }
    Ok(IncidentAction::Followup { text, owner, horizon: if horizon.is_empty() { "short" } else { horizon } })
}

/// `key=value key="quoted value"` pairs (Slack's “curly” quotes too). With `keys`, only those.
pub fn key_values(args: &str, keys: &[&str]) -> Result<Vec<(String, String)>, CommandError> {
    let bad = |message: String| CommandError { message };
    let mut pairs = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| {
            bad(format!("Expected key=value, found `{}`. Keys: {}.", truncate(rest, 40), keys.join(", ")))
        })?;
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) || (!keys.is_empty() && !keys.contains(&key)) {
            return Err(bad(format!("Unknown key `{}`; the keys are {}.", truncate(key, 40), keys.join(", "))));
        }
        let (value, remainder) = match after.chars().next() {
            Some(open @ ('"' | '“')) => {
                let body = &after[open.len_utf8()..];
                let end = body
                    .find(['"', '”'])
                    .ok_or_else(|| bad(format!("The quoted value of `{key}` has no closing quote.")))?;
                let close_len = body[end..].chars().next().map_or(1, char::len_utf8);
                (&body[..end], &body[end + close_len..])
            }
            _ => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(bad(format!("`{key}` has no value.")));
        }
        if value.chars().count() > MAX_FIELD {
            return Err(bad(format!("`{key}` is longer than {MAX_FIELD} characters.")));
        }
        pairs.push((key.to_string(), value.to_string()));
        rest = remainder.trim_start();
    }
    Ok(pairs)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// `s` with its first letter in upper case.
pub(super) fn capitalize(s: &str) -> String {
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
    fn private_declares_take_the_flag_before_the_service() {
        let args = declare("declare --private P1 vault Secrets leaked in logs");
        assert!(args.private);
        assert_eq!((args.severity, args.service.as_str()), (Severity::P1, "vault"));
        assert_eq!(args.summary, "Secrets leaked in logs");
        let args = declare("declare P2 --PRIVATE vault x");
        assert!(args.private);
        assert_eq!((args.severity, args.service.as_str(), args.summary.as_str()), (Severity::P2, "vault", "x"));
        let args = declare("declare --private vault");
        assert!(args.private);
        assert_eq!((args.severity, args.summary.as_str()), (Severity::P0, ""));
        assert!(declare("declare —private api x").private, "an em dash typed for --");
        assert!(!declare("declare P0 api down").private);
    }

    #[test]
    fn private_after_the_service_is_summary_text_and_twice_is_an_error() {
        let args = declare("declare api the --private flag was ignored");
        assert!(!args.private);
        assert_eq!(args.summary, "the --private flag was ignored");
        assert!(parse("declare --private --private api x").unwrap_err().message.contains("given twice"));
        let missing = parse("declare --private").unwrap_err().message;
        assert!(missing.contains("Missing service") && missing.contains("Private"), "{missing}");
        assert!(parse("declare --private P9 api").unwrap_err().message.contains("Unknown severity `P9`"));
    }

    #[test]
    fn declare_alone_opens_the_modal_and_nothing_is_help() {
        assert_eq!(parse("declare").unwrap(), Command::DeclareModal);
        assert_eq!(parse("  ").unwrap(), Command::Help);
    }

    #[test]
    fn update_takes_quoted_values_and_status_words() {
        let fields = parse_update(
            r#"status="Still down" cause="OOM kill (exit 137)" action="Raising memory limit 2G to 4G" eta="3 min""#,
        )
        .unwrap();
        assert_eq!(fields.status, None);
        assert_eq!(fields.status_text.as_deref(), Some("Still down"));
        assert_eq!(fields.root_cause.as_deref(), Some("OOM kill (exit 137)"));
        assert_eq!(fields.action.as_deref(), Some("Raising memory limit 2G to 4G"));
        assert_eq!(fields.eta.as_deref(), Some("3 min"));
        let fields = parse_update("status=monitoring impact=“Half the users”").unwrap();
        assert_eq!(fields.status, Some(Status::Monitoring));
        assert_eq!(fields.impact.as_deref(), Some("Half the users"));
    }

    #[test]
    fn malformed_updates_are_refused_with_the_reason() {
        assert!(parse_update("owner=bob")
            .unwrap_err()
            .message
            .contains("Unknown key `owner`; the keys are status, cause"));
        assert!(parse_update("cause=\"never closed").unwrap_err().message.contains("no closing quote"));
        assert!(parse_update("eta=").unwrap_err().message.contains("has no value"));
        assert!(parse_update("just words").unwrap_err().message.contains("Expected key=value"));
        assert!(parse_update("status=resolved").unwrap_err().message.contains("/incident resolve"));
    }

    #[test]
    fn incident_commands_take_an_optional_incident_number() {
        let Command::Incident { target, action } = parse("status INC-42").unwrap() else { panic!() };
        assert_eq!((target, action), (Some(IncidentNumber(42)), IncidentAction::Status));
        let Command::Incident { target, action } = parse("note rolled back v1.2.3").unwrap() else { panic!() };
        assert_eq!((target, action), (None, IncidentAction::Note("rolled back v1.2.3".into())));
        assert!(parse("sev P9").unwrap_err().message.contains("P0, P1, P2 or P3"));
        assert!(parse("ic bob").unwrap_err().message.contains("not a Slack user"));
    }

    #[test]
    fn role_takes_a_role_and_a_mention() {
        let Command::Incident { target, action } = parse("role INC-3 Scribe <@U0BOB|bob>").unwrap() else { panic!() };
        let user = SlackUserId::parse("U0BOB").unwrap();
        assert_eq!((target, action), (Some(IncidentNumber(3)), IncidentAction::Role { role: "scribe".into(), user }));
        assert_eq!(parse("roles").unwrap(), Command::Incident { target: None, action: IncidentAction::Roles });
        let bad = parse("role scribe bob").unwrap_err().message;
        assert!(
            bad.starts_with("`/incident role <role> @user`")
                && bad.ends_with("`bob` is not a Slack user (mention them with @)"),
            "{bad}"
        );
        assert!(parse("role scribe").unwrap_err().message.contains("name the role and mention the person"));
        assert!(parse("role").unwrap_err().message.contains("name the role"));
    }

    #[test]
    fn bad_input_says_what_was_wrong() {
        assert!(parse("declare P7 api down").unwrap_err().message.contains("Unknown severity `P7`"));
        assert!(parse("declare P1").unwrap_err().message.contains("Missing service"));
        assert!(parse("declare P1 <!channel> x").unwrap_err().message.contains("not a service name"));
        assert!(parse("frobnicate").unwrap_err().message.contains("Unknown subcommand `frobnicate`"));
    }
}
