//! The Slack Web API client: JSON over HTTPS (plain HTTP to loopback for the sandbox), with the
//! distinction the job queue needs between errors worth retrying and errors that are final.
//! Error texts never carry a URL: a `response_url` or an upload URL is a one-time credential,
//! and these texts go to logs, `jobs.last_error`, the channel and the timeline.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::secret::Secret;

/// Why a Web API call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429: come back after `retry_after`.
    #[error("{method} was rate limited (retry after {}s)", retry_after.as_secs())]
    RateLimited { method: String, retry_after: Duration },
    /// Slack answered `ok: false`.
    #[error("{method} failed: {error}")]
    Api { method: String, error: String },
    /// Slack answered with an HTTP error status or a body that is not Slack's.
    #[error("{method} failed: HTTP {status}")]
    Http { method: String, status: u16 },
    /// The request never reached Slack (the connection could not be made).
    #[error("{method} failed: {message}")]
    Transport { method: String, message: String },
    /// The request was sent and no usable answer came (a timeout, the connection lost while
    /// waiting): Slack may have carried it out.
    #[error("{method} failed: {message}")]
    Unanswered { method: String, message: String },
}

impl SlackError {
    /// Slack's own "try again" errors, 5xx and network failures are retried; the rest are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } | Self::Unanswered { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            Self::Api { error, .. } => is_slack_internal(error),
        }
    }

    /// Whether Slack may have carried the call out although it did not say so: a timeout, a
    /// connection lost after sending, a 5xx, an answer that is not Slack's, Slack's own internal
    /// errors. A post after such an attempt first looks for itself in the channel's history.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Unanswered { .. } => true,
            Self::Http { status, .. } => *status >= 500 || (200..300).contains(status),
            Self::Api { error, .. } => is_slack_internal(error),
            Self::RateLimited { .. } | Self::Transport { .. } => false,
        }
    }

    /// The method the failed call was for.
    pub fn method(&self) -> &str {
        match self {
            Self::RateLimited { method, .. }
            | Self::Api { method, .. }
            | Self::Http { method, .. }
            | Self::Transport { method, .. }
            | Self::Unanswered { method, .. } => method,
        }
    }

    /// The `error` code Slack returned, if it returned one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(error),
            Self::RateLimited { .. } => Some("ratelimited"),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The failure's class as a metric label (Slack's own error codes are too many to label by).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "ratelimited",
            Self::Api { .. } => "error",
            Self::Http { status, .. } => crate::metrics::status_outcome(*status),
            Self::Transport { .. } => "transport",
            Self::Unanswered { .. } => "unanswered",
        }
    }
}

/// Slack's own "something went wrong on our side" codes: retried, and of unknown outcome.
fn is_slack_internal(error: &str) -> bool {
    matches!(error, "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout")
}

/// `metadata.event_type` of every message warroom posts; `event_payload.job` names the job.
pub const POST_EVENT_TYPE: &str = "warroom_post";

/// Failed before anything was sent (no connection) or after (a timeout, a reset): only the
/// latter may have reached Slack.
fn transport_error(method: &str, e: reqwest::Error) -> SlackError {
    let never_sent = e.is_connect() || e.is_builder();
    let message = url_free_message(e);
    if never_sent {
        SlackError::Transport { method: method.into(), message }
    } else {
        SlackError::Unanswered { method: method.into(), message }
    }
}

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
    http: reqwest::Client,
    base_url: String,
    token: Secret,
    bot_user: std::sync::Arc<OnceCell<String>>,
    /// Counts calls by method and outcome (a private registry until [`Self::with_metrics`]).
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Slack's `Retry-After` pauses, shared by every replica (none until [`Self::with_pauses`]).
    pauses: Option<super::pauses::Pauses>,
}

impl SlackClient {
    pub fn new(http: reqwest::Client, base_url: impl Into<String>, token: Secret) -> Self {
        let (bot_user, metrics) = Default::default();
        Self { http, base_url: base_url.into(), token, bot_user, metrics, pauses: None }
    }

    /// Honours and records Slack's `Retry-After` through `pauses` (Postgres), for every replica.
    pub fn with_pauses(self, pauses: super::pauses::Pauses) -> Self {
        Self { pauses: Some(pauses), ..self }
    }

    /// Counts this client's calls in `metrics`.
    pub fn with_metrics(self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// Calls `method` with a JSON body and returns Slack's JSON answer when `ok` is true.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        let request = self.http.post(format!("{}/{method}", self.base_url)).bearer_auth(self.token.expose()).json(body);
        let channel = if method == "chat.postMessage" { body["channel"].as_str() } else { None };
        self.paused_send(method, channel, request).await
    }

    /// Calls `method` form-encoded (the file upload methods take no JSON).
    pub async fn call_form(&self, method: &str, form: &[(&str, &str)]) -> Result<Value, SlackError> {
        let request = self.http.post(format!("{}/{method}", self.base_url)).bearer_auth(self.token.expose()).form(form);
        self.paused_send(method, None, request).await
    }

    /// [`Self::send`] unless `method` (for posts: `channel`) is paused by an earlier 429 — then
    /// nothing is sent and the answer is the rest of the pause; a 429 starts a pause.
    async fn paused_send(
        &self,
        method: &str,
        channel: Option<&str>,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let Some(pauses) = &self.pauses else { return self.send(method, request).await };
        if let Some(retry_after) = pauses.remaining(method, channel).await {
            self.metrics.slack_call(method, "paused");
            return Err(SlackError::RateLimited { method: method.into(), retry_after });
        }
        let result = self.send(method, request).await;
        if let Err(SlackError::RateLimited { retry_after, .. }) = &result {
            pauses.pause(method, channel, *retry_after).await;
        }
        result
    }

    async fn send(&self, method: &str, request: reqwest::RequestBuilder) -> Result<Value, SlackError> {
        let result = self.send_uncounted(method, request).await;
        self.metrics.slack_call(method, result.as_ref().map_or_else(SlackError::outcome, |_| "ok"));
        result
    }

    async fn send_uncounted(&self, method: &str, request: reqwest::RequestBuilder) -> Result<Value, SlackError> {
        let response = request.send().await.map_err(|e| transport_error(method, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            return Err(SlackError::RateLimited {
                method: method.into(),
                retry_after: Duration::from_secs(retry_after),
            });
        }
        if !status.is_success() {
            return Err(SlackError::Http { method: method.into(), status: status.as_u16() });
        }
        // The answer cut off midway (a reset, a timeout) is no answer; a whole one that is not
        // JSON is not Slack's.
        let bytes = response.bytes().await.map_err(|e| transport_error(method, e))?;
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| SlackError::Http { method: method.into(), status: status.as_u16() })?;
        if answer["ok"].as_bool() == Some(true) {
            Ok(answer)
        } else {
            let error = answer["error"].as_str().unwrap_or("unknown_error").to_string();
            Err(SlackError::Api { method: method.into(), error })
        }
    }

    /// A Socket Mode WebSocket URL (`apps.connections.open`, authorised by the app-level
    /// `xapp-` token, not the bot token). Each URL is good for one connection.
    pub async fn open_connection(&self, app_token: &Secret) -> Result<String, SlackError> {
        let method = "apps.connections.open";
        let request =
            self.http.post(format!("{}/{method}", self.base_url)).bearer_auth(app_token.expose()).form(&[("", ""); 0]);
        let answer = self.send(method, request).await?;
        answer["url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| SlackError::Api { method: method.into(), error: "no url in the answer".into() })
    }

    /// The bot's own user id (`auth.test`), asked once.
    pub async fn bot_user_id(&self) -> Result<String, SlackError> {
        self.bot_user
            .get_or_try_init(|| async {
                let answer = self.call("auth.test", &json!({})).await?;
                Ok(answer["user_id"].as_str().unwrap_or_default().to_string())
            })
            .await
            .cloned()
    }

    pub async fn create_channel(&self, name: &str) -> Result<Channel, SlackError> {
        let answer = self.call("conversations.create", &json!({ "name": name, "is_private": false })).await?;
        Ok(channel_of(&answer["channel"]))
    }

    /// Finds a public channel by name, paging through `conversations.list`.
    pub async fn find_channel(&self, name: &str) -> Result<Option<Channel>, SlackError> {
        let mut cursor = String::new();
        for _ in 0..50 {
            let answer = self
                .call(
                    "conversations.list",
                    &json!({ "limit": 1000, "cursor": cursor, "exclude_archived": true, "types": "public_channel" }),
                )
                .await?;
            let channels = answer["channels"].as_array().cloned().unwrap_or_default();
            if let Some(found) = channels.iter().find(|c| c["name"] == name) {
                return Ok(Some(channel_of(found)));
            }
            cursor = answer["response_metadata"]["next_cursor"].as_str().unwrap_or("").to_string();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Every member of `channel` (`conversations.members`, page by page).
    pub async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        let (mut members, mut cursor) = (Vec::new(), String::new());
        // 200 pages of 1,000: beyond any channel Slack lets a workspace have.
        for _ in 0..200 {
            let answer = self
                .call("conversations.members", &json!({ "channel": channel, "limit": 1000, "cursor": cursor }))
                .await?;
            let page = answer["members"].as_array().into_iter().flatten();
            members.extend(page.filter_map(|m| m.as_str().map(str::to_string)));
            cursor = answer["response_metadata"]["next_cursor"].as_str().unwrap_or("").to_string();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(members)
    }

    /// Invites one user; being in the channel already is not an error.
    pub async fn invite(&self, channel: &str, user: &str) -> Result<(), SlackError> {
        match self.call("conversations.invite", &json!({ "channel": channel, "users": user })).await {
            Err(e) if matches!(e.code(), Some("already_in_channel" | "cant_invite_self")) => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), SlackError> {
        self.call("conversations.setTopic", &json!({ "channel": channel, "topic": topic })).await.map(drop)
    }

    /// Posts a message for job `job`, which the message's metadata names (so that a post whose
    /// answer was lost can be found again: [`Self::find_post`]); returns (channel id, ts).
    /// Use [`crate::jobs::post_once`] rather than this: it makes the post exactly once.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
        job: i64,
    ) -> Result<(String, String), SlackError> {
        let metadata = json!({ "event_type": POST_EVENT_TYPE, "event_payload": { "job": job.to_string() } });
        let body =
            json!({ "channel": channel, "text": text, "blocks": blocks, "unfurl_links": false, "metadata": metadata });
        let answer = self.call("chat.postMessage", &body).await?;
        Ok((
            answer["channel"].as_str().unwrap_or(channel).to_string(),
            answer["ts"].as_str().unwrap_or_default().to_string(),
        ))
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
            let params = json!({ "channel": channel, "oldest": oldest, "include_all_metadata": true,
                                 "limit": 200, "cursor": cursor });
            let answer = self.call("conversations.history", &params).await?;
            let messages = answer["messages"].as_array().into_iter().flatten();
            let mut ours = messages.filter(|m| {
                m["metadata"]["event_type"] == POST_EVENT_TYPE && m["metadata"]["event_payload"]["job"] == job.as_str()
            });
            if let Some(ts) = ours.next().and_then(|m| m["ts"].as_str()) {
                return Ok(Some(ts.to_string()));
            }
            cursor = answer["response_metadata"]["next_cursor"].as_str().unwrap_or("").to_string();
            if cursor.is_empty() || answer["has_more"] == false {
                break;
            }
        }
        Ok(None)
    }

    /// Joins a public channel (after `not_in_channel`).
    pub async fn join(&self, channel: &str) -> Result<(), SlackError> {
        self.call("conversations.join", &json!({ "channel": channel })).await.map(drop)
    }

    pub async fn update_message(&self, channel: &str, ts: &str, text: &str, blocks: &Value) -> Result<(), SlackError> {
        self.call("chat.update", &json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks }))
            .await
            .map(drop)
    }

    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        let body = json!({ "channel": channel, "user": user, "text": text, "blocks": blocks });
        self.call("chat.postEphemeral", &body).await.map(drop)
    }

    /// Pins a message; a message already pinned is not an error.
    pub async fn pin(&self, channel: &str, ts: &str) -> Result<(), SlackError> {
        match self.call("pins.add", &json!({ "channel": channel, "timestamp": ts })).await {
            Err(e) if e.code() == Some("already_pinned") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Shares a file in `channel` the current way (`files.upload` is retired): ask for an upload
    /// URL, send the bytes there, then complete the upload into the channel. The content is
    /// taken, not copied: the request body is the caller's buffer.
    pub async fn upload_file(
        &self,
        channel: &str,
        filename: &str,
        title: &str,
        content: Vec<u8>,
        comment: &str,
    ) -> Result<String, SlackError> {
        let length = content.len().to_string();
        let answer =
            self.call_form("files.getUploadURLExternal", &[("filename", filename), ("length", &length)]).await?;
        let (Some(url), Some(file_id)) = (answer["upload_url"].as_str(), answer["file_id"].as_str()) else {
            return Err(SlackError::Api { method: "files.getUploadURLExternal".into(), error: "no upload_url".into() });
        };
        let method = FILE_UPLOAD;
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(content)
            .send()
            .await
            .map_err(|e| transport(method, e))?;
        if !sent.status().is_success() {
            return Err(SlackError::Http { method: method.into(), status: sent.status().as_u16() });
        }
        let files = json!([{ "id": file_id, "title": title }]).to_string();
        let form = [("files", files.as_str()), ("channel_id", channel), ("initial_comment", comment)];
        self.call_form("files.completeUploadExternal", &form).await?;
        Ok(file_id.to_string())
    }

    /// A user group by handle: its id (for `<!subteam^ID>` mentions) and members; `None` when
    /// the workspace has no such group.
    pub async fn usergroup(&self, handle: &str) -> Result<Option<(String, Vec<String>)>, SlackError> {
        let groups = self.call("usergroups.list", &json!({})).await?;
        let found = groups["usergroups"].as_array().into_iter().flatten().find(|g| g["handle"] == handle);
        let Some(id) = found.and_then(|g| g["id"].as_str()).map(str::to_string) else { return Ok(None) };
        let members = self.call("usergroups.users.list", &json!({ "usergroup": id })).await?;
        let users = members["users"].as_array().into_iter().flatten().filter_map(|u| u.as_str().map(str::to_string));
        Ok(Some((id, users.collect())))
    }

    /// The message `ts` of `channel` (`conversations.history`), if it is still there.
    pub async fn message(&self, channel: &str, ts: &str) -> Result<Option<Value>, SlackError> {
        let params = json!({ "channel": channel, "latest": ts, "oldest": ts, "inclusive": true, "limit": 1 });
        let answer = self.call("conversations.history", &params).await?;
        Ok(answer["messages"].as_array().and_then(|m| m.first()).filter(|m| m["ts"] == ts).cloned())
    }

    /// The direct message channel with `user` (opened if need be).
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        let answer = self.call("conversations.open", &json!({ "users": user })).await?;
        answer["channel"]["id"].as_str().map(str::to_string).ok_or_else(|| SlackError::Api {
            method: "conversations.open".into(),
            error: "no channel in the answer".into(),
        })
    }

    /// Opens a modal; returns the id Slack gave the view.
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<String, SlackError> {
        let answer = self.call("views.open", &json!({ "trigger_id": trigger_id, "view": view })).await?;
        answer["view"]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| SlackError::Api { method: "views.open".into(), error: "no view id in the answer".into() })
    }

    /// Answers through a `response_url` (valid 30 minutes after Slack sent it).
    pub async fn respond(&self, response_url: &str, text: &str, blocks: &Value) -> Result<(), SlackError> {
        let method = "response_url";
        let result = self.respond_uncounted(response_url, text, blocks).await;
        self.metrics.slack_call(method, result.as_ref().map_or_else(SlackError::outcome, |_| "ok"));
        result
    }

    async fn respond_uncounted(&self, response_url: &str, text: &str, blocks: &Value) -> Result<(), SlackError> {
        let method = "response_url";
        let response = self
            .http
            .post(response_url)
            .json(&json!({ "response_type": "ephemeral", "replace_original": false, "text": text, "blocks": blocks }))
            .send()
            .await
            .map_err(|e| transport(method, e))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            429 => Err(SlackError::RateLimited { method: method.into(), retry_after: Duration::from_secs(1) }),
            status => Err(SlackError::Http { method: method.into(), status }),
        }
    }
}

/// A request that got no answer, said without its URL (reqwest's own text has it) but with its
/// causes ("connection refused", "operation timed out").
fn transport(method: &str, error: reqwest::Error) -> SlackError {
    SlackError::Transport { method: method.into(), message: url_free_message(error) }
}

/// What went wrong, with its causes, but never the URL (a `response_url` or an upload URL is a
/// credential for as long as it lives).
fn url_free_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(e) = cause {
        message.push_str(": ");
        message.push_str(&e.to_string());
        cause = e.source();
    }
    // The causes are the HTTP stack's and the OS's, which name no URL; should one ever do, it
    // goes too.
    let message = message.split(' ').map(|word| if word.contains("://") { "<url>" } else { word }).collect::<Vec<_>>();
    message.join(" ")
}

fn channel_of(value: &Value) -> Channel {
    Channel {
        id: value["id"].as_str().unwrap_or_default().to_string(),
        name: value["name"].as_str().unwrap_or_default().to_string(),
        creator: value["creator"].as_str().map(str::to_string),
    }
}
