//! Message text rendered from the templates: status updates, the resolution, the executive
//! summary and the validation checklist (the declaration lives in [`super::blocks`]).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::blocks::{hhmm, human_span};
use crate::config::FileConfig;
use crate::incident::store::Incident;
use crate::templates::{TemplateError, Templates};

/// Seed 002's "🔄 UPDATE [15:50 UTC] - 5 MIN ELAPSED" post. `silent` adds the reminder to the
/// commander that nothing new was said since the last one; `roles` (`incident::roles::current`)
/// are listed with their holders.
pub fn status_update(
    templates: &Templates,
    incident: &Incident,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    silent: bool,
    roles: &[crate::incident::roles::Holder],
) -> Result<String, TemplateError> {
    let status_text = match &incident.status_text {
        Some(text) => format!("{text} ({})", incident.status),
        None => incident.status.clone(),
    };
    templates.render(
        "status_update",
        &json!({
            "now": hhmm(now),
            "elapsed_minutes": (now - incident.declared_at).num_minutes().max(0),
            "number": incident.number().to_string(),
            "service": incident.service,
            "status_text": status_text,
            "root_cause": incident.root_cause,
            "action": incident.current_action,
            "eta": incident.eta,
            "impact": incident.impact,
            "silent": silent,
            "last_update": incident.last_update_at.map(hhmm),
            "commander": incident.commander,
            "next_update": next.map_or_else(|| "no scheduled updates".to_string(), |at| format!("{} UTC", hhmm(at))),
            "roles": roles,
        }),
    )
}

/// Seed 002's "✅ RESOLVED" post.
pub fn resolved(templates: &Templates, incident: &Incident) -> Result<String, TemplateError> {
    let resolved_at = incident.resolved_at.unwrap_or(incident.declared_at);
    templates.render(
        "resolved",
        &json!({
            "now": hhmm(resolved_at),
            "number": incident.number().to_string(),
            "service": incident.service,
            "duration": human_span(resolved_at - incident.declared_at),
            "root_cause": incident.root_cause,
            "resolution": incident.resolution,
            "impact": incident.impact,
            "resolved_by": incident.resolved_by.as_deref().unwrap_or(&incident.commander),
            "resolved_by_person": super::blocks::is_person(incident.resolved_by.as_deref().unwrap_or(&incident.commander)),
            "commander": incident.commander,
        }),
    )
}

/// Seed 002's executive summary for leadership.
pub fn summary(
    templates: &Templates,
    config: &FileConfig,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Result<String, TemplateError> {
    let severity = incident.severity();
    templates.render(
        "summary",
        &json!({
            "now": hhmm(now),
            "number": incident.number().to_string(),
            "service": incident.service,
            "severity": severity.as_str(),
            "severity_label": severity.label(),
            "impact": incident.impact,
            "duration": human_span(incident.resolved_at.unwrap_or(now) - incident.declared_at),
            "resolved": incident.is_resolved(),
            "status": incident.status,
            "root_cause": incident.root_cause,
            "action": incident.current_action,
            "eta": incident.eta,
            "commander": incident.commander,
            "war_room_url": config.war_room_url,
        }),
    )
}

/// The seed's validation checklist, posted after resolution.
pub fn validation_checklist(templates: &Templates, incident: &Incident) -> Result<String, TemplateError> {
    templates.render("validation_checklist", &json!({ "number": incident.number().to_string() }))
}

/// `/incident status`: the current state at a glance.
pub fn status(incident: &Incident, statuspage: Option<&str>, now: DateTime<Utc>) -> String {
    let esc = crate::templates::escape_mrkdwn;
    let mut lines = vec![format!(
        "*{}* {} `{}` — {}",
        incident.number(),
        incident.severity(),
        incident.service,
        esc(&incident.title)
    )];
    let status = match &incident.status_text {
        Some(text) => format!("{} — {}", incident.status, esc(text)),
        None => incident.status.clone(),
    };
    lines.push(format!(
        "*Status:* {status} · *IC:* <@{}> · *Duration:* {}",
        incident.commander,
        human_span(incident.resolved_at.unwrap_or(now) - incident.declared_at)
    ));
    lines.push(match (incident.acknowledged_at, &incident.acknowledged_by) {
        (Some(at), Some(by)) => format!("*Acknowledged* by <@{by}> at {} UTC", hhmm(at)),
        _ => "*Not acknowledged yet*".to_string(),
    });
    if let Some(cause) = &incident.root_cause {
        lines.push(format!("*Root cause:* {}", esc(cause)));
    }
    if let Some(action) = &incident.current_action {
        lines.push(format!("*Action:* {}", esc(action)));
    }
    if let Some(eta) = &incident.eta {
        lines.push(format!("*ETA:* {}", esc(eta)));
    }
    lines.push(match (incident.resolved_at, incident.next_update_at) {
        (Some(at), _) => format!("*Resolved* at {} UTC", hhmm(at)),
        (None, Some(next)) => format!("*Next update:* {} UTC", hhmm(next)),
        (None, None) => "*Next update:* none scheduled".to_string(),
    });
    if let Some(line) = statuspage {
        lines.push(format!("*Status page:* {line}"));
    }
    lines.join("\n")
}
