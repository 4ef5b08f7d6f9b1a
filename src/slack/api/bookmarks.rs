//! Channel bookmarks (`bookmarks.add`, `bookmarks.edit`, `bookmarks.list`; scopes
//! `bookmarks:write` and `bookmarks:read`) and the two links they point at that only Slack
//! knows: a message's permalink (`chat.getPermalink`) and a file's (`files.info`, `files:read`).
//!
//! slack-morphism 2.31 has no bookmarks methods, so those three go through the connector's
//! generic `http_post` (same pauses, metrics and errors) with the small types below; the two
//! permalinks use its typed methods.

use serde::Deserialize;
use serde_json::json;
use slack_morphism::prelude::*;

use super::{SlackClient, SlackError};
use crate::slack::connector::into_slack_error;

/// A channel bookmark as Slack describes it (the fields warroom reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Bookmark {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub link: String,
}

#[derive(Deserialize)]
struct One {
    bookmark: Bookmark,
}

#[derive(Deserialize)]
struct Many {
    #[serde(default)]
    bookmarks: Vec<Bookmark>,
}

fn read<T: serde::de::DeserializeOwned>(method: &str, answer: serde_json::Value) -> Result<T, SlackError> {
    // Slack said `ok: true` with a body of another shape: as unusable as a garbled answer (and
    // maybe carried out), so the caller looks before trying again.
    serde_json::from_value(answer).map_err(|_| SlackError::Http { method: method.into(), status: 200 })
}

impl SlackClient {
    /// Adds a link bookmark to `channel`.
    pub async fn bookmark_add(&self, channel: &str, title: &str, link: &str) -> Result<Bookmark, SlackError> {
        let method = "bookmarks.add";
        let body = json!({ "channel_id": channel, "title": title, "type": "link", "link": link });
        Ok(read::<One>(method, self.call(method, &body).await?)?.bookmark)
    }

    /// Points bookmark `id` of `channel` at `link` (and gives it `title`).
    pub async fn bookmark_edit(
        &self,
        channel: &str,
        id: &str,
        title: &str,
        link: &str,
    ) -> Result<Bookmark, SlackError> {
        let method = "bookmarks.edit";
        let body = json!({ "channel_id": channel, "bookmark_id": id, "title": title, "link": link });
        Ok(read::<One>(method, self.call(method, &body).await?)?.bookmark)
    }

    /// Every bookmark of `channel`.
    pub async fn bookmarks(&self, channel: &str) -> Result<Vec<Bookmark>, SlackError> {
        let method = "bookmarks.list";
        Ok(read::<Many>(method, self.call(method, &json!({ "channel_id": channel })).await?)?.bookmarks)
    }

    /// The permalink of message `ts` in `channel`.
    pub async fn permalink(&self, channel: &str, ts: &str) -> Result<String, SlackError> {
        let request = SlackApiChatGetPermalinkRequest::new(SlackChannelId(channel.into()), SlackTs(ts.into()));
        let answer =
            self.session().chat_get_permalink(&request).await.map_err(|e| into_slack_error("chat.getPermalink", e))?;
        Ok(answer.permalink.to_string())
    }

    /// The permalink of file `id`, when Slack gives one.
    pub async fn file_permalink(&self, id: &str) -> Result<Option<String>, SlackError> {
        let request = SlackApiFilesInfoRequest::new(SlackFileId(id.into()));
        let answer = self.session().files_info(&request).await.map_err(|e| into_slack_error("files.info", e))?;
        Ok(answer.file.permalink.map(|url| url.to_string()))
    }
}
