//! Slack's Block Kit limits, as Slack enforces them: a message or a modal that breaks one, or
//! that holds a block or an element type Slack does not know, is refused with `invalid_blocks`
//! (or `msg_too_long` for a message's text), so every test that posts also checks what it posted.
//! (<https://api.slack.com/reference/block-kit/blocks>, `.../block-elements`, `.../surfaces/modals`.)
//!
//! These are the sandbox's own copy of Slack's numbers, not `crate::slack::limits`: the sandbox
//! stands in for Slack, so it must not agree with warroom by construction. A block of a known
//! type that breaks none of them is also read as slack-morphism's `SlackBlock`: one whose body is
//! not its type's shape (a button without text, a select whose options are not objects) is
//! refused, as Slack refuses it.

use std::collections::HashSet;

use serde_json::Value;
use slack_morphism::blocks::{SlackBlock, SlackView};

pub const MAX_TEXT: usize = 40_000;
pub const MAX_BLOCKS: usize = 50;
pub const MAX_MODAL_BLOCKS: usize = 100;
pub const MAX_SECTION_TEXT: usize = 3000;
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
pub const MAX_HEADER_TEXT: usize = 150;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_BUTTON_VALUE: usize = 2000;
pub const MAX_ID: usize = 255;
pub const MAX_OPTIONS: usize = 100;
pub const MAX_OPTION_TEXT: usize = 75;
pub const MAX_OPTION_VALUE: usize = 150;
pub const MAX_MODAL_TITLE: usize = 24;
pub const MAX_LABEL: usize = 2000;
pub const MAX_PLACEHOLDER: usize = 150;
pub const MAX_PRIVATE_METADATA: usize = 3000;
/// A confirm dialog's title, text and button labels.
pub const MAX_CONFIRM_TITLE: usize = 100;
pub const MAX_CONFIRM_TEXT: usize = 300;
pub const MAX_CONFIRM_BUTTON: usize = 30;

const BLOCK_TYPES: &[&str] =
    &["section", "header", "context", "actions", "divider", "image", "input", "rich_text", "file", "video"];
const ELEMENT_TYPES: &[&str] = &[
    "button",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "plain_text_input",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "overflow",
    "image",
    "email_text_input",
    "number_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
];

/// Slack's answer to a message `text` over 40,000 characters (`msg_too_long`).
pub fn text_problem(text: &Value) -> Option<String> {
    let len = text.as_str().map_or(0, |t| t.chars().count());
    (len > MAX_TEXT).then(|| format!("the text is {len} characters, over {MAX_TEXT}"))
}

/// What is wrong with a message's `blocks` (nothing: they are fine).
pub fn problems(blocks: &Value) -> Vec<String> {
    blocks_problems(blocks, MAX_BLOCKS, "a message")
}

/// What is wrong with a modal (`views.open`, `views.update`, `views.push`).
pub fn view_problems(view: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if view["type"] != "modal" {
        found.push(format!("the view's type is {}, not modal", view["type"]));
    }
    match view["title"]["text"].as_str() {
        None => found.push("a modal needs a title".into()),
        Some(_) => found.extend(plain(usize::MAX, "the title", &view["title"], MAX_MODAL_TITLE)),
    }
    for (key, what) in [("submit", "the submit button"), ("close", "the close button")] {
        if !view[key].is_null() {
            found.extend(plain(usize::MAX, what, &view[key], MAX_MODAL_TITLE));
        }
    }
    found.extend(over(usize::MAX, "the callback_id", &view["callback_id"], MAX_ID));
    found.extend(over(usize::MAX, "the private_metadata", &view["private_metadata"], MAX_PRIVATE_METADATA));
    if !view["blocks"].is_array() {
        found.push("a modal needs blocks".into());
    }
    found.extend(blocks_problems(&view["blocks"], MAX_MODAL_BLOCKS, "a modal"));
    if found.is_empty() && serde_json::from_value::<SlackView>(view.clone()).is_err() {
        found.push("the view is not a well-formed modal".into());
    }
    found
}

fn blocks_problems(blocks: &Value, max: usize, surface: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Some(blocks) = blocks.as_array() else { return found };
    if blocks.len() > max {
        found.push(format!("{} blocks: {surface} holds at most {max}", blocks.len()));
    }
    let mut block_ids = HashSet::new();
    for (n, block) in blocks.iter().enumerate() {
        let before = found.len();
        let too_long = |what: &str, text: &Value, max: usize| over(n, what, text, max);
        if let Some(id) = block["block_id"].as_str() {
            found.extend(too_long("block_id", &block["block_id"], MAX_ID));
            if !block_ids.insert(id.to_string()) {
                found.push(format!("block {n}: block_id `{id}` is used twice"));
            }
        }
        let elements = block["elements"].as_array().map_or(&[][..], Vec::as_slice);
        match block["type"].as_str().unwrap_or_default() {
            "section" => {
                found.extend(too_long("the text", &block["text"]["text"], MAX_SECTION_TEXT));
                let fields = block["fields"].as_array().map_or(&[][..], Vec::as_slice);
                if fields.len() > MAX_SECTION_FIELDS {
                    found.push(format!("block {n}: {} fields, over {MAX_SECTION_FIELDS}", fields.len()));
                }
                for field in fields {
                    found.extend(too_long("a field", &field["text"], MAX_FIELD_TEXT));
                }
                if block["text"].is_null() && fields.is_empty() {
                    found.push(format!("block {n}: a section needs text or fields"));
                }
                if block["accessory"].is_object() {
                    found.extend(element_problems(n, &block["accessory"]));
                }
            }
            "header" => found.extend(plain(n, "the header", &block["text"], MAX_HEADER_TEXT)),
            "context" => {
                if elements.len() > MAX_CONTEXT_ELEMENTS {
                    found.push(format!("block {n}: {} context elements, over {MAX_CONTEXT_ELEMENTS}", elements.len()));
                }
                for element in elements {
                    match element["type"].as_str().unwrap_or_default() {
                        "mrkdwn" | "plain_text" => {
                            found.extend(too_long("a context text", &element["text"], MAX_SECTION_TEXT))
                        }
                        "image" => {}
                        other => found.push(format!("block {n}: unknown context element type `{other}`")),
                    }
                }
            }
            "actions" => {
                if elements.len() > MAX_ACTIONS_ELEMENTS {
                    found.push(format!("block {n}: {} elements, over {MAX_ACTIONS_ELEMENTS}", elements.len()));
                }
                for element in elements {
                    found.extend(element_problems(n, element));
                }
            }
            "input" => {
                found.extend(plain(n, "an input's label", &block["label"], MAX_LABEL));
                if !block["hint"].is_null() {
                    found.extend(plain(n, "an input's hint", &block["hint"], MAX_LABEL));
                }
                found.extend(element_problems(n, &block["element"]));
            }
            known if BLOCK_TYPES.contains(&known) => {}
            other => found.push(format!("block {n}: unknown block type `{other}`")),
        }
        if found.len() == before {
            found.extend(shape_problem(n, block));
        }
    }
    found
}

/// A block of a known type whose body slack-morphism cannot read as that type (it reads as
/// `SlackBlock::Unknown` then, rather than failing).
fn shape_problem(n: usize, block: &Value) -> Option<String> {
    match serde_json::from_value::<SlackBlock>(block.clone()) {
        Ok(SlackBlock::Unknown(_)) | Err(_) => {
            Some(format!("block {n}: not a well-formed `{}` block", block["type"].as_str().unwrap_or_default()))
        }
        Ok(_) => None,
    }
}

fn element_problems(n: usize, element: &Value) -> Vec<String> {
    let kind = element["type"].as_str().unwrap_or_default();
    if !ELEMENT_TYPES.contains(&kind) {
        return vec![format!("block {n}: unknown element type `{kind}`")];
    }
    let mut found: Vec<String> = over(n, "an action_id", &element["action_id"], MAX_ID).into_iter().collect();
    if !element["placeholder"].is_null() {
        found.extend(plain(n, "a placeholder", &element["placeholder"], MAX_PLACEHOLDER));
    }
    if kind == "button" {
        found.extend(plain(n, "a button's text", &element["text"], MAX_BUTTON_TEXT));
        found.extend(over(n, "a button's value", &element["value"], MAX_BUTTON_VALUE));
    }
    let confirm = &element["confirm"];
    if confirm.is_object() {
        found.extend(plain(n, "a confirm's title", &confirm["title"], MAX_CONFIRM_TITLE));
        found.extend(over(n, "a confirm's text", &confirm["text"]["text"], MAX_CONFIRM_TEXT));
        found.extend(plain(n, "a confirm's confirm", &confirm["confirm"], MAX_CONFIRM_BUTTON));
        found.extend(plain(n, "a confirm's deny", &confirm["deny"], MAX_CONFIRM_BUTTON));
    }
    if kind.ends_with("static_select") || kind == "overflow" || kind == "checkboxes" || kind == "radio_buttons" {
        let options = element["options"].as_array().map_or(&[][..], Vec::as_slice);
        let groups = element["option_groups"].as_array().map_or(&[][..], Vec::as_slice);
        if options.len() > MAX_OPTIONS {
            found.push(format!("block {n}: {} options, over {MAX_OPTIONS}", options.len()));
        }
        if groups.len() > MAX_OPTIONS {
            found.push(format!("block {n}: {} option groups, over {MAX_OPTIONS}", groups.len()));
        }
        let grouped = groups.iter().flat_map(|g| g["options"].as_array().map_or(&[][..], Vec::as_slice));
        for group in groups {
            let count = group["options"].as_array().map_or(0, Vec::len);
            if count > MAX_OPTIONS {
                found.push(format!("block {n}: an option group holds {count} options, over {MAX_OPTIONS}"));
            }
        }
        for option in options.iter().chain(grouped).chain(std::iter::once(&element["initial_option"])) {
            if option.is_null() {
                continue;
            }
            found.extend(over(n, "an option's text", &option["text"]["text"], MAX_OPTION_TEXT));
            found.extend(over(n, "an option's value", &option["value"], MAX_OPTION_VALUE));
        }
    }
    found
}

/// A `plain_text` object of at most `max` characters.
fn plain(n: usize, what: &str, object: &Value, max: usize) -> Vec<String> {
    let mut found = Vec::new();
    if object["type"] != "plain_text" {
        found.push(format!("{}{what} must be plain_text", at(n)));
    }
    found.extend(over(n, what, &object["text"], max));
    found
}

/// "block 3: the text is 3012 characters, over 3000", when it is.
fn over(n: usize, what: &str, text: &Value, max: usize) -> Option<String> {
    let len = text.as_str().map_or(0, |t| t.chars().count());
    (len > max).then(|| format!("{}{what} is {len} characters, over {max}", at(n)))
}

fn at(n: usize) -> String {
    if n == usize::MAX {
        String::new()
    } else {
        format!("block {n}: ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_limit_is_told() {
        let button = json!({ "type": "button", "action_id": "a".repeat(256), "value": "v".repeat(2001),
                             "text": { "type": "plain_text", "text": "x".repeat(76) } });
        let blocks = json!([
            { "type": "section", "block_id": "b", "text": { "type": "mrkdwn", "text": "t".repeat(3001) }, "accessory": button },
            { "type": "section", "block_id": "b", "text": { "type": "mrkdwn", "text": "ok" } },
        ]);
        let found = problems(&blocks);
        assert_eq!(found.len(), 5, "{found:?}");
        let many: Vec<Value> = (0..51).map(|_| json!({ "type": "divider" })).collect();
        assert_eq!(problems(&Value::Array(many)), ["51 blocks: a message holds at most 50"]);
        assert!(problems(&json!([{ "type": "section", "text": { "type": "mrkdwn", "text": "fine" } }])).is_empty());
    }

    #[test]
    fn a_known_block_of_the_wrong_shape_is_told_and_the_block_kit_references_examples_pass() {
        let button = json!({ "type": "button", "action_id": "a", "style": "green", "text": { "type": "plain_text", "text": "Go" } });
        let misshapen = json!([{ "type": "actions", "elements": [button] },
                             { "type": "section", "text": { "type": "mrkdwn", "text": "ok" },
                               "accessory": { "type": "static_select", "action_id": "s", "options": ["a", "b"] } }]);
        assert_eq!(
            problems(&misshapen),
            ["block 0: not a well-formed `actions` block", "block 1: not a well-formed `section` block"]
        );
        // From Slack's Block Kit reference: each block as the docs show it.
        let examples = json!([
            { "type": "header", "text": { "type": "plain_text", "text": "Budget Performance", "emoji": true } },
            { "type": "divider" },
            { "type": "section", "text": { "type": "mrkdwn", "text": "A message *with some bold text*." },
              "fields": [{ "type": "mrkdwn", "text": "*Type:*\nPaid time off" }],
              "accessory": { "type": "image", "image_url": "https://example.com/a.png", "alt_text": "a" } },
            { "type": "context", "elements": [{ "type": "image", "image_url": "https://example.com/a.png", "alt_text": "a" },
                                              { "type": "plain_text", "text": "Author: K A Applegate", "emoji": true }] },
            { "type": "actions", "block_id": "actions1", "elements": [
                { "type": "static_select", "placeholder": { "type": "plain_text", "text": "Which witch?" }, "action_id": "select_2",
                  "options": [{ "text": { "type": "plain_text", "text": "Matilda" }, "value": "matilda" }] },
                { "type": "button", "text": { "type": "plain_text", "text": "Cancel" }, "value": "cancel", "action_id": "button_1" }] },
            { "type": "input", "label": { "type": "plain_text", "text": "Label" }, "hint": { "type": "plain_text", "text": "Hint" },
              "element": { "type": "checkboxes", "action_id": "c", "options": [{ "text": { "type": "mrkdwn", "text": "*a*" }, "value": "a" }] } },
            { "type": "rich_text", "elements": [{ "type": "rich_text_section", "elements": [{ "type": "text", "text": "Hello" }] }] },
        ]);
        assert!(problems(&examples).is_empty(), "{:?}", problems(&examples));
        let title = json!({ "type": "plain_text", "text": "Modal" });
        let modal = json!({ "type": "modal", "title": title, "blocks": examples, "private_metadata": 42 });
        assert_eq!(view_problems(&modal), ["the view is not a well-formed modal"]);
        let modal = json!({ "type": "modal", "title": title, "blocks": modal["blocks"], "clear_on_close": true });
        assert!(view_problems(&modal).is_empty(), "{:?}", view_problems(&modal));
    }

    #[test]
    fn unknown_types_and_modal_limits_are_told() {
        let blocks = json!([{ "type": "sektion" }, { "type": "actions", "elements": [{ "type": "buton" }] },
                            { "type": "header", "text": { "type": "mrkdwn", "text": "h" } }]);
        assert_eq!(problems(&blocks).len(), 3, "{:?}", problems(&blocks));
        let option =
            |i: usize| json!({ "text": { "type": "plain_text", "text": format!("o{i}") }, "value": format!("{i}") });
        let select = json!({ "type": "static_select", "action_id": "value", "options": (0..101).map(option).collect::<Vec<_>>() });
        let input = |i: usize| {
            json!({ "type": "input", "block_id": format!("b{i}"), "element": select,
                                        "label": { "type": "plain_text", "text": "L" } })
        };
        let view = json!({ "type": "modal", "title": { "type": "plain_text", "text": "t".repeat(25) },
                           "blocks": (0..101).map(input).collect::<Vec<_>>() });
        let found = view_problems(&view);
        assert!(found.iter().any(|p| p.contains("101 blocks: a modal holds at most 100")), "{found:?}");
        assert!(found.iter().any(|p| p == "the title is 25 characters, over 24"), "{found:?}");
        assert!(found.iter().any(|p| p == "block 0: 101 options, over 100"), "{found:?}");
        assert_eq!(text_problem(&json!("x".repeat(40_001))).unwrap(), "the text is 40001 characters, over 40000");
        assert!(text_problem(&json!("x".repeat(40_000))).is_none());
        let confirm = json!({ "title": { "type": "plain_text", "text": "Sure?" }, "text": { "type": "mrkdwn", "text": "t".repeat(301) },
                              "confirm": { "type": "plain_text", "text": "Yes" }, "deny": { "type": "plain_text", "text": "No" } });
        let button = json!({ "type": "button", "action_id": "a", "text": { "type": "plain_text", "text": "Go" }, "confirm": confirm });
        assert_eq!(
            problems(&json!([{ "type": "actions", "elements": [button] }])),
            ["block 0: a confirm's text is 301 characters, over 300"]
        );
    }
}
