//! The modals warroom opens: declare, update and resolve (their callback ids are in
//! [`super::blocks`]), as slack-morphism views. Their submissions are read in
//! [`super::submissions`], by block id and the `value` action id.

use slack_morphism::blocks::{
    SlackBlock, SlackBlockCheckboxesElement, SlackBlockChoiceItem, SlackBlockPlainTextOnly,
    SlackBlockStaticSelectElement, SlackBlockUsersSelectElement, SlackView,
};
use slack_morphism::SlackActionId;

use super::blocks::{VIEW_DECLARE, VIEW_RESOLVE, VIEW_UPDATE};
use super::kit::{self, input, text_input};
use super::limits;
use crate::incident::store::Incident;
use crate::incident::Severity;

/// Block id of the declare modal's typed service (beside the list of configured ones).
pub const SERVICE_TYPED: &str = "service_other";

/// Block id of the declare modal's "Private incident" box (its one option's value is the same).
pub const PRIVATE: &str = "private";

/// The declare modal's box for a private incident (read by its `value` action id).
fn private_box() -> SlackBlockCheckboxesElement {
    let label = "Private: a private channel, only its number announced, no status page";
    let option = SlackBlockChoiceItem::new(limits::plain(label, limits::MAX_OPTION_TEXT).into(), PRIVATE.to_string());
    SlackBlockCheckboxesElement::new(vec![option]).with_action_id(SlackActionId("value".into()))
}

/// A select of `options` (at most [`limits::MAX_OPTIONS`]), read by its `value` action id.
fn select(options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>>) -> SlackBlockStaticSelectElement {
    SlackBlockStaticSelectElement::new().with_action_id(SlackActionId("value".into())).with_options(options)
}

/// The modal behind "Post update" and `/incident update`, filled with the current values.
pub fn update_modal(incident: &Incident) -> SlackView {
    let option = |s: &str| kit::option(kit::plain(s), s);
    let statuses = ["investigating", "identified", "monitoring"];
    let current = statuses.iter().find(|s| **s == incident.status).copied().unwrap_or("investigating");
    let status = select(statuses.iter().map(|s| option(s)).collect()).with_initial_option(option(current));
    let blocks = vec![
        input("status", "Status", status, false),
        input("status_text", "In words", text_input("Still down", incident.status_text.as_deref(), false), true),
        input("cause", "Root cause", text_input("OOM kill (exit 137)", incident.root_cause.as_deref(), false), true),
        input(
            "action",
            "Action",
            text_input("Raising memory limit 2G to 4G", incident.current_action.as_deref(), false),
            true,
        ),
        input("eta", "ETA", text_input("3 min", incident.eta.as_deref(), false), true),
        input("impact", "Impact", text_input("All users affected", incident.impact.as_deref(), true), true),
    ];
    let title = format!("Update {}", incident.number());
    kit::modal(VIEW_UPDATE, incident.id.to_string(), title, "Post update", blocks.into_iter().map(Into::into).collect())
}

/// The modal behind "Resolve" and `/incident resolve`.
pub fn resolve_modal(incident: &Incident) -> SlackView {
    let cause = text_input("OOM kill due to a memory leak in v1.2.3", incident.root_cause.as_deref(), false);
    let blocks = vec![
        input("cause", "Root cause", cause, false),
        input("resolution", "Resolution", text_input("Raised the memory limit to 4G and restarted", None, true), false),
        input(
            "impact",
            "Impact",
            text_input("~2,400 failed requests, all users", incident.impact.as_deref(), true),
            true,
        ),
    ];
    let title = format!("Resolve {}", incident.number());
    kit::modal(VIEW_RESOLVE, incident.id.to_string(), title, "Resolve", blocks.into_iter().map(Into::into).collect())
}

/// The modal `/incident declare` opens. `private_metadata` carries the channel it came from.
/// With services configured, the service is picked from a list (Slack's limit: 100 options,
/// the first 100 by name) or typed in the field below it, which says how many are not listed.
/// `roles` (those other than the commander) each get an optional person picker after the
/// commander's.
pub fn declare_modal(origin_channel: &str, services: &[&str], roles: &[crate::config::Role]) -> SlackView {
    let option = |s: Severity| kit::option(kit::plain(format!("{s} ({})", s.label())), s.as_str());
    let severity = select(Severity::ALL.iter().map(|s| option(*s)).collect()).with_initial_option(option(Severity::P0));
    let commander = SlackBlockUsersSelectElement::new().with_action_id(SlackActionId("value".into()));
    let mut blocks = service_inputs(services);
    blocks.extend([
        input("severity", "Severity", severity, false).into(),
        input("summary", "Summary", text_input("Inference API returns 100% errors", None, false), false).into(),
        input("commander", "Incident Commander", commander, true).into(),
    ]);
    blocks.extend(crate::roles::modal::inputs(roles));
    blocks.push(input("impact", "Impact", text_input("100% of requests failing", None, true), true).into());
    blocks.push(input(PRIVATE, "Visibility", private_box(), true).into());
    kit::modal(VIEW_DECLARE, origin_channel, "Declare an incident", "Declare", blocks)
}

/// The declare modal's service: a text input, or a select of the configured services and a
/// text input for one not in it.
fn service_inputs(services: &[&str]) -> Vec<SlackBlock> {
    // A name Slack cannot carry as an option's value is typed instead.
    let listable: Vec<&str> = services.iter().copied().filter(|s| s.len() <= limits::MAX_OPTION_VALUE).collect();
    if listable.is_empty() {
        return vec![input("service", "Service", text_input("inference-gateway", None, false), false).into()];
    }
    let (listed, left_out) = limits::cap(&listable, limits::MAX_OPTIONS);
    let left_out = left_out + services.len() - listable.len();
    let options = listed.iter().map(|s| kit::option(limits::plain(s, limits::MAX_OPTION_TEXT), *s)).collect();
    let select = select(options).with_placeholder(kit::plain("Pick a service"));
    let hint = if left_out == 0 {
        "A service not in the list above".to_string()
    } else {
        format!(
            "{} are not in the list above (it holds {}): type the name here.",
            limits::more(left_out, "services"),
            listed.len()
        )
    };
    let typed = input(SERVICE_TYPED, "Or type the service", text_input("inference-gateway", None, false), true)
        .with_hint(limits::plain(&hint, 2000));
    vec![input("service", "Service", select, true).into(), typed.into()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The declare modal exactly as warroom sent it when it was written as JSON by hand.
    #[test]
    fn the_declare_modal_is_the_json_slack_was_always_sent() {
        let plain = |t: &str| json!({ "type": "plain_text", "text": t });
        let text = |placeholder: &str, multiline: bool| json!({ "type": "plain_text_input", "action_id": "value", "multiline": multiline, "placeholder": plain(placeholder) });
        let input = |id: &str, label: &str, element: serde_json::Value, optional: bool| json!({ "type": "input", "block_id": id, "optional": optional, "label": plain(label), "element": element });
        let severity = |s: Severity| json!({ "text": plain(&format!("{s} ({})", s.label())), "value": s.as_str() });
        let service = |s: &str| json!({ "text": plain(s), "value": s });
        let mut typed = input(SERVICE_TYPED, "Or type the service", text("inference-gateway", false), true);
        typed["hint"] = plain("A service not in the list above");
        let expected = json!({
            "type": "modal", "callback_id": VIEW_DECLARE, "private_metadata": "C0INCIDENTS",
            "title": plain("Declare an incident"), "submit": plain("Declare"), "close": plain("Cancel"),
            "blocks": [
                input("service", "Service", json!({ "type": "static_select", "action_id": "value",
                    "options": [service("api"), service("web")], "placeholder": plain("Pick a service") }), true),
                typed,
                input("severity", "Severity", json!({ "type": "static_select", "action_id": "value",
                    "initial_option": severity(Severity::P0), "options": Severity::ALL.iter().map(|s| severity(*s)).collect::<Vec<_>>() }), false),
                input("summary", "Summary", text("Inference API returns 100% errors", false), false),
                input("commander", "Incident Commander", json!({ "type": "users_select", "action_id": "value" }), true),
                input("impact", "Impact", text("100% of requests failing", true), true),
                input(PRIVATE, "Visibility", json!({ "type": "checkboxes", "action_id": "value", "options": [{
                    "text": plain("Private: a private channel, only its number announced, no status page"),
                    "value": "private" }] }), true),
            ],
        });
        assert_eq!(kit::json(&declare_modal("C0INCIDENTS", &["api", "web"], &[])), expected);
    }
}
