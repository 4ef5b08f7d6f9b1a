//! The API's and the webhooks' error type: every refusal is JSON `{"error": "..."}` with the
//! status that says whose problem it is. Bad input changes nothing; database trouble is ours
//! (503, logged here once, no details to the caller), unless the database refused the data
//! itself (`crate::error::data_error`: 422).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `WARROOM_API_TOKEN` is unset: the API and the webhooks are off (404, as if absent).
    #[error("the API is off: WARROOM_API_TOKEN is unset")]
    Off,
    #[error("missing or wrong bearer token (Authorization: Bearer <WARROOM_API_TOKEN>)")]
    Unauthorized,
    /// Malformed JSON, a field that does not parse, an unusable alert: 422 with the reason.
    #[error("{0}")]
    Invalid(String),
    #[error("the body is larger than {} bytes", crate::slack::MAX_BODY)]
    TooLarge,
    #[error("{0}")]
    NotFound(String),
    /// Something warroom needs (Slack) did not answer: worth retrying.
    #[error("{0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// A body that could not be read: too large, or not there.
    pub fn from_body(rejection: axum::extract::rejection::BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else {
            Self::Invalid(rejection.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The database refused the data itself: the caller's input, not an outage.
        let refused = match &self {
            Self::Database(e) => crate::error::data_error(e),
            _ => None,
        };
        let status = match &self {
            Self::Off | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Database(_) if refused.is_some() => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let message = match &self {
            Self::Database(e) if refused.is_some() => {
                tracing::warn!("refused an API request the database cannot store: {e}");
                format!("the request cannot be stored: {}", refused.unwrap_or_default())
            }
            Self::Database(e) => {
                tracing::error!("API request failed on the database: {e}");
                "warroom cannot reach its database; try again".to_string()
            }
            Self::Unavailable(m) => {
                tracing::warn!("API request could not be served: {m}");
                m.clone()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
