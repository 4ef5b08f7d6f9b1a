//! Block Kit on slack-morphism's types: the small constructors every message and modal warroom
//! sends is built from, and [`json`], where the typed blocks become the JSON the job queue
//! stores and the Web API client sends. Slack's limits are kept by the callers, through
//! [`super::limits`]; these only spell Slack's objects.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use slack_morphism::blocks::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement, SlackBlockButtonStyle,
    SlackBlockChoiceItem, SlackBlockConfirmItem, SlackBlockId, SlackBlockMarkDownText, SlackBlockPlainText,
    SlackBlockPlainTextInputElement, SlackBlockPlainTextOnly, SlackBlockText, SlackContextBlock,
    SlackContextBlockElement, SlackHeaderBlock, SlackInputBlock, SlackInputBlockElement, SlackModalView,
    SlackSectionBlock, SlackView, SlackViewSubmissionClearResponse, SlackViewSubmissionErrorsResponse,
    SlackViewSubmissionResponse,
};
use slack_morphism::{SlackActionId, SlackCallbackId};

/// A `plain_text` object (labels, titles, button texts).
pub fn plain(text: impl Into<String>) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(text.into()).into()
}

/// A `mrkdwn` text object.
pub fn mrkdwn(text: impl Into<String>) -> SlackBlockText {
    SlackBlockMarkDownText::new(text.into()).into()
}

/// A section of mrkdwn `text`, with a `block_id` when one is given.
pub fn section(block_id: Option<&str>, text: impl Into<String>) -> SlackBlock {
    SlackSectionBlock::new().opt_block_id(block_id.map(block)).with_text(mrkdwn(text)).into()
}

/// A section of mrkdwn `text` with a button beside it.
pub fn section_with(block_id: Option<&str>, text: impl Into<String>, button: SlackBlockButtonElement) -> SlackBlock {
    let section = SlackSectionBlock::new().opt_block_id(block_id.map(block)).with_text(mrkdwn(text));
    section.with_accessory(button.into()).into()
}

/// A header: large plain text at the top of a message (at most
/// [`super::limits::MAX_HEADER_TEXT`] characters).
pub fn header(text: impl Into<String>) -> SlackBlock {
    SlackHeaderBlock::new(plain(text)).into()
}

/// A context block of one mrkdwn element (footers, markers).
pub fn context(text: impl Into<String>) -> SlackBlock {
    let element: SlackContextBlockElement = SlackBlockMarkDownText::new(text.into()).into();
    SlackContextBlock::new(vec![element]).into()
}

/// An actions block (at most [`super::limits::MAX_ACTIONS_ELEMENTS`] elements).
pub fn actions(block_id: Option<&str>, buttons: Vec<SlackBlockButtonElement>) -> SlackBlock {
    let elements = buttons.into_iter().map(SlackActionBlockElement::from).collect();
    SlackActionsBlock::new(elements).opt_block_id(block_id.map(block)).into()
}

/// A button: what it says, the `action_id` warroom dispatches on and the `value` it carries.
pub fn button(action_id: &str, label: impl Into<String>, value: impl Into<String>) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(plain(label)).with_action_id(action(action_id)).with_value(value.into())
}

/// A green button: the step most people take.
pub fn primary(button: SlackBlockButtonElement) -> SlackBlockButtonElement {
    button.with_style(SlackBlockButtonStyle::Primary)
}

/// A red button: one that changes something that cannot be taken back.
pub fn danger(button: SlackBlockButtonElement) -> SlackBlockButtonElement {
    button.with_style(SlackBlockButtonStyle::Danger)
}

/// A confirm dialog: its title, its mrkdwn text, and the labels of its two buttons.
pub fn confirm(
    title: impl Into<String>,
    text: impl Into<String>,
    yes: impl Into<String>,
    no: impl Into<String>,
) -> SlackBlockConfirmItem {
    SlackBlockConfirmItem::new(plain(title), mrkdwn(text), plain(yes), plain(no))
}

/// An option of a select: the text shown and the value submitted.
pub fn option(
    text: SlackBlockPlainTextOnly,
    value: impl Into<String>,
) -> SlackBlockChoiceItem<SlackBlockPlainTextOnly> {
    SlackBlockChoiceItem::new(text, value.into())
}

/// An input block of a modal, `optional` said either way.
pub fn input(
    block_id: &str,
    label: &str,
    element: impl Into<SlackInputBlockElement>,
    optional: bool,
) -> SlackInputBlock {
    SlackInputBlock::new(plain(label), element.into()).with_block_id(block(block_id)).with_optional(optional)
}

/// A text input (`action_id` `value`, which the submissions read), `multiline` said either way.
pub fn text_input(placeholder: &str, initial: Option<&str>, multiline: bool) -> SlackBlockPlainTextInputElement {
    SlackBlockPlainTextInputElement::new()
        .with_action_id(action("value"))
        .with_multiline(multiline)
        .with_placeholder(plain(placeholder))
        .opt_initial_value(initial.map(str::to_string))
}

/// A modal with a submit and a Cancel button; `metadata` comes back in its submission.
pub fn modal(
    callback_id: &str,
    metadata: impl Into<String>,
    title: impl Into<String>,
    submit: &str,
    blocks: Vec<SlackBlock>,
) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(plain(title), blocks)
            .with_callback_id(SlackCallbackId(callback_id.into()))
            .with_private_metadata(metadata.into())
            .with_submit(plain(submit))
            .with_close(plain("Cancel")),
    )
}

/// The answer to a view submission that keeps the modal open with `errors` (block id →
/// message) shown under the fields.
pub fn submission_errors(errors: HashMap<String, String>) -> SlackViewSubmissionResponse {
    SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))
}

/// The answer to a view submission that closes the modal (and any under it).
pub fn submission_clear() -> SlackViewSubmissionResponse {
    SlackViewSubmissionResponse::Clear(SlackViewSubmissionClearResponse::new())
}

/// Typed Block Kit (blocks, a view, a response) as the JSON that is queued and sent. These
/// types are plain data with string keys: serializing them cannot fail.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).expect("Block Kit types serialize to JSON")
}

fn block(id: &str) -> SlackBlockId {
    SlackBlockId(id.into())
}

fn action(id: &str) -> SlackActionId {
    SlackActionId(id.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shapes of Slack's Block Kit reference (api.slack.com/reference/block-kit).
    #[test]
    fn the_constructors_spell_slacks_objects() {
        let red = danger(button("a.go", "Go", "42")).with_confirm(confirm("Sure?", "It *pages*.", "Yes", "No"));
        assert_eq!(
            json(&actions(Some("acts"), vec![red])),
            json!({ "type": "actions", "block_id": "acts", "elements": [{
                "type": "button", "action_id": "a.go", "value": "42", "style": "danger",
                "text": { "type": "plain_text", "text": "Go" },
                "confirm": { "title": { "type": "plain_text", "text": "Sure?" }, "text": { "type": "mrkdwn", "text": "It *pages*." },
                             "confirm": { "type": "plain_text", "text": "Yes" }, "deny": { "type": "plain_text", "text": "No" } },
            }] })
        );
        assert_eq!(
            json(&section(None, "*hi*")),
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": "*hi*" } })
        );
        assert_eq!(
            json(&context("fine print")),
            json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": "fine print" }] })
        );
        let field: SlackBlock = input("eta", "ETA", text_input("3 min", Some("soon"), false), true).into();
        assert_eq!(
            json(&modal("incident.update", "id-1", "Update INC-1", "Post update", vec![field])),
            json!({ "type": "modal", "callback_id": "incident.update", "private_metadata": "id-1",
                    "title": { "type": "plain_text", "text": "Update INC-1" },
                    "submit": { "type": "plain_text", "text": "Post update" }, "close": { "type": "plain_text", "text": "Cancel" },
                    "blocks": [{ "type": "input", "block_id": "eta", "optional": true, "label": { "type": "plain_text", "text": "ETA" },
                                 "element": { "type": "plain_text_input", "action_id": "value", "multiline": false,
                                              "placeholder": { "type": "plain_text", "text": "3 min" }, "initial_value": "soon" } }] })
        );
        let errors = HashMap::from([("eta".to_string(), "at most 500 characters".to_string())]);
        assert_eq!(
            json(&submission_errors(errors)),
            json!({ "response_action": "errors", "errors": { "eta": "at most 500 characters" } })
        );
        assert_eq!(json(&submission_clear()), json!({ "response_action": "clear" }));
    }
}
