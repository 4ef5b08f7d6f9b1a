//! The channel canvas (`conversations.canvases.create`, `canvases.edit`; scope `canvases:write`)
//! and how to find it again (`conversations.info`'s `properties.canvas.file_id`, scope
//! `channels:read` / `groups:read`). slack-morphism 2.31 has none of these: they go through the
//! connector's generic calls (same pauses, metrics and errors).

use serde_json::json;

use super::{SlackClient, SlackError};

/// Slack's error codes that mean the workspace's plan, its settings or the token cannot have a
/// channel canvas, with what each means for the person reading the channel. Trying again will
/// not help.
pub const CANVAS_REFUSALS: &[(&str, &str)] = &[
    ("team_tier_cannot_create_channel_canvases", "this workspace's Slack plan has no channel canvases"),
    (
        "free_team_canvas_tab_already_exists",
        "this workspace's Slack plan allows one canvas tab in a channel, and it is taken",
    ),
    ("canvas_disabled_user_team", "canvases are turned off in this workspace"),
    ("not_allowed_token_type", "Slack does not let this app's token create canvases"),
    ("restricted_action", "a workspace setting does not let warroom create canvases in this channel"),
    ("missing_scope", "the app is installed without the `canvases:write` scope"),
    // Not the plan's, but as final: a canvas someone made is theirs, not warroom's to replace.
    (
        "channel_canvas_already_exists",
        "the channel already has a canvas that warroom did not make, and it leaves it as it is",
    ),
];

/// What a canvas refusal means, when `code` is one.
pub fn canvas_refusal(code: &str) -> Option<&'static str> {
    CANVAS_REFUSALS.iter().find(|(c, _)| *c == code).map(|(_, why)| *why)
}

impl SlackClient {
    /// Creates `channel`'s canvas with `markdown` as its content; returns its id.
    pub async fn create_channel_canvas(
        &self,
        channel: &str,
        title: &str,
        markdown: &str,
    ) -> Result<String, SlackError> {
        let method = "conversations.canvases.create";
        let body = json!({ "channel_id": channel, "title": title,
                           "document_content": { "type": "markdown", "markdown": markdown } });
        let answer = self.call(method, &body).await?;
        // `ok: true` without an id: as unusable as a garbled answer (and maybe carried out).
        answer["canvas_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| SlackError::Http { method: method.into(), status: 200 })
    }

    /// Replaces the whole content of canvas `id` with `markdown`.
    pub async fn replace_canvas(&self, id: &str, markdown: &str) -> Result<(), SlackError> {
        let body = json!({ "canvas_id": id, "changes": [{ "operation": "replace",
                           "document_content": { "type": "markdown", "markdown": markdown } }] });
        self.call("canvases.edit", &body).await.map(|_| ())
    }

    /// The id of `channel`'s canvas, if it has one.
    pub async fn channel_canvas(&self, channel: &str) -> Result<Option<String>, SlackError> {
        let answer = self.call_form("conversations.info", &[("channel", channel)]).await?;
        Ok(answer["channel"]["properties"]["canvas"]["file_id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string))
    }
}
