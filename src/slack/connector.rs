//! slack-morphism's `SlackClientHttpConnector` on warroom's own reqwest client: slack-morphism
//! builds each Web API request from its typed request and reads the answer into its typed
//! response; this connector carries it, and keeps what the durable job queue relies on:
//!
//! - the configured base URL (`SLACK_API_URL`: https://slack.com/api, or the sandbox's plain
//!   http on loopback) instead of slack-morphism's fixed one;
//! - Slack's `Retry-After` shared by every replica through Postgres ([`Pauses`]): a paused
//!   method (for `chat.postMessage`, a paused channel, read from the serialized request) is not
//!   called at all, and a 429 starts a pause;
//! - a metric per method and outcome;
//! - the classification of failures ([`SlackError`]): a request never sent (no connection) is
//!   known not done, one sent without an answer (a timeout, a reset) may have been carried out.
//!
//! It never retries and never sleeps: retries are the job queue's, which knows whether a post
//! must first look for itself. Each failure travels through slack-morphism as a
//! `SlackClientError::SystemError` whose cause is the [`SlackError`]; [`into_slack_error`] takes
//! it back out unchanged.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use slack_morphism::errors::{SlackClientError, SlackClientSystemError};
use slack_morphism::multipart_form::FileMultipartData;
use slack_morphism::{ClientResult, SlackApiToken, SlackClientApiCallContext, SlackClientHttpConnector};
use slack_morphism::{SlackClientId, SlackClientSecret};
use url::Url;

use super::api::error::{transport_error, without_urls};
use super::api::SlackError;
use super::pauses::Pauses;
use crate::metrics::Metrics;

/// The connector: one per [`super::api::SlackClient`].
#[derive(Clone)]
pub struct Connector {
    http: reqwest::Client,
    /// `SLACK_API_URL` without a trailing `/`.
    base_url: String,
    metrics: Arc<Metrics>,
    pauses: Option<Pauses>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// The part of Slack's answer every method shares (`ok`, `error`, and what `ok: false` says
/// besides: `errors` are strings for most methods, objects for the validating ones).
#[derive(Deserialize)]
struct Envelope {
    ok: Option<bool>,
    error: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// The channel of a `chat.postMessage` (the pause Slack's limit is per channel).
#[derive(Deserialize)]
struct Target {
    channel: Option<String>,
}

impl Connector {
    pub fn new(http: reqwest::Client, base_url: &str, metrics: Arc<Metrics>, pauses: Option<Pauses>) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_string(), metrics, pauses }
    }

    /// [`Self::send`] unless `method` (for posts: `channel`) is paused by an earlier 429 — then
    /// nothing is sent and the answer is the rest of the pause; a 429 starts a pause.
    async fn paused_send<RS: DeserializeOwned>(
        &self,
        method: &str,
        channel: Option<&str>,
        request: reqwest::RequestBuilder,
    ) -> Result<RS, SlackError> {
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

    /// Sends once and counts the outcome.
    async fn send<RS: DeserializeOwned>(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<RS, SlackError> {
        let result = read(method, request).await;
        self.metrics.slack_call(method, result.as_ref().map_or_else(SlackError::outcome, |_| "ok"));
        result
    }

    fn authorised(&self, request: reqwest::RequestBuilder, token: Option<&SlackApiToken>) -> reqwest::RequestBuilder {
        match token {
            Some(token) => request.bearer_auth(&token.token_value.0),
            None => request,
        }
    }

    async fn get<RS: DeserializeOwned>(&self, uri: Url, token: Option<&SlackApiToken>) -> Result<RS, SlackError> {
        let method = method_of(&uri);
        let request = self.authorised(self.http.get(uri.as_str()), token);
        self.paused_send(&method, None, request).await
    }

    async fn post<RS: DeserializeOwned>(
        &self,
        uri: Url,
        body: Result<Vec<u8>, serde_json::Error>,
        token: Option<&SlackApiToken>,
    ) -> Result<RS, SlackError> {
        let method = method_of(&uri);
        let body = body.map_err(|e| invalid(&method, format!("the request is not JSON: {e}")))?;
        let channel = if method == "chat.postMessage" {
            serde_json::from_slice::<Target>(&body).ok().and_then(|t| t.channel)
        } else {
            None
        };
        // Slack warns `missing_charset` without the charset.
        let request = self
            .http
            .post(uri.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body);
        let request = self.authorised(request, token);
        self.paused_send(&method, channel.as_deref(), request).await
    }
}

/// Sends `request` and reads Slack's answer: 429 with its `Retry-After`, an HTTP error, an
/// answer cut off (no answer), one that is not Slack's or not the method's shape, `ok: false`,
/// or the typed answer.
async fn read<RS: DeserializeOwned>(method: &str, request: reqwest::RequestBuilder) -> Result<RS, SlackError> {
    let response = request.send().await.map_err(|e| transport_error(method, e))?;
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1);
        return Err(SlackError::RateLimited { method: method.into(), retry_after: Duration::from_secs(retry_after) });
    }
    if !status.is_success() {
        return Err(SlackError::Http { method: method.into(), status: status.as_u16() });
    }
    // The answer cut off midway (a reset, a timeout) is no answer; a whole one that is not
    // JSON is not Slack's.
    let bytes = response.bytes().await.map_err(|e| transport_error(method, e))?;
    answer(method, status.as_u16(), &bytes)
}

/// Slack's whole answer `bytes` (HTTP `status`) as the method's typed answer, or why not.
pub(crate) fn answer<RS: DeserializeOwned>(method: &str, status: u16, bytes: &[u8]) -> Result<RS, SlackError> {
    let not_slacks = || SlackError::Http { method: method.into(), status };
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|_| not_slacks())?;
    if envelope.ok != Some(true) {
        let errors = envelope
            .errors
            .into_iter()
            .map(|e| match e {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect();
        let error = envelope.error.unwrap_or_else(|| "unknown_error".into());
        return Err(SlackError::Api { method: method.into(), error, errors });
    }
    if !envelope.warnings.is_empty() {
        tracing::warn!(method, warnings = ?envelope.warnings, "Slack answered with warnings");
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde's text names the field and the position, never the content.
        tracing::warn!(method, "Slack's answer does not have the shape slack-morphism expects: {e}");
        not_slacks()
    })
}

/// The Web API method a URL calls: its last path segment (`…/api/chat.postMessage`).
fn method_of(uri: &Url) -> String {
    uri.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default().to_string()
}

fn invalid(method: &str, message: impl Into<String>) -> SlackError {
    SlackError::Invalid { method: method.into(), message: message.into() }
}

/// A [`SlackError`] on its way through slack-morphism.
fn carried(error: SlackError) -> SlackClientError {
    SlackClientError::SystemError(SlackClientSystemError::new().with_cause(Box::new(error)))
}

fn boxed<'a, RS: Send + 'a>(
    result: impl std::future::Future<Output = Result<RS, SlackError>> + Send + 'a,
) -> BoxFuture<'a, ClientResult<RS>> {
    result.map(|r| r.map_err(carried)).boxed()
}

/// slack-morphism's error for a call to `method` back as warroom's: the [`SlackError`] the
/// connector gave it, unchanged; anything slack-morphism failed at by itself (a URL it could
/// not build) is final, said without a URL.
pub fn into_slack_error(method: &str, error: SlackClientError) -> SlackError {
    if let SlackClientError::SystemError(system) = &error {
        if let Some(ours) = system.cause.as_ref().and_then(|c| c.downcast_ref::<SlackError>()) {
            return ours.clone();
        }
    }
    invalid(method, without_urls(&error.to_string()))
}

impl SlackClientHttpConnector for Connector {
    fn http_get_uri<'a, RS>(
        &'a self,
        full_uri: Url,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        boxed(self.get(full_uri, context.token))
    }

    /// OAuth's `oauth.v2.access`: warroom is installed with a bot token, it runs no OAuth flow.
    fn http_get_with_client_secret<'a, RS>(
        &'a self,
        full_uri: Url,
        _client_id: &'a SlackClientId,
        _client_secret: &'a SlackClientSecret,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        let method = method_of(&full_uri);
        boxed(std::future::ready(Err(invalid(&method, "warroom runs no OAuth flow"))))
    }

    fn http_post_uri<'a, RQ, RS>(
        &'a self,
        full_uri: Url,
        request_body: &'a RQ,
        context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RQ: serde::ser::Serialize + Send + Sync,
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        // Serialized here, before the future: `RQ` need not outlive the call.
        let body = serde_json::to_vec(request_body);
        boxed(self.post(full_uri, body, context.token))
    }

    /// `files.upload` (retired by Slack): warroom uploads through an upload URL.
    fn http_post_uri_multipart_form<'a, 'p, RS, PT, TS>(
        &'a self,
        full_uri: Url,
        _file: Option<FileMultipartData<'p>>,
        _params: &'p PT,
        _context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
        PT: std::iter::IntoIterator<Item = (&'p str, Option<TS>)> + Clone,
        TS: AsRef<str> + 'p + Send,
    {
        let method = method_of(&full_uri);
        boxed(std::future::ready(Err(invalid(&method, "warroom sends no multipart forms"))))
    }

    /// The bytes to an upload URL: [`super::api::SlackClient::upload_file`] sends them itself
    /// (the URL is a credential, and its answer is not a Web API answer).
    fn http_post_uri_binary<'a, 'p, RS>(
        &'a self,
        _full_uri: Url,
        _content_type: String,
        _data: &'a [u8],
        _context: SlackClientApiCallContext<'a>,
    ) -> BoxFuture<'a, ClientResult<RS>>
    where
        RS: for<'de> serde::de::Deserialize<'de> + Send + 'a,
    {
        boxed(std::future::ready(Err(invalid(super::api::FILE_UPLOAD, "sent by SlackClient::upload_file"))))
    }

    fn create_method_uri_path(&self, method_relative_uri: &str) -> ClientResult<Url> {
        Ok(format!("{}/{method_relative_uri}", self.base_url).parse()?)
    }
}
