//! Files (the current way: an upload URL, the bytes, then completing the upload into the
//! channel) and answers through a `response_url`.
//!
//! Two requests here are plain reqwest, not slack-morphism's: the bytes sent to the upload URL
//! and the answer posted to a `response_url`. Both URLs are credentials for as long as they
//! live, so neither may go where a URL is logged or named (the connector names a method by
//! its URL); neither takes the bot token (slack-morphism's `files_upload_via_url` sends the
//! session's token to the upload URL: its hyper connector's `http_post_uri_binary` sets the
//! authorization header, handing the bot token to whatever host an answer named); and neither
//! answers with the Web API's JSON envelope (the upload URL answers `OK - <length>` in plain
//! text), which slack-morphism's typed answers expect.

use std::time::Duration;

use serde_json::{json, Value};
use slack_morphism::prelude::*;

use super::error::transport;
use super::{SlackClient, SlackError, FILE_UPLOAD};
use crate::slack::connector::into_slack_error;

impl SlackClient {
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
        let session = self.session();
        let request = SlackApiFilesGetUploadUrlExternalRequest::new(filename.into(), content.len());
        let answer = session
            .get_upload_url_external(&request)
            .await
            .map_err(|e| into_slack_error("files.getUploadURLExternal", e))?;
        let (url, file_id) = (answer.upload_url.0, answer.file_id);
        let method = FILE_UPLOAD;
        let sent = self
            .http
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(content)
            .send()
            .await
            .map_err(|e| transport(method, e))?;
        if !sent.status().is_success() {
            return Err(SlackError::Http { method: method.into(), status: sent.status().as_u16() });
        }
        let files = vec![SlackApiFilesComplete::new(file_id.clone()).with_title(title.into())];
        let request = SlackApiFilesCompleteUploadExternalRequest::new(files)
            .with_channel_id(SlackChannelId(channel.into()))
            .with_initial_comment(comment.into());
        session
            .files_complete_upload_external(&request)
            .await
            .map_err(|e| into_slack_error("files.completeUploadExternal", e))?;
        Ok(file_id.0)
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
