//! Messages: post (with the metadata that names its job), find a post again, update, post an
//! ephemeral, pin, and read one message back.
//!
//! `conversations.history` is the one call that does not use slack-morphism's answer type: its
//! `SlackHistoryMessage` reads `metadata.event_payload` as string-to-string, and with
//! `include_all_metadata` Slack returns every app's metadata, whose payload values may be
//! numbers, lists or objects — one such message would make the whole page unreadable, and a
//! post of unknown outcome could never find itself again. So history goes through the
//! connector's generic `http_get` (same pauses, metrics and errors) into [`History`], which
//! keeps each message as JSON.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use slack_morphism::prelude::*;

use super::{blocks_of, SlackClient, SlackError, POST_EVENT_TYPE};
use crate::slack::connector::into_slack_error;

/// A page of `conversations.history`, each message as Slack sent it.
#[derive(Deserialize)]
struct History {
    #[serde(default)]
    messages: Vec<Value>,
    has_more: Option<bool>,
    response_metadata: Option<SlackResponseMetadata>,
}

/// A message's content from typed blocks (none: text only).
fn content(text: &str, blocks: &[SlackBlock]) -> SlackMessageContent {
    let content = SlackMessageContent::new().with_text(text.into());
    if blocks.is_empty() {
        content
    } else {
        content.with_blocks(blocks.to_vec())
    }
}

/// A message's content from blocks kept as JSON (a queued reply), refused before anything is
/// sent when they are not Block Kit.
fn json_content(method: &str, text: &str, blocks: &Value) -> Result<SlackMessageContent, SlackError> {
    Ok(SlackMessageContent::new().with_text(text.into()).opt_blocks(blocks_of(method, blocks)?))
}

impl SlackClient {
    /// Posts a message for job `job`, which the message's metadata names (so that a post whose
    /// answer was lost can be found again: [`Self::find_post`]); returns (channel id, ts).
    /// Use [`crate::jobs::post_once`] rather than this: it makes the post exactly once.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &[SlackBlock],
        job: i64,
    ) -> Result<(String, String), SlackError> {
        let method = "chat.postMessage";
        let metadata = SlackMessageMetadata::new(POST_EVENT_TYPE.into())
            .with_event_payload(HashMap::from([("job".to_string(), job.to_string())]));
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId(channel.into()),
            content(text, blocks).with_metadata(metadata),
        )
        .with_unfurl_links(false);
        let answer = self.session().chat_post_message(&request).await.map_err(|e| into_slack_error(method, e))?;
        Ok((answer.channel.0, answer.ts.0))
    }

    /// One page of `conversations.history` (see the module doc for why not slack-morphism's
    /// answer type).
    async fn history(&self, params: &[(&str, Option<&str>)]) -> Result<History, SlackError> {
        let method = "conversations.history";
        let params = params.to_vec();
        let session = self.session();
        session.http_session_api.http_get(method, &params, None).await.map_err(|e| into_slack_error(method, e))
    }

    /// The ts of the message job `job` posted in `channel` since `oldest`, if there is one
    /// (`conversations.history` with `include_all_metadata`, newest first, a few pages at most).
    pub async fn find_post(
        &self,
        channel: &str,
        job: i64,
        oldest: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, SlackError> {
        let (job, oldest) = (job.to_string(), format!("{}.000000", oldest.timestamp()));
        let mut cursor = String::new();
        // 10 pages of 200: far more than warroom and people post in a channel in the minutes a
        // post can stay uncertain.
        for _ in 0..10 {
            let params = [
                ("channel", Some(channel)),
                ("oldest", Some(oldest.as_str())),
                ("include_all_metadata", Some("true")),
                ("limit", Some("200")),
                ("cursor", Some(cursor.as_str()).filter(|c| !c.is_empty())),
            ];
            let page = self.history(&params).await?;
            let mut ours = page.messages.iter().filter(|m| {
                m["metadata"]["event_type"] == POST_EVENT_TYPE && m["metadata"]["event_payload"]["job"] == job.as_str()
            });
            if let Some(ts) = ours.next().and_then(|m| m["ts"].as_str()) {
                return Ok(Some(ts.to_string()));
            }
            cursor = page.response_metadata.and_then(|m| m.next_cursor).map(|c| c.0).unwrap_or_default();
            if cursor.is_empty() || page.has_more == Some(false) {
                break;
            }
        }
        Ok(None)
    }

    /// The message `ts` of `channel` (`conversations.history`), if it is still there.
    pub async fn message(&self, channel: &str, ts: &str) -> Result<Option<Value>, SlackError> {
        let params = [
            ("channel", Some(channel)),
            ("latest", Some(ts)),
            ("oldest", Some(ts)),
            ("inclusive", Some("true")),
            ("limit", Some("1")),
        ];
        let page = self.history(&params).await?;
        Ok(page.messages.into_iter().next().filter(|m| m["ts"] == ts))
    }

    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<(), SlackError> {
        let method = "chat.update";
        let request =
            SlackApiChatUpdateRequest::new(SlackChannelId(channel.into()), content(text, blocks), SlackTs(ts.into()));
        self.session().chat_update(&request).await.map(drop).map_err(|e| into_slack_error(method, e))
    }

    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        let method = "chat.postEphemeral";
        let request = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.into()),
            SlackUserId(user.into()),
            json_content(method, text, blocks)?,
        );
        self.session().chat_post_ephemeral(&request).await.map(drop).map_err(|e| into_slack_error(method, e))
    }

    /// Pins a message; a message already pinned is not an error.
    pub async fn pin(&self, channel: &str, ts: &str) -> Result<(), SlackError> {
        let request = SlackApiPinsAddRequest::new(SlackChannelId(channel.into()), SlackTs(ts.into()));
        match self.session().pins_add(&request).await.map_err(|e| into_slack_error("pins.add", e)) {
            Err(e) if e.code() == Some("already_pinned") => Ok(()),
            other => other.map(drop),
        }
    }
}
