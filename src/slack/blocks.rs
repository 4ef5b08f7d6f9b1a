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
/// `callback_id` of the declaration modal.
pub const VIEW_DECLARE: &str = "incident.declare";

/// The declaration message: fallback text and blocks.
pub fn declaration(
    templates: &Templates,
    config: &FileConfig,
    incident: &Incident,
) -> Result<(String, Value), TemplateError> {
    let severity = incident.severity();
    let next_update = config
        .severity
        .get(&severity)
        .and_then(|s| s.status_update_every)
        .map(|every| format!("{} UTC", hhmm(incident.declared_at + every.as_chrono())))
        .unwrap_or_else(|| "when there is news (no scheduled updates at this severity)".into());
    let data = json!({
        "number": incident.number().to_string(),
        "title": incident.title,
        "service_upper": incident.service.replace(['-', '_'], " ").to_uppercase(),
        "severity": severity.as_str(),
        "severity_label": severity.label(),
        "major": severity.is_major(),
        "all_hands": severity == Severity::P0,
        "commander": incident.commander,
        "started": incident.declared_at.format("%Y-%m-%d %H:%M").to_string(),
        "status": incident.status,
        "impact": incident.impact,
        "war_room_url": config.war_room_url,
        "channel_id": incident.channel_id,
        "next_update": next_update,
        "acknowledged_by": incident.acknowledged_by,
        "acknowledged_at": incident.acknowledged_at.map(hhmm),
        "time_to_acknowledge": incident.acknowledged_at.map(|at| human_span(at - incident.declared_at)),
    });
    let text = templates.render("declare", &data)?;
    let fallback = format!(
        "🚨 {} {} {}: {} down",
        incident.number(),
        severity,
        if severity.is_major() { "MAJOR INCIDENT" } else { "incident" },
        incident.service
    );
    let mut blocks = vec![json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })];
    if incident.acknowledged_at.is_none() {
        blocks.push(json!({
            "type": "actions",
            "block_id": "incident_actions",
            "elements": [{
                "type": "button",
                "action_id": ACTION_ACKNOWLEDGE,
                "text": { "type": "plain_text", "text": "Acknowledge" },
                "style": "primary",
                "value": incident.id.to_string(),
            }],
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": format!("{} · declared by <@{}>", incident.number(), incident.declared_by) }],
    }));
    Ok((fallback, Value::Array(blocks)))
}

/// The modal `/incident declare` opens. `private_metadata` carries the channel it came from.
pub fn declare_modal(origin_channel: &str) -> Value {
    let input = |block_id: &str, label: &str, element: Value, optional: bool| {
        json!({ "type": "input", "block_id": block_id, "optional": optional,
                "label": { "type": "plain_text", "text": label }, "element": element })
    };
    let text = |action_id: &str, placeholder: &str, multiline: bool| {
        json!({ "type": "plain_text_input", "action_id": action_id, "multiline": multiline,
                "placeholder": { "type": "plain_text", "text": placeholder } })
    };
    let option = |s: Severity| json!({ "text": { "type": "plain_text", "text": format!("{s} ({})", s.label()) }, "value": s.as_str() });
    json!({
        "type": "modal",
        "callback_id": VIEW_DECLARE,
        "private_metadata": origin_channel,
        "title": { "type": "plain_text", "text": "Declare an incident" },
        "submit": { "type": "plain_text", "text": "Declare" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            input("service", "Service", text("value", "inference-gateway", false), false),
            input("severity", "Severity", json!({
                "type": "static_select", "action_id": "value",
                "initial_option": option(Severity::P0),
                "options": Severity::ALL.iter().map(|s| option(*s)).collect::<Vec<_>>(),
            }), false),
            input("summary", "Summary", text("value", "Inference API returns 100% errors", false), false),
            input("commander", "Incident Commander", json!({ "type": "users_select", "action_id": "value" }), true),
            input("impact", "Impact", text("value", "100% of requests failing", true), true),
        ],
    })
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
