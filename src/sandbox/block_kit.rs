//! Slack's Block Kit limits for messages, as Slack enforces them: a message that breaks one is
//! refused with `invalid_blocks`, so every test that posts also checks what it posted.
//! (<https://api.slack.com/reference/block-kit/blocks>, `.../block-elements`.)

use std::collections::HashSet;

use serde_json::Value;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT: usize = 3000;
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
pub const MAX_HEADER_TEXT: usize = 150;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_BUTTON_VALUE: usize = 2000;
pub const MAX_ID: usize = 255;

/// What is wrong with a message's `blocks` (nothing: they are fine).
pub fn problems(blocks: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(blocks) = blocks.as_array() else { return found };
    if blocks.len() > MAX_BLOCKS {
        found.push(format!("{} blocks: a message holds at most {MAX_BLOCKS}", blocks.len()));
    }
    let mut block_ids = HashSet::new();
    for (n, block) in blocks.iter().enumerate() {
        let too_long = |what: &str, text: &Value, max: usize| over(n, what, text, max);
        if let Some(id) = block["block_id"].as_str() {
            found.extend(too_long("block_id", &block["block_id"], MAX_ID));
            if !block_ids.insert(id.to_string()) {
                found.push(format!("block {n}: block_id `{id}` is used twice"));
            }
        }
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
                found.extend(element_problems(n, &block["accessory"]));
            }
            "header" => found.extend(too_long("the header", &block["text"]["text"], MAX_HEADER_TEXT)),
            "context" => {
                let elements = block["elements"].as_array().map_or(&[][..], Vec::as_slice);
                if elements.len() > MAX_CONTEXT_ELEMENTS {
                    found.push(format!("block {n}: {} context elements, over {MAX_CONTEXT_ELEMENTS}", elements.len()));
                }
                for element in elements {
                    found.extend(too_long("a context text", &element["text"], MAX_SECTION_TEXT));
                }
            }
            "actions" => {
                let elements = block["elements"].as_array().map_or(&[][..], Vec::as_slice);
                if elements.len() > MAX_ACTIONS_ELEMENTS {
                    found.push(format!("block {n}: {} elements, over {MAX_ACTIONS_ELEMENTS}", elements.len()));
                }
                for element in elements {
                    found.extend(element_problems(n, element));
                }
            }
            _ => {}
        }
    }
    found
}

fn element_problems(n: usize, element: &Value) -> Vec<String> {
    if element["type"] != "button" {
        return Vec::new();
    }
    [
        ("a button's text", &element["text"]["text"], MAX_BUTTON_TEXT),
        ("a button's value", &element["value"], MAX_BUTTON_VALUE),
        ("an action_id", &element["action_id"], MAX_ID),
    ]
    .into_iter()
    .filter_map(|(what, text, max)| over(n, what, text, max))
    .collect()
}

/// "block 3: the text is 3012 characters, over 3000", when it is.
fn over(n: usize, what: &str, text: &Value, max: usize) -> Option<String> {
    let len = text.as_str().map_or(0, |t| t.chars().count());
    (len > max).then(|| format!("block {n}: {what} is {len} characters, over {max}"))
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
}
