//! The HTTP edge's error type. Policy: bad input is the caller's (4xx with a message that says
//! what was wrong; nothing changed); anything else is ours (5xx, logged once here, with no
//! details leaked to the caller).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;

use crate::slack::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The Slack signature is missing, wrong or stale.
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] VerifyError),
    /// The request is well signed but not something we can read.
    #[error("{0}")]
    BadRequest(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Unauthorized(e) => {
                (StatusCode::UNAUTHORIZED, format!("invalid Slack signature: {e}")).into_response()
            }
            AppError::BadRequest(message) => (StatusCode::BAD_REQUEST, message).into_response(),
            AppError::Database(e) => {
                error!("request failed on the database: {e}");
                (StatusCode::SERVICE_UNAVAILABLE, "warroom cannot reach its database; try again").into_response()
            }
        }
    }
}
