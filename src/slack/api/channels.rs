//! Channels: create, find by name, members, invite, topic, join, archive and unarchive (slack-morphism's
//! `conversations.*` requests and answers).

use slack_morphism::prelude::*;

use super::{Channel, SlackClient, SlackError};
use crate::slack::connector::into_slack_error;

fn channel_of(info: SlackChannelInfo) -> Channel {
    Channel { id: info.id.0, name: info.name.unwrap_or_default(), creator: info.creator.map(|c| c.0) }
}

/// The cursor to ask for next: none once Slack says there is no more.
fn next(metadata: Option<SlackResponseMetadata>) -> Option<SlackCursorId> {
    metadata.and_then(|m| m.next_cursor).filter(|c| !c.0.is_empty())
}

impl SlackClient {
    /// Creates a channel; a `private` one only its members see (a private incident's).
    pub async fn create_channel(&self, name: &str, private: bool) -> Result<Channel, SlackError> {
        let request = SlackApiConversationsCreateRequest::new(name.into()).with_is_private(private);
        let answer = self
            .session()
            .conversations_create(&request)
            .await
            .map_err(|e| into_slack_error("conversations.create", e))?;
        Ok(channel_of(answer.channel))
    }

    /// Finds a channel by name, paging through `conversations.list`: the public ones, and the
    /// private ones warroom is in (a private incident's channel it created).
    pub async fn find_channel(&self, name: &str) -> Result<Option<Channel>, SlackError> {
        let session = self.session();
        let mut cursor = None;
        for _ in 0..50 {
            let request = SlackApiConversationsListRequest::new()
                .with_limit(1000)
                .with_exclude_archived(true)
                .with_types(vec![SlackConversationType::Public, SlackConversationType::Private])
                .opt_cursor(cursor);
            let page =
                session.conversations_list(&request).await.map_err(|e| into_slack_error("conversations.list", e))?;
            if let Some(found) = page.channels.into_iter().find(|c| c.name.as_deref() == Some(name)) {
                return Ok(Some(channel_of(found)));
            }
            cursor = next(page.response_metadata);
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Every member of `channel` (`conversations.members`, page by page).
    pub async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        let session = self.session();
        let (mut members, mut cursor) = (Vec::new(), None);
        // 200 pages of 1,000: beyond any channel Slack lets a workspace have.
        for _ in 0..200 {
            let request = SlackApiConversationsMembersRequest::new()
                .with_channel(SlackChannelId(channel.into()))
                .with_limit(1000)
                .opt_cursor(cursor);
            let page = session
                .conversations_members(&request)
                .await
                .map_err(|e| into_slack_error("conversations.members", e))?;
            members.extend(page.members.into_iter().map(|m| m.0));
            cursor = next(page.response_metadata);
            if cursor.is_none() {
                break;
            }
        }
        Ok(members)
    }

    /// Invites one user; being in the channel already is not an error.
    pub async fn invite(&self, channel: &str, user: &str) -> Result<(), SlackError> {
        let request =
            SlackApiConversationsInviteRequest::new(SlackChannelId(channel.into()), vec![SlackUserId(user.into())]);
        match self
            .session()
            .conversations_invite(&request)
            .await
            .map_err(|e| into_slack_error("conversations.invite", e))
        {
            Err(e) if matches!(e.code(), Some("already_in_channel" | "cant_invite_self")) => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), SlackError> {
        let request = SlackApiConversationsSetTopicRequest::new(SlackChannelId(channel.into()), topic.into());
        self.session()
            .conversations_set_topic(&request)
            .await
            .map(drop)
            .map_err(|e| into_slack_error("conversations.setTopic", e))
    }

    /// Joins a public channel (after `not_in_channel`).
    pub async fn join(&self, channel: &str) -> Result<(), SlackError> {
        let request = SlackApiConversationsJoinRequest::new(SlackChannelId(channel.into()));
        self.session()
            .conversations_join(&request)
            .await
            .map(drop)
            .map_err(|e| into_slack_error("conversations.join", e))
    }

    /// Archives a channel (public or private); one already archived is done (`already_archived`).
    pub async fn archive(&self, channel: &str) -> Result<(), SlackError> {
        let request = SlackApiConversationsArchiveRequest::new(SlackChannelId(channel.into()));
        match self
            .session()
            .conversations_archive(&request)
            .await
            .map_err(|e| into_slack_error("conversations.archive", e))
        {
            Err(e) if e.code() == Some("already_archived") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Unarchives a channel; one not archived is done (`not_archived`). Not through
    /// slack-morphism: its `conversations_unarchive` (2.31) posts to `conversations.setTopic`.
    pub async fn unarchive(&self, channel: &str) -> Result<(), SlackError> {
        match self.call("conversations.unarchive", &serde_json::json!({ "channel": channel })).await {
            Err(e) if e.code() == Some("not_archived") => Ok(()),
            other => other.map(drop),
        }
    }
}
