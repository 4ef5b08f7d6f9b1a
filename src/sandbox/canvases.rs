//! The sandbox's channel canvases (`conversations.canvases.create`, `canvases.edit`, and the
//! canvas in `conversations.info`'s `properties`) with Slack's request shapes and error codes,
//! and the plan's refusal on demand ([`Workspace::refuse_canvases`]).

use serde::Serialize;
use serde_json::{json, Value};

use super::{State, Workspace};

/// Slack's limit on a canvas's Markdown (1 MiB of characters).
const MARKDOWN_LIMIT: usize = 1_048_576;

/// A channel canvas.
#[derive(Debug, Clone, Serialize)]
pub struct Canvas {
    pub id: String,
    pub channel_id: String,
    pub title: String,
    pub markdown: String,
    /// How many `canvases.edit` calls changed it.
    pub edits: u32,
}

type MethodResult = Result<Value, &'static str>;

/// `document_content`: `{ "type": "markdown", "markdown": "..." }`.
fn markdown(content: &Value) -> Result<String, &'static str> {
    if content["type"] != "markdown" {
        return Err("invalid_arguments");
    }
    let text = content["markdown"].as_str().ok_or("invalid_arguments")?;
    if text.chars().count() > MARKDOWN_LIMIT {
        return Err("canvas_creation_failed");
    }
    Ok(text.to_string())
}

pub(super) fn create(s: &mut State, params: &Value) -> MethodResult {
    let id = params["channel_id"].as_str().filter(|c| !c.is_empty()).ok_or("invalid_arguments")?;
    let channel = s.channel(id).filter(|c| super::web_api::visible_to_bot(c)).ok_or("channel_not_found")?.id.clone();
    if let Some(code) = s.canvas_refusal {
        return Err(code);
    }
    if s.canvases.iter().any(|c| c.channel_id == channel) {
        return Err("channel_canvas_already_exists");
    }
    let markdown = match &params["document_content"] {
        Value::Null => String::new(),
        content => markdown(content)?,
    };
    let id = s.next_id("F");
    let title = params["title"].as_str().unwrap_or("").to_string();
    s.canvases.push(Canvas { id: id.clone(), channel_id: channel, title, markdown, edits: 0 });
    Ok(json!({ "canvas_id": id }))
}

pub(super) fn edit(s: &mut State, params: &Value) -> MethodResult {
    let id = params["canvas_id"].as_str().unwrap_or("");
    let changes = params["changes"].as_array().filter(|c| !c.is_empty()).ok_or("invalid_arguments")?;
    let canvas = s.canvases.iter_mut().find(|c| c.id == id).ok_or("canvas_not_found")?;
    for change in changes {
        let text = markdown(&change["document_content"])?;
        match change["operation"].as_str() {
            // Without a `section_id`, `replace` replaces the whole canvas.
            Some("replace") if change["section_id"].is_null() => canvas.markdown = text,
            Some("insert_at_end") => canvas.markdown.push_str(&text),
            Some("insert_at_start") => canvas.markdown.insert_str(0, &text),
            Some("replace" | "insert_after" | "insert_before" | "delete") => return Err("canvas_editing_failed"),
            _ => return Err("invalid_arguments"),
        }
    }
    canvas.edits += 1;
    Ok(json!({}))
}

/// `conversations.info`'s `properties.canvas` for `channel`, when it has a canvas.
pub(super) fn properties(s: &State, channel: &str) -> Option<Value> {
    let canvas = s.canvases.iter().find(|c| c.channel_id == channel)?;
    Some(json!({ "canvas": { "file_id": canvas.id, "is_empty": canvas.markdown.is_empty(),
                             "quip_thread_id": format!("Q{}", canvas.id) } }))
}

impl Workspace {
    /// The canvases of `channel` (a channel has one at most).
    pub fn canvases(&self, channel: &str) -> Vec<Canvas> {
        self.read(|s| s.canvases.iter().filter(|c| c.channel_id == channel).cloned().collect())
    }

    /// Gives `channel` a canvas made by a person (as if from Slack's canvas button).
    pub fn add_canvas_by_hand(&self, channel: &str, markdown: &str) -> String {
        self.with(|s| {
            let id = s.next_id("F");
            let channel = s.channel(channel).map_or_else(|| channel.to_string(), |c| c.id.clone());
            let canvas = Canvas {
                id: id.clone(),
                channel_id: channel,
                title: "Notes".into(),
                markdown: markdown.into(),
                edits: 0,
            };
            s.canvases.push(canvas);
            id
        })
    }

    /// From now on, `conversations.canvases.create` answers `code`, as a workspace whose plan
    /// or settings refuse channel canvases does (`team_tier_cannot_create_channel_canvases`,
    /// `canvas_disabled_user_team`, ...).
    pub fn refuse_canvases(&self, code: &'static str) {
        self.with(|s| s.canvas_refusal = Some(code));
    }
}
