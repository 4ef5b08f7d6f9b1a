//! The Slack Web API client: slack-morphism's session methods and its request and response
//! types, carried by warroom's own connector ([`super::connector`]: the configured base URL,
//! the shared `Retry-After` pauses, metrics, and the distinction the job queue needs between
//! errors worth retrying and errors that are final, and between a call never sent and one that
//! may have been carried out).
//!
//! Blocks and views come in as JSON (`&serde_json::Value`, what the builders make) and are read
//! into slack-morphism's `SlackBlock`s and `SlackView` here; what does not read is a final
//! [`SlackError::Invalid`], never sent.
//!
//! Where slack-morphism's types do not fit, the call goes through the connector's generic
//! `http_get`/`http_post` with a small type of ours, and says why where it does
//! (`conversations.history`, in [`messages`]). The `response_url` answer and the bytes sent
//! to an upload URL are plain reqwest ([`files`]).

mod bookmarks;
mod canvases;
mod channels;
pub mod error;
mod files;
mod messages;
mod users;

use std::sync::Arc;

use serde_json::Value;
use slack_morphism::prelude::*;
use slack_morphism::SlackClient as Morphism;
use tokio::sync::OnceCell;

pub use bookmarks::Bookmark;
pub use canvases::{canvas_refusal, CANVAS_REFUSALS};
pub use error::SlackError;

use super::connector::{into_slack_error, Connector};
use crate::secret::Secret;

/// `metadata.event_type` of every message warroom posts; `event_payload.job` names the job.
pub const POST_EVENT_TYPE: &str = "warroom_post";

/// The `method` of errors in sending a file's bytes to its upload URL.
pub const FILE_UPLOAD: &str = "file upload";

/// A channel as the Web API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub creator: Option<String>,
}

/// A Slack Web API client bound to one bot token.
#[derive(Debug, Clone)]
pub struct SlackClient {
    /// slack-morphism's client on warroom's connector (with the pauses, once given).
    morphism: Morphism<Connector>,
    http: reqwest::Client,
    base_url: String,
    /// slack-morphism's token type prints only the token's length.
    token: SlackApiToken,
    bot_user: Arc<OnceCell<String>>,
    /// Counts calls by method and outcome (a private registry until [`Self::with_metrics`]).
    metrics: Arc<crate::metrics::Metrics>,
    /// Slack's `Retry-After` pauses, shared by every replica (none until [`Self::with_pauses`]).
    pauses: Option<super::pauses::Pauses>,
}

impl SlackClient {
    pub fn new(http: reqwest::Client, base_url: impl Into<String>, token: Secret) -> Self {
        let (base_url, metrics): (String, Arc<crate::metrics::Metrics>) = (base_url.into(), Default::default());
        let connector = Connector::new(http.clone(), &base_url, metrics.clone(), None);
        Self {
            morphism: Morphism::new(connector),
            http,
            base_url,
            token: SlackApiToken::new(SlackApiTokenValue(token.expose().to_string())),
            bot_user: Default::default(),
            metrics,
            pauses: None,
        }
    }

    /// The same client on a connector rebuilt with the current metrics and pauses.
    fn rebuilt(self) -> Self {
        let connector = Connector::new(self.http.clone(), &self.base_url, self.metrics.clone(), self.pauses.clone());
        Self { morphism: Morphism::new(connector), ..self }
    }

    /// Honours and records Slack's `Retry-After` through `pauses` (Postgres), for every replica.
    pub fn with_pauses(self, pauses: super::pauses::Pauses) -> Self {
        Self { pauses: Some(pauses), ..self }.rebuilt()
    }

    /// Counts this client's calls in `metrics`.
    pub fn with_metrics(self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics, ..self }.rebuilt()
    }

    /// A slack-morphism session with the bot token.
    fn session(&self) -> SlackClientSession<'_, Connector> {
        self.morphism.open_session(&self.token)
    }

    /// Calls `method` with a JSON body and returns Slack's JSON answer when `ok` is true (the
    /// connector's generic path, for a method slack-morphism's types do not fit).
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        let session = self.session();
        session.http_session_api.http_post(method, body, None).await.map_err(|e| into_slack_error(method, e))
    }

    /// Calls a read method with its arguments in the query string, as slack-morphism sends reads
    /// (Slack takes JSON bodies only for some methods), and returns Slack's JSON answer when `ok`
    /// is true.
    pub async fn call_form(&self, method: &str, form: &[(&str, &str)]) -> Result<Value, SlackError> {
        let params: Vec<(&str, Option<&str>)> = form.iter().map(|(k, v)| (*k, Some(*v))).collect();
        let session = self.session();
        session.http_session_api.http_get(method, &params, None).await.map_err(|e| into_slack_error(method, e))
    }

    /// A Socket Mode WebSocket URL (`apps.connections.open`, authorised by the app-level
    /// `xapp-` token, not the bot token). Each URL is good for one connection. Not paused
    /// through Postgres: the listener waits out Slack's `Retry-After` itself.
    pub async fn open_connection(&self, app_token: &Secret) -> Result<String, SlackError> {
        let connector = Connector::new(self.http.clone(), &self.base_url, self.metrics.clone(), None);
        let client = Morphism::new(connector);
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose().to_string()));
        let answer = client
            .open_session(&token)
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await
            .map_err(|e| into_slack_error("apps.connections.open", e))?;
        Ok(answer.url.0.to_string())
    }

    /// The bot's own user id (`auth.test`), asked once.
    pub async fn bot_user_id(&self) -> Result<String, SlackError> {
        self.bot_user
            .get_or_try_init(|| async {
                let answer = self.session().auth_test().await.map_err(|e| into_slack_error("auth.test", e))?;
                Ok(answer.user_id.0)
            })
            .await
            .cloned()
    }

    /// The bot's own user id if [`Self::bot_user_id`] has asked for it already (for a request,
    /// which must not wait for Slack).
    pub fn known_bot_user_id(&self) -> Option<String> {
        self.bot_user.get().cloned()
    }

    /// A user group by handle: its id (for `<!subteam^ID>` mentions) and members; `None` when
    /// the workspace has no such group.
    pub async fn usergroup(&self, handle: &str) -> Result<Option<(String, Vec<String>)>, SlackError> {
        let session = self.session();
        let groups = session
            .usergroups_list(&SlackApiUserGroupsListRequest::new())
            .await
            .map_err(|e| into_slack_error("usergroups.list", e))?;
        let Some(group) = groups.usergroups.into_iter().find(|g| g.handle == handle) else { return Ok(None) };
        let members = session
            .usergroups_users_list(&SlackApiUserGroupsUsersListRequest::new(group.id.clone()))
            .await
            .map_err(|e| into_slack_error("usergroups.users.list", e))?;
        Ok(Some((group.id.0, members.users.into_iter().map(|u| u.0).collect())))
    }

    /// The direct message channel with `user` (opened if need be).
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        let request = SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId(user.into())]);
        let answer =
            self.session().conversations_open(&request).await.map_err(|e| into_slack_error("conversations.open", e))?;
        Ok(answer.channel.id.0)
    }

    /// Opens a modal; returns the id Slack gave the view.
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<String, SlackError> {
        let method = "views.open";
        let view: SlackView = serde_json::from_value(view.clone()).map_err(|e| SlackError::Invalid {
            method: method.into(),
            message: format!("the modal is not a Block Kit view: {e}"),
        })?;
        let request = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger_id.into()), view);
        let answer = self.session().views_open(&request).await.map_err(|e| into_slack_error(method, e))?;
        Ok(answer.view.state_params.id.0)
    }
}

/// `blocks` (JSON: an array, or null for none) as slack-morphism's blocks, or the final error
/// of a request that cannot be made. Blocks of a type slack-morphism does not model are kept
/// as they are (its `SlackBlock::Unknown`).
fn blocks_of(method: &str, blocks: &Value) -> Result<Option<Vec<SlackBlock>>, SlackError> {
    if blocks.is_null() {
        return Ok(None);
    }
    serde_json::from_value(blocks.clone()).map(Some).map_err(|e| SlackError::Invalid {
        method: method.into(),
        message: format!("the blocks are not a list of Block Kit blocks: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_that_are_not_block_kit_are_a_final_error_not_a_panic() {
        let refused = blocks_of("chat.postMessage", &json!({ "type": "section" })).unwrap_err();
        assert!(matches!(refused, SlackError::Invalid { .. }), "{refused:?}");
        assert!(!refused.is_retryable() && !refused.outcome_unknown());
        assert!(refused.to_string().starts_with("chat.postMessage not sent: the blocks are not a list"), "{refused}");
        assert_eq!(blocks_of("chat.postMessage", &Value::Null).unwrap(), None);
    }

    #[test]
    fn blocks_read_into_slack_morphism_types_go_out_as_they_came() {
        let blocks = json!([
            { "type": "section", "text": { "type": "mrkdwn", "text": "*SEV1* api down" } },
            { "type": "actions", "block_id": "b1", "elements": [
                { "type": "button", "action_id": "ack", "text": { "type": "plain_text", "text": "Ack" }, "value": "7" } ] },
            // A block type Slack adds later: kept as it is.
            { "type": "hologram", "beam": 3 }
        ]);
        let read = blocks_of("chat.postMessage", &blocks).unwrap().unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), blocks);
    }
}
