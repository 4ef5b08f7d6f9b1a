//! Block Kit built in code around the rendered template text: the declaration message with its
//! buttons, and the declaration modal.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::config::FileConfig;
use crate::incident::store::Incident;
use crate::incident::Severity;
use crate::templates::{TemplateError, Templates};

/// `action_id` of the declaration's Acknowledge button.
pub const ACTION_ACKNOWLEDGE: &str = "incident.acknowledge";
/// `action_id` of the declaration's Post update button (opens the update modal).
pub const ACTION_POST_UPDATE: &str = "incident.post_update";
/// `action_id` of the declaration's Run diagnostics button (lists them, as buttons).
pub const ACTION_DIAGNOSTICS: &str = "incident.diagnostics";
/// `action_id` of the declaration's Resolve button (opens the resolve modal).
pub const ACTION_RESOLVE: &str = "incident.resolve";
pub const ACTION_ESCALATE: &str = "incident.escalate";
/// `callback_id` of the declaration modal.
pub const VIEW_DECLARE: &str = "incident.declare";
/// `callback_id` of the update modal (`private_metadata`: the incident id).
pub const VIEW_UPDATE: &str = "incident.update";
/// `callback_id` of the resolve modal (`private_metadata`: the incident id).
pub const VIEW_RESOLVE: &str = "incident.resolve";

pub(crate) fn input(block_id: &str, label: &str, element: Value, optional: bool) -> Value {
    json!({ "type": "input", "block_id": block_id, "optional": optional,
            "label": { "type": "plain_text", "text": label }, "element": element })
}

pub(crate) fn text_input(placeholder: &str, initial: Option<&str>, multiline: bool) -> Value {
    let mut element = json!({ "type": "plain_text_input", "action_id": "value", "multiline": multiline,
                              "placeholder": { "type": "plain_text", "text": placeholder } });
    if let Some(initial) = initial {
        element["initial_value"] = json!(initial);
    }
    element
}

/// The modal behind "Post update" and `/incident update`, filled with the current values.
pub fn update_modal(incident: &Incident) -> Value {
    let option = |s: &str| json!({ "text": { "type": "plain_text", "text": s }, "value": s });
    let statuses = ["investigating", "identified", "monitoring"];
    let current = statuses.iter().find(|s| **s == incident.status).copied().unwrap_or("investigating");
    json!({
        "type": "modal",
        "callback_id": VIEW_UPDATE,
        "private_metadata": incident.id.to_string(),
        "title": { "type": "plain_text", "text": format!("Update {}", incident.number()) },
        "submit": { "type": "plain_text", "text": "Post update" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            input("status", "Status", json!({ "type": "static_select", "action_id": "value",
                "initial_option": option(current), "options": statuses.iter().map(|s| option(s)).collect::<Vec<_>>() }), false),
            input("status_text", "In words", text_input("Still down", incident.status_text.as_deref(), false), true),
            input("cause", "Root cause", text_input("OOM kill (exit 137)", incident.root_cause.as_deref(), false), true),
            input("action", "Action", text_input("Raising memory limit 2G to 4G", incident.current_action.as_deref(), false), true),
            input("eta", "ETA", text_input("3 min", incident.eta.as_deref(), false), true),
            input("impact", "Impact", text_input("All users affected", incident.impact.as_deref(), true), true),
        ],
    })
}

/// The modal behind "Resolve" and `/incident resolve`.
pub fn resolve_modal(incident: &Incident) -> Value {
    json!({
        "type": "modal",
        "callback_id": VIEW_RESOLVE,
        "private_metadata": incident.id.to_string(),
        "title": { "type": "plain_text", "text": format!("Resolve {}", incident.number()) },
        "submit": { "type": "plain_text", "text": "Resolve" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            input("cause", "Root cause", text_input("OOM kill due to a memory leak in v1.2.3", incident.root_cause.as_deref(), false), false),
            input("resolution", "Resolution", text_input("Raised the memory limit to 4G and restarted", None, true), false),
            input("impact", "Impact", text_input("~2,400 failed requests, all users", incident.impact.as_deref(), true), true),
        ],
    })
}

/// The runbook checklist a declaration points to (posted after it in the incident channel).
#[derive(Debug, Clone, Copy)]
pub struct ChecklistLink<'a> {
    pub title: &'a str,
    pub steps: usize,
}

/// The declaration message: fallback text and blocks. `bot_user` is warroom's own Slack user:
/// an incident whose commander it is (declared by an alert or the API with no commander
/// configured) reads "unassigned".
pub fn declaration(
    templates: &Templates,
    config: &FileConfig,
    incident: &Incident,
    statuspage: Option<&str>,
    bot_user: Option<&str>,
    checklist: Option<ChecklistLink<'_>>,
) -> Result<(String, Value), TemplateError> {
    let severity = incident.severity();
    let next_update = match incident.next_update_at {
        Some(at) => format!("{} UTC", hhmm(at)),
        None if incident.is_resolved() => "none (resolved)".into(),
        None => "when there is news (no scheduled updates at this severity)".into(),
    };
    let data = json!({
        "number": incident.number().to_string(),
        "title": incident.title,
        "service_upper": incident.service.replace(['-', '_'], " ").to_uppercase(),
        "severity": severity.as_str(),
        "severity_label": severity.label(),
        "major": severity.is_major(),
        "all_hands": severity == Severity::P0,
        "commander": incident.commander,
        "unassigned": Some(incident.commander.as_str()) == bot_user,
        "started": incident.declared_at.format("%Y-%m-%d %H:%M").to_string(),
        "status": match &incident.status_text {
            Some(text) => format!("{} — {text}", incident.status),
            None => incident.status.clone(),
        },
        "impact": incident.impact,
        "war_room_url": config.war_room_url,
        "channel_id": incident.channel_id,
        "next_update": next_update,
        "acknowledged_by": incident.acknowledged_by,
        "acknowledged_at": incident.acknowledged_at.map(hhmm),
        "time_to_acknowledge": incident.acknowledged_at.map(|at| human_span(at - incident.declared_at)),
        "resolved_at": incident.resolved_at.map(hhmm),
        "resolved_by": incident.resolved_by,
        "resolved_by_person": incident.resolved_by.as_deref().is_some_and(is_person),
        "statuspage": statuspage,
        "runbook_url": incident.runbook_url,
    });
    let text = templates.render("declare", &data)?;
    let fallback = format!(
        "🚨 {} {} {}: {} down",
        incident.number(),
        severity,
        if severity.is_major() { "MAJOR INCIDENT" } else { "incident" },
        incident.service
    );
    // A long title or impact splits over sections rather than past Slack's 3,000 characters.
    let mut blocks = super::limits::sections(&text);
    if !incident.is_resolved() {
        let button = |action_id: &str, label: &str, style: Option<&str>| {
            let mut b = json!({ "type": "button", "action_id": action_id, "value": incident.id.to_string(),
                                "text": { "type": "plain_text", "text": label } });
            if let Some(style) = style {
                b["style"] = json!(style);
            }
            b
        };
        let mut buttons = Vec::new();
        if incident.acknowledged_at.is_none() {
            buttons.push(button(ACTION_ACKNOWLEDGE, "Acknowledge", Some("primary")));
        }
        buttons.push(button(ACTION_POST_UPDATE, "Post update", None));
        buttons.push(button(ACTION_DIAGNOSTICS, "Run diagnostics", None));
        if !crate::escalation::ladder(config, severity).is_empty() {
            let mut escalate = button(ACTION_ESCALATE, "Escalate now", None);
            escalate["confirm"] = json!({
                "title": { "type": "plain_text", "text": "Escalate now?" },
                "text": { "type": "mrkdwn", "text": "This pages the next escalation tier at once." },
                "confirm": { "type": "plain_text", "text": "Escalate" },
                "deny": { "type": "plain_text", "text": "Not yet" },
            });
            buttons.push(escalate);
        }
        buttons.push(resolve_button(incident, "Resolve"));
        blocks.push(json!({ "type": "actions", "block_id": "incident_actions", "elements": buttons }));
    }
    if let Some(checklist) = checklist {
        let title = crate::templates::escape_mrkdwn(&checklist.title.chars().take(200).collect::<String>());
        let place = incident.channel_id.as_deref().map_or_else(|| "the incident channel".into(), |c| format!("<#{c}>"));
        let text = format!(
            "📋 *Runbook checklist:* {title} ({} steps) — posted in {place} after this message; `/incident runbook` posts it again.",
            checklist.steps
        );
        blocks.push(
            json!({ "type": "section", "block_id": "runbook_checklist", "text": { "type": "mrkdwn", "text": text } }),
        );
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": format!("{} · declared by {}", incident.number(), who(&incident.declared_by)) }],
    }));
    Ok((fallback, Value::Array(blocks)))
}

/// The Resolve button (opens the resolve modal), behind a confirm dialog: on the declaration,
/// and on the "alert resolved" prompt.
pub fn resolve_button(incident: &Incident, label: &str) -> Value {
    json!({
        "type": "button", "action_id": ACTION_RESOLVE, "value": incident.id.to_string(), "style": "danger",
        "text": { "type": "plain_text", "text": label },
        "confirm": {
            "title": { "type": "plain_text", "text": format!("Resolve {}?", incident.number()) },
            "text": { "type": "mrkdwn", "text": "This stops the scheduled updates and posts the resolution." },
            "confirm": { "type": "plain_text", "text": "Resolve" },
            "deny": { "type": "plain_text", "text": "Not yet" },
        },
    })
}

/// The modal `/incident declare` opens. `private_metadata` carries the channel it came from.
/// With services configured, the service is picked from a list (Slack's limit: 100 options,
/// the first 100 by name) or typed in the field below it, which says how many are not listed.
pub fn declare_modal(origin_channel: &str, services: &[&str]) -> Value {
    let option = |s: Severity| json!({ "text": { "type": "plain_text", "text": format!("{s} ({})", s.label()) }, "value": s.as_str() });
    let mut blocks = service_inputs(services);
    blocks.extend([
        input(
            "severity",
            "Severity",
            json!({
                "type": "static_select", "action_id": "value",
                "initial_option": option(Severity::P0),
                "options": Severity::ALL.iter().map(|s| option(*s)).collect::<Vec<_>>(),
            }),
            false,
        ),
        input("summary", "Summary", text_input("Inference API returns 100% errors", None, false), false),
        input("commander", "Incident Commander", json!({ "type": "users_select", "action_id": "value" }), true),
        input("impact", "Impact", text_input("100% of requests failing", None, true), true),
    ]);
    json!({
        "type": "modal",
        "callback_id": VIEW_DECLARE,
        "private_metadata": origin_channel,
        "title": { "type": "plain_text", "text": "Declare an incident" },
        "submit": { "type": "plain_text", "text": "Declare" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": blocks,
    })
}

/// Block id of the declare modal's typed service (beside the list of configured ones).
pub const SERVICE_TYPED: &str = "service_other";

/// The declare modal's service: a text input, or a select of the configured services and a
/// text input for one not in it.
fn service_inputs(services: &[&str]) -> Vec<Value> {
    use super::limits;
    // A name Slack cannot carry as an option's value is typed instead.
    let listable: Vec<&str> = services.iter().copied().filter(|s| s.len() <= limits::MAX_OPTION_VALUE).collect();
    if listable.is_empty() {
        return vec![input("service", "Service", text_input("inference-gateway", None, false), false)];
    }
    let (listed, left_out) = limits::cap(&listable, limits::MAX_OPTIONS);
    let left_out = left_out + services.len() - listable.len();
    let options: Vec<Value> =
        listed.iter().map(|s| json!({ "text": limits::plain(s, limits::MAX_OPTION_TEXT), "value": s })).collect();
    let select = json!({ "type": "static_select", "action_id": "value", "options": options,
                         "placeholder": { "type": "plain_text", "text": "Pick a service" } });
    let hint = if left_out == 0 {
        "A service not in the list above".to_string()
    } else {
        format!(
            "{} are not in the list above (it holds {}): type the name here.",
            limits::more(left_out, "services"),
            listed.len()
        )
    };
    let mut typed = input(SERVICE_TYPED, "Or type the service", text_input("inference-gateway", None, false), true);
    typed["hint"] = limits::plain(&hint, 2000);
    vec![input("service", "Service", select, true), typed]
}

/// A Slack user (rather than `alertmanager`, `grafana`, `api`: sources that act by themselves).
pub fn is_person(actor: &str) -> bool {
    crate::incident::SlackUserId::parse(actor).is_ok_and(|id| id.as_str() == actor)
}

/// A mention for a person, the source's name for anything else.
pub fn who(actor: &str) -> String {
    if is_person(actor) {
        format!("<@{actor}>")
    } else {
        crate::templates::escape_mrkdwn(actor)
    }
}

/// `15:50`.
pub fn hhmm(at: DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}

/// `4m 05s`, `1h 02m`.
pub fn human_span(span: chrono::Duration) -> String {
    let secs = span.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_a_person_says_them() {
        assert_eq!(human_span(chrono::Duration::seconds(42)), "42s");
        assert_eq!(human_span(chrono::Duration::seconds(245)), "4m 05s");
        assert_eq!(human_span(chrono::Duration::seconds(3720)), "1h 02m");
    }
}
