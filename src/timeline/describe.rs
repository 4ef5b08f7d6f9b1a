//! One line of text per timeline event, for `/incident timeline` and the report: each read from
//! the event's own payload, so the timeline needs none of the parts that wrote them.

use serde_json::Value;

use super::Event;

/// `15:02 · <@U0ALICE> · declared P0 api: Everything 500s`
pub fn line(event: &Event) -> String {
    format!("`{}` · {} · {}", event.at.format("%H:%M:%S"), actor(&event.actor), what(event))
}

/// Who did it: a mention for people, the name for warroom and alert sources.
pub fn actor(actor: &str) -> String {
    if actor.starts_with('U') || actor.starts_with('W') {
        format!("<@{actor}>")
    } else {
        actor.to_string()
    }
}

/// What happened, in Slack mrkdwn (user text escaped).
pub fn what(event: &Event) -> String {
    let p = &event.payload;
    let s = |key: &str| p[key].as_str().unwrap_or("").to_string();
    let esc = crate::templates::escape_mrkdwn;
    let what = match event.kind.as_str() {
        "declared" => {
            let private = if p["private"] == true { " privately (a private channel, no public trail)" } else { "" };
            format!("declared {} {} ({}){private}: {}", s("number"), s("severity"), s("service"), esc(&s("title")))
        }
        "channel_created" => format!("channel <#{}> created", s("channel")),
        "members_invited" => format!("invited {}", mentions(&p["users"])),
        "topic_set" => "topic set".into(),
        "message_posted" => format!("posted the {}", s("message")),
        "pinned" => "pinned the declaration".into(),
        "acknowledged" => format!("acknowledged (after {}s)", p["time_to_acknowledge_secs"]),
        "updated" => {
            let fields: Vec<String> = ["status", "status_text", "root_cause", "action", "eta", "impact"]
                .iter()
                .filter_map(|k| p[*k].as_str().map(|v| format!("{k}: {}", esc(v))))
                .collect();
            format!("update — {}", fields.join("; "))
        }
        "mitigated" => "mitigated (status monitoring)".into(),
        "note" => format!("note: {}", esc(&s("text"))),
        "commander_changed" => format!("commander <@{}> → <@{}>", s("from"), s("to")),
        "severity_changed" => format!("severity {} → {}", s("from"), s("to")),
        "status_update_posted" => {
            format!("status update posted{}", if p["silent"] == true { " (nothing new)" } else { "" })
        }
        "resolved" => format!("resolved: {}", esc(&s("resolution"))),
        "reopened" => "reopened".into(),
        "diagnostic_requested" => format!("asked for `{}`", s("action")),
        "diagnostic_dispatched" => format!("`{}` handed to runner `{}`", s("action"), s("runner")),
        "diagnostic_finished" => format!("`{}` finished (exit {})", s("action"), p["exit_code"]),
        "diagnostic_refused" => format!("runner refused `{}`: {}", s("action"), esc(&s("reason"))),
        "diagnostic_cancelled" => {
            format!("`{}` for runner `{}` cancelled before it started ({})", s("action"), s("runner"), s("reason"))
        }
        "approval_requested" => format!("requested approval for `{}`", s("action")),
        "approval_granted" => format!("approved `{}` ({} of {})", s("action"), p["approvals"], p["required"]),
        "approval_denied" => format!("denied `{}`", s("action")),
        "approval_expired" => format!("approval for `{}` expired", s("action")),
        "approval_cancelled" => format!("request for `{}` cancelled before it started ({})", s("action"), s("reason")),
        "change_started" => format!("change `{}` started", s("action")),
        "change_outcome_unknown" => format!("outcome of change `{}` unknown: {}", s("action"), esc(&s("why"))),
        "diagnostic_outcome_unknown" => format!("outcome of `{}` unknown: {}", s("action"), esc(&s("why"))),
        "file_uploaded" => format!("shared {}", s("filename")),
        "statuspage_pushed" => format!(
            "status page {}: {}{}",
            // A status update slot's push (`scheduled` is its slot).
            if p["scheduled"].is_string() { "scheduled update".to_string() } else { s("action") },
            s("status"),
            if p["sandbox"] == true { " (sandbox status page)" } else { "" }
        ),
        "statuspage_failing" => format!("status page failing ({}), retrying", esc(&s("error"))),
        "statuspage_failed" => format!("status page refused the {}: {}", s("action"), esc(&s("error"))),
        "statuspage_drift" => format!("status page drift repaired: {}", esc(&s("drift"))),
        "statuspage_draft" => "status page update drafted, waiting for confirmation".into(),
        "escalated" => format!("escalated to tier {} of {} ({})", p["tier"], p["of"], esc(&s("reason"))),
        "escalate_now" => format!("asked to escalate now: {}", esc(&s("reason"))),
        "escalation_silence" => "nobody acknowledged in time: pinging tier 1".into(),
        "escalation_notified" => format!("escalation tier {} notified {}", p["tier"], mentions(&p["users"])),
        "paged" if p["skipped"].is_string() => format!("PagerDuty not paged for tier {}: {}", p["tier"], s("skipped")),
        "paged" => format!("PagerDuty {} for tier {}", s("action"), p["tier"]),
        "page_failed" => format!("PagerDuty refused the {} for tier {}: {}", s("action"), p["tier"], esc(&s("error"))),
        "message_captured" => format!(
            "{} by <@{}> ({}): {}",
            if s("via") == "pin" { "pinned message" } else { "📌 message" },
            s("author"),
            if s("via") == "pin" { "pinned".to_string() } else { format!("marked by <@{}>", s("by")) },
            esc(&s("text"))
        ),
        "followup_added" => format!(
            "action item ({}{}): {}",
            s("horizon"),
            p["owner"].as_str().map(|o| format!(", <@{o}>")).unwrap_or_default(),
            esc(&s("text"))
        ),
        "report_exported" => format!("report exported as {}", s("format")),
        "alert_received" => format!("alert firing: {}", alert(p)),
        "alert_resolved" => format!("alert resolved: {}", alert(p)),
        "checklist_created" => format!("runbook checklist: {} ({} steps)", esc(&s("title")), p["steps"]),
        "checklist_step_run" => format!(
            "{} `{}` from runbook step {}",
            if s("kind") == "change" { "requested" } else { "ran" },
            s("action"),
            p["step"]
        ),
        "checklist_step_done" if s("via") == "run" => {
            format!("runbook step {} done: `{}` finished {}", p["step"], s("action"), s("result"))
        }
        "checklist_step_done" => format!("runbook step {} done: {}", p["step"], esc(&s("command"))),
        "checklist_reminder" => format!(
            "reminded the commander: {} ended with steps {} open",
            esc(&s("heading")),
            p["open"].as_array().into_iter().flatten().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        ),
        "role_assigned" => format!(
            "{}: <@{}>{}",
            esc(&s("name")),
            s("user"),
            p["from"].as_str().map(|from| format!(" (was <@{from}>)")).unwrap_or_default()
        ),
        "role_reminder" => format!(
            "{} of unfilled roles: {}",
            if p["stage"] == 2 { "told the announcement channel" } else { "reminded the commander" },
            esc(&p["names"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
        ),
        "slack_api_failed" => format!("Slack step failed: {}", esc(&s("error"))),
        "followup_tracked" => format!(
            "action item {} is {} {}{}",
            p["followup"],
            s("tracker_label"),
            esc(&s("key")),
            if p["found_by_marker"] == true { " (found by its marker after an unanswered attempt)" } else { "" }
        ),
        "followup_refused" => {
            format!("{} refused action item {}: {}", s("tracker_label"), p["followup"], esc(&s("error")))
        }
        "followup_state" => format!("{} {} is {}", s("tracker_label"), esc(&s("key")), esc(&s("state"))),
        "followup_nudged" => format!(
            "overdue action item {} nudged {}",
            p["followup"],
            if s("to") == "dm" { format!("<@{}> by DM", s("owner")) } else { "in the channel".to_string() }
        ),
        "archive_warned" => format!("warned the channel it will be archived at {} UTC", at(&p["archive_at"])),
        "archive_kept_open" => format!("kept the channel open: archived at {} UTC instead", at(&p["archive_at"])),
        "channel_archived" => format!("archived <#{}>", s("channel")),
        "channel_unarchived" => format!("unarchived <#{}> for the reopen", s("channel")),
        "feedback_given" => match p["comment"].as_str() {
            Some(comment) => format!("feedback: {}/5, \"{}\"", p["rating"], esc(comment)),
            None => format!("feedback: {}/5", p["rating"]),
        },
        other => other.replace('_', " "),
    };
    what
}

/// A planned time from a payload (RFC 3339) as `2026-11-30 15:00`.
fn at(value: &Value) -> String {
    let parsed = value.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    parsed.map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// How many labels besides `alertname` a one-line description shows.
const LABELS_SHOWN: usize = 4;

/// One alert in one line of mrkdwn, from an event payload's `labels` and `annotations`:
/// `` `ServiceDown` job=api, instance=api:8000 — api has been down for 1m ``.
pub fn alert(payload: &Value) -> String {
    let labels = payload["labels"].as_object();
    let name = labels.and_then(|l| l.get("alertname")).and_then(Value::as_str).unwrap_or("alert");
    let others: Vec<String> = labels
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "alertname")
        .take(LABELS_SHOWN)
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let mut line = format!("`{}`", crate::templates::escape_mrkdwn(&name.replace('`', "'")));
    if !others.is_empty() {
        line.push_str(&format!(" {}", crate::templates::escape_mrkdwn(&others.join(", "))));
    }
    if let Some(summary) = payload["annotations"]["summary"].as_str().filter(|s| !s.is_empty()) {
        let summary: String = summary.chars().take(200).collect();
        line.push_str(&format!(" — {}", crate::templates::escape_mrkdwn(&summary)));
    }
    line
}

/// Slack mrkdwn as plain text: `<@U1>` → `@U1`, `<#C1>` → `#C1`, `<url|text>` → `text (url)`,
/// and the escaped `&`, `<`, `>` back. A `<` that starts no Slack markup (`a < b`, `</details>`
/// typed somewhere that does not escape it) is text.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>').filter(|end| is_markup(&rest[start + 1..start + end])) else {
            out.push('<');
            rest = &rest[start + 1..];
            continue;
        };
        let inner = &rest[start + 1..start + end];
        match inner.chars().next() {
            Some('@') | Some('#') => out.push_str(inner.split('|').next().unwrap_or(inner)),
            Some('!') => out.push_str(&format!("@{}", inner.trim_start_matches('!').split('^').next().unwrap_or(""))),
            _ => match inner.split_once('|') {
                Some((url, label)) => out.push_str(&format!("{label} ({url})")),
                None => out.push_str(inner),
            },
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if out.contains('&') {
        out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    }
    out
}

/// The inside of `<…>` as Slack writes it: a mention (`@U1`), a channel (`#C1`), a special
/// command (`!here`) or a URL (`scheme:…`), optionally `|label`; never spaces outside the label.
pub fn is_markup(inner: &str) -> bool {
    let target = inner.split('|').next().unwrap_or_default();
    if target.is_empty() || target.contains(char::is_whitespace) {
        return false;
    }
    let scheme = target.split_once(':').map(|(s, _)| s).unwrap_or_default();
    target.starts_with(['@', '#', '!'])
        || (scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
}

fn mentions(users: &Value) -> String {
    let ids: Vec<String> =
        users.as_array().into_iter().flatten().filter_map(|u| u.as_str()).map(|u| format!("<@{u}>")).collect();
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_reads_slack_markup_and_leaves_other_angle_brackets_alone() {
        let text = "&lt;b&gt; <@U1> <#C1|inc-1> <https://x.example|label> <!here> a < b </details> <not markup>";
        assert_eq!(plain(text), "<b> @U1 #C1 label (https://x.example) @here a < b </details> <not markup>");
    }

    #[test]
    fn an_alert_reads_as_name_labels_and_summary_with_mentions_defused() {
        let p = json!({ "labels": { "alertname": "ServiceDown", "job": "api" },
                        "annotations": { "summary": "<!channel> api is down" } });
        assert_eq!(alert(&p), "`ServiceDown` job=api — &lt;!channel&gt; api is down");
    }
}
