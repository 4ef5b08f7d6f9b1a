//! Block Kit built in code around the rendered template text: the declaration message with its
//! buttons (the modals are in [`super::modals`]), on slack-morphism's types.

use chrono::{DateTime, Utc};
use serde_json::json;
use slack_morphism::blocks::{SlackBlock, SlackBlockButtonElement};

use super::kit;

use crate::config::FileConfig;
use crate::incident::roles::Holder;
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

/// The runbook checklist a declaration points to (posted after it in the incident channel).
#[derive(Debug, Clone, Copy)]
pub struct ChecklistLink<'a> {
    pub title: &'a str,
    pub steps: usize,
}

/// The declaration message: fallback text and blocks. `bot_user` is warroom's own Slack user:
/// an incident whose commander it is (declared by an alert or the API with no commander
/// configured) reads "unassigned". `roles` are the incident's roles and holders
/// (`incident::roles::current`); the commander has its own line.
pub fn declaration(
    templates: &Templates,
    config: &FileConfig,
    incident: &Incident,
    statuspage: Option<&str>,
    bot_user: Option<&str>,
    checklist: Option<ChecklistLink<'_>>,
    roles: &[Holder],
) -> Result<(String, Vec<SlackBlock>), TemplateError> {
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
        "roles": roles.iter().filter(|r| r.key != crate::config::COMMANDER).collect::<Vec<_>>(),
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
        let button = |action_id: &str, label: &str| kit::button(action_id, label, incident.id.to_string());
        let mut buttons = Vec::new();
        if incident.acknowledged_at.is_none() {
            buttons.push(kit::primary(button(ACTION_ACKNOWLEDGE, "Acknowledge")));
        }
        buttons.push(button(ACTION_POST_UPDATE, "Post update"));
        buttons.push(button(ACTION_DIAGNOSTICS, "Run diagnostics"));
        if !crate::escalation::ladder(config, severity).is_empty() {
            let confirm =
                kit::confirm("Escalate now?", "This pages the next escalation tier at once.", "Escalate", "Not yet");
            buttons.push(button(ACTION_ESCALATE, "Escalate now").with_confirm(confirm));
        }
        buttons.push(resolve_button(incident, "Resolve"));
        blocks.push(kit::actions(Some("incident_actions"), buttons));
    }
    if let Some(checklist) = checklist {
        let title = crate::templates::escape_mrkdwn(&checklist.title.chars().take(200).collect::<String>());
        let place = incident.channel_id.as_deref().map_or_else(|| "the incident channel".into(), |c| format!("<#{c}>"));
        let text = format!(
            "📋 *Runbook checklist:* {title} ({} steps) — posted in {place} after this message; `/incident runbook` posts it again.",
            checklist.steps
        );
        blocks.push(kit::section(Some("runbook_checklist"), text));
    }
    blocks.push(kit::context(format!("{} · declared by {}", incident.number(), who(&incident.declared_by))));
    Ok((fallback, blocks))
}

/// The Resolve button (opens the resolve modal), behind a confirm dialog: on the declaration,
/// and on the "alert resolved" prompt.
pub fn resolve_button(incident: &Incident, label: &str) -> SlackBlockButtonElement {
    let confirm = kit::confirm(
        format!("Resolve {}?", incident.number()),
        "This stops the scheduled updates and posts the resolution.",
        "Resolve",
        "Not yet",
    );
    kit::danger(kit::button(ACTION_RESOLVE, label, incident.id.to_string())).with_confirm(confirm)
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

pub use crate::duration::human_span;
