//! Why a Web API call failed, classified the way the job queue needs it: retried or final, and
//! whether Slack may have carried the call out although it did not say so. Error texts never
//! carry a URL: a `response_url` or an upload URL is a one-time credential, and these texts go
//! to logs, `jobs.last_error`, the channel and the timeline.

use std::time::Duration;

/// Why a Web API call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429: come back after `retry_after`.
    #[error("{method} was rate limited (retry after {}s)", retry_after.as_secs())]
    RateLimited { method: String, retry_after: Duration },
    /// Slack answered `ok: false`; `errors` is what it said besides the code (`invalid_blocks`
    /// names each refused block there).
    #[error("{method} failed: {error}{}", detail(errors))]
    Api { method: String, error: String, errors: Vec<String> },
    /// Slack answered with an HTTP error status or a body that is not Slack's (not JSON, or
    /// not the shape the method's answer has).
    #[error("{method} failed: HTTP {status}")]
    Http { method: String, status: u16 },
    /// The request never reached Slack (the connection could not be made).
    #[error("{method} failed: {message}")]
    Transport { method: String, message: String },
    /// The request was sent and no usable answer came (a timeout, the connection lost while
    /// waiting): Slack may have carried it out.
    #[error("{method} failed: {message}")]
    Unanswered { method: String, message: String },
    /// warroom could not make the request at all (blocks that are not Block Kit, a URL that
    /// does not parse): nothing was sent, and sending again would not help.
    #[error("{method} not sent: {message}")]
    Invalid { method: String, message: String },
}

fn detail(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" ({})", errors.join("; "))
    }
}

impl SlackError {
    /// `ok: false` with the code alone.
    pub fn api(method: &str, error: impl Into<String>) -> Self {
        Self::Api { method: method.into(), error: error.into(), errors: Vec::new() }
    }

    /// Slack's own "try again" errors, 5xx and network failures are retried; the rest are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } | Self::Unanswered { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            Self::Api { error, .. } => is_slack_internal(error),
            Self::Invalid { .. } => false,
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
            Self::RateLimited { .. } | Self::Transport { .. } | Self::Invalid { .. } => false,
        }
    }

    /// The method the failed call was for.
    pub fn method(&self) -> &str {
        match self {
            Self::RateLimited { method, .. }
            | Self::Api { method, .. }
            | Self::Http { method, .. }
            | Self::Transport { method, .. }
            | Self::Unanswered { method, .. }
            | Self::Invalid { method, .. } => method,
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
            Self::Invalid { .. } => "invalid",
        }
    }
}

/// Slack's own "something went wrong on our side" codes: retried, and of unknown outcome.
fn is_slack_internal(error: &str) -> bool {
    matches!(error, "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout")
}

/// Failed before anything was sent (no connection) or after (a timeout, a reset): only the
/// latter may have reached Slack.
pub(crate) fn transport_error(method: &str, e: reqwest::Error) -> SlackError {
    let never_sent = e.is_connect() || e.is_builder();
    let message = url_free_message(e);
    if never_sent {
        SlackError::Transport { method: method.into(), message }
    } else {
        SlackError::Unanswered { method: method.into(), message }
    }
}

/// A request that got no answer, said without its URL (reqwest's own text has it) but with its
/// causes ("connection refused", "operation timed out").
pub(crate) fn transport(method: &str, error: reqwest::Error) -> SlackError {
    SlackError::Transport { method: method.into(), message: url_free_message(error) }
}

/// What went wrong, with its causes, but never the URL (a `response_url` or an upload URL is a
/// credential for as long as it lives).
pub(crate) fn url_free_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(e) = cause {
        message.push_str(": ");
        message.push_str(&e.to_string());
        cause = e.source();
    }
    without_urls(&message)
}

/// `text` with every word that holds a URL replaced: the causes are the HTTP stack's and the
/// OS's, which name no URL, and slack-morphism's own texts; should one ever do, it goes.
pub(crate) fn without_urls(text: &str) -> String {
    let words = text.split(' ').map(|word| if word.contains("://") { "<url>" } else { word }).collect::<Vec<_>>();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_what_slack_said_besides_the_code() {
        let bare = SlackError::api("chat.postMessage", "channel_not_found");
        assert_eq!(bare.to_string(), "chat.postMessage failed: channel_not_found");
        let detailed = SlackError::Api {
            method: "chat.postMessage".into(),
            error: "invalid_blocks".into(),
            errors: vec!["must be less than 3001 characters [json-pointer:/blocks/0/text/text]".into()],
        };
        assert_eq!(
            detailed.to_string(),
            "chat.postMessage failed: invalid_blocks (must be less than 3001 characters [json-pointer:/blocks/0/text/text])"
        );
        assert_eq!(detailed.code(), Some("invalid_blocks"), "the code stays the code callers match on");
        assert!(!detailed.is_retryable() && !detailed.outcome_unknown());
    }

    #[test]
    fn a_request_never_made_is_final_and_known_not_done() {
        let invalid = SlackError::Invalid { method: "views.open".into(), message: "not a view".into() };
        assert!(!invalid.is_retryable());
        assert!(!invalid.outcome_unknown());
        assert_eq!(invalid.outcome(), "invalid");
    }

    #[test]
    fn urls_are_taken_out_of_texts() {
        assert_eq!(
            without_urls("error sending to https://hooks.slack.com/x/y: refused"),
            "error sending to <url> refused"
        );
    }
}
