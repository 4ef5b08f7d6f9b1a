//! The card as Slack shows it: a header, the `catchup` template's text (in as many sections as
//! Slack's limits need) and a footer, on slack-morphism's types. Every text a person typed is
//! cut to a line's worth, so the card stays a card however long the incident's updates were.

use crate::templates::escape_mrkdwn;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use slack_morphism::blocks::SlackBlock;

use super::card::{Approval, Card, Diagnostic, Followup, Listed, Update};
use crate::duration::human_span;
use crate::slack::blocks::{hhmm, who};
use crate::slack::{kit, limits};
use crate::templates::{TemplateError, Templates};

/// How much of one update, reason or follow-up the card shows (the rest is in the timeline).
const LINE: usize = 300;

/// The card's fallback text and blocks. `bot_user` is warroom's own Slack user, when known: a
/// commander that is warroom reads "unassigned".
pub fn render(
    templates: &Templates,
    card: &Card,
    bot_user: Option<&str>,
) -> Result<(String, Vec<SlackBlock>), TemplateError> {
    let text = templates.render("catchup", &data(card, bot_user))?;
    let title = format!("Catching up on {}", card.number);
    let mut blocks = vec![kit::header(limits::label(&title, limits::MAX_HEADER_TEXT))];
    blocks.extend(limits::sections(&text));
    let place = card.channel_id.as_deref().map_or_else(String::new, |c| format!(" · the war room: <#{c}>"));
    blocks.push(kit::context(format!(
        "Only you can see this · `/incident catchup {}` shows it again, `/incident timeline {}` the whole story{place}",
        card.number, card.number
    )));
    let fallback = format!("{title} ({} {}): {}", card.severity, card.status, limits::label(&card.title, 200));
    Ok((fallback, blocks))
}

/// What the template is given: every key always present (strict mode), user text raw (the
/// template escapes it), mentions already made (`who`, triple-stashed).
fn data(card: &Card, bot_user: Option<&str>) -> Value {
    let now = card.now;
    let ago = |at: DateTime<Utc>| human_span(now - at);
    let holder = |user: &str| match Some(user) == bot_user {
        true => "unassigned — take it with `/incident ic @you`".to_string(),
        false => who(user),
    };
    let roles: Vec<Value> = card
        .roles
        .iter()
        .map(|r| {
            let who = match (&r.user, r.key == crate::config::COMMANDER) {
                (Some(user), _) => holder(user),
                (None, true) => holder(bot_user.unwrap_or_default()),
                (None, false) => format!("unfilled — `/incident role {} @someone`", r.key),
            };
            json!({ "label": r.name, "who": who })
        })
        .collect();
    let updates: Vec<Value> = card
        .updates
        .iter()
        .map(|u| json!({ "at": hhmm(u.at), "ago": ago(u.at), "by": who(&u.actor), "summary": summary(u) }))
        .collect();
    let diagnostics = card.diagnostics.items.iter().map(|d| diagnostic(d, now)).collect::<Vec<_>>();
    let approvals = card.approvals.items.iter().map(|a| approval(a, now)).collect::<Vec<_>>();
    let followups = card.followups.items.iter().map(followup).collect::<Vec<_>>();
    // Resolved incidents like this one: when, how long, what it was and what fixed it.
    let seen_before: Vec<Value> = card
        .seen_before
        .iter()
        .map(|p| {
            let cut = |t: &Option<String>| t.as_deref().map(|t| limits::label(&one_line(t), 160));
            json!({ "number": p.number().to_string(), "title": limits::label(&p.title, 120), "service": p.service,
                    "ago": ago(p.declared_at), "lasted": human_span(p.duration()),
                    "root_cause": cut(&p.root_cause), "resolution": cut(&p.resolution),
                    "channel": p.channel_id })
        })
        .collect();
    let checklist = card.checklist.as_ref().map(|c| {
        let open: Vec<Value> = c
            .open
            .iter()
            .map(|s| {
                json!({ "number": s.number, "task": s.task, "heading": limits::label(&s.heading, 80),
                        "command": limits::label(&one_line(&s.command.replace('`', "'")), 160) })
            })
            .collect();
        let more = c.open_total.saturating_sub(c.open.len());
        json!({ "title": limits::label(&c.title, 120), "open": open, "open_total": c.open_total,
                "steps_total": c.steps_total, "more": (more > 0).then(|| limits::more(more, "open steps")) })
    });
    json!({
        "number": card.number.to_string(),
        "title": card.title,
        "service": card.service,
        "severity": card.severity.as_str(),
        "severity_label": card.severity.label(),
        "status": card.status,
        "status_text": card.status_text.as_deref().map(|t| limits::label(t, LINE)),
        "roles": roles,
        "declared_at": hhmm(card.declared_at),
        "declared_ago": ago(card.declared_at),
        "last_update_ago": card.last_update_at.map(ago),
        "resolved_at": card.resolved_at.map(hhmm),
        "resolved_ago": card.resolved_at.map(ago),
        "updates": updates,
        "diagnostics": diagnostics,
        "diagnostics_more": more(&card.diagnostics, "diagnostics"),
        "approvals": approvals,
        "approvals_more": more(&card.approvals, "requests"),
        "followups": followups,
        "followups_more": more(&card.followups, "follow-ups"),
        "checklist": checklist,
        "seen_before": seen_before,
    })
}

fn more<T>(list: &Listed<T>, what: &str) -> Option<String> {
    (list.more() > 0).then(|| limits::more(list.more(), what))
}

/// An update's fields in one line: `identified — OOM kill · action: raising memory · ETA 3 min`.
fn summary(update: &Update) -> String {
    let p = &update.payload;
    let s = |key: &str| p[key].as_str().filter(|v| !v.trim().is_empty());
    let mut parts = Vec::new();
    match (s("status"), s("status_text")) {
        (Some(status), Some(text)) => parts.push(format!("{status} — {text}")),
        (Some(one), None) | (None, Some(one)) => parts.push(one.to_string()),
        (None, None) => {}
    }
    for (key, label) in [("root_cause", "cause"), ("action", "action"), ("eta", "ETA"), ("impact", "impact")] {
        if let Some(value) = s(key) {
            parts.push(format!("{label}: {value}"));
        }
    }
    if parts.is_empty() {
        parts.push("(no fields)".into());
    }
    limits::label(&parts.join(" · "), LINE)
}

fn diagnostic(d: &Diagnostic, now: DateTime<Utc>) -> Value {
    let runner = d.runner.as_deref().unwrap_or("its runner");
    let state = match (d.change, d.state.as_str()) {
        (true, "approved") => "approved, starting".to_string(),
        (true, "dispatched") => format!("approved, waiting for runner `{runner}`"),
        (true, _) => "running (a change)".to_string(),
        (false, "queued") if d.runner.is_some() => format!("waiting for runner `{runner}`"),
        (false, "sent") => format!("running on runner `{runner}`"),
        (false, "queued") => "queued".to_string(),
        (false, _) => "running".to_string(),
    };
    let action = d.action.as_deref().unwrap_or("a diagnostic").replace('`', "'");
    json!({ "action": action, "state": state, "by": who(d.by.as_deref().unwrap_or("warroom")),
            "ago": human_span(now - d.since) })
}

fn approval(a: &Approval, now: DateTime<Utc>) -> Value {
    json!({
        "action": a.action.replace('`', "'"),
        "by": who(&a.by),
        "ago": human_span(now - a.requested_at),
        "approvals": a.approvals,
        "required": a.required,
        "expires_in": human_span(a.expires_at - now),
        "reason": a.reason.as_deref().filter(|r| !r.trim().is_empty()).map(|r| limits::label(r, LINE)),
    })
}

fn followup(f: &Followup) -> Value {
    let p = &f.payload;
    let horizon = match p["horizon"].as_str().unwrap_or("short") {
        "immediate" => "immediate",
        "long" => "long-term",
        _ => "short-term",
    };
    let owner = p["owner"].as_str().filter(|o| crate::slack::blocks::is_person(o));
    // Its tracker issue as a link, with the tracker's word for its state.
    let issue = match (&f.issue_key, &f.issue_url) {
        (Some(key), Some(url)) => {
            let state = f.issue_state.as_deref().map(|s| format!(", {s}")).unwrap_or_default();
            Some(format!("<{}|{}>{}", escape_mrkdwn(url), escape_mrkdwn(key), escape_mrkdwn(&state)))
        }
        _ => None,
    };
    json!({ "text": limits::label(p["text"].as_str().unwrap_or_default(), LINE), "horizon": horizon,
            "owner": owner, "at": hhmm(f.at), "by": who(&f.actor), "issue": issue })
}

/// A multi-line command (a continued shell line, a heredoc) on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::catchup::card::{OpenStep, OpenSteps};
    use crate::incident::roles::Holder;
    use crate::incident::{IncidentNumber, Severity};

    fn card(title: &str, update_text: &str) -> Card {
        let at = |m: u32| Utc.with_ymd_and_hms(2026, 11, 23, 15, m, 0).unwrap();
        let update = Update { at: at(5), actor: "U0BOB".into(), payload: json!({ "status_text": update_text }) };
        Card {
            incident_id: uuid::Uuid::nil(),
            number: IncidentNumber(7),
            title: title.into(),
            service: "api".into(),
            severity: Severity::P1,
            status: "investigating".into(),
            status_text: None,
            roles: vec![Holder { key: "commander".into(), name: "Incident Commander".into(), user: None }],
            declared_at: at(0),
            last_update_at: Some(at(5)),
            resolved_at: None,
            channel_id: Some("C0INC".into()),
            updates: vec![update],
            diagnostics: Listed::default(),
            approvals: Listed::default(),
            followups: Listed::default(),
            seen_before: Vec::new(),
            checklist: Some(OpenSteps {
                title: "Runbook".into(),
                open: vec![OpenStep { number: 3, heading: "Fix".into(), command: "a \\\n  b".into(), task: false }],
                open_total: 1,
                steps_total: 4,
            }),
            now: at(20),
        }
    }

    fn text(blocks: &[SlackBlock]) -> String {
        kit::json(blocks).to_string()
    }

    #[test]
    fn what_people_typed_cannot_ping_or_link() {
        let templates = Templates::load(None).unwrap();
        let (_, blocks) =
            render(&templates, &card("<!channel> down", "<@U0CAROL> <https://x.example|y>"), None).unwrap();
        let shown = text(&blocks);
        assert!(shown.contains("&lt;!channel&gt; down"), "{shown}");
        assert!(shown.contains("&lt;@U0CAROL&gt; &lt;https://x.example|y&gt;"), "{shown}");
        assert!(shown.contains("<@U0BOB>"), "the author is a mention: {shown}");
    }

    #[test]
    fn an_unassigned_commander_says_so_and_a_long_update_is_cut() {
        let templates = Templates::load(None).unwrap();
        let long = "x".repeat(5000);
        let (fallback, blocks) = render(&templates, &card("Checkout fails", &long), Some("U0WARROOM")).unwrap();
        let shown = text(&blocks);
        assert!(shown.contains("*Incident Commander:* unassigned"), "{shown}");
        assert!(!shown.contains(&"x".repeat(LINE)), "cut to a line's worth");
        assert!(shown.contains("• 3. `a \\\\ b`"), "one line per step: {shown}");
        assert!(fallback.starts_with("Catching up on INC-7 (P1 investigating)"), "{fallback}");
        assert!(blocks.len() <= limits::MAX_BLOCKS);
    }
}
