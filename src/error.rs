//! The HTTP edge's error type. Policy: bad input is the caller's (4xx with a message that says
//! what was wrong; nothing changed); anything else is ours (5xx, logged once here, with no
//! details leaked to the caller). A database that refuses the data itself (a value it cannot
//! store, one too long, a constraint) was reached: that is bad input too, never "cannot reach
//! its database".

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
    /// Readable, but what it says cannot be stored (see [`data_error`]): 422, nothing changed.
    #[error("{0}")]
    Unprocessable(String),
    #[error("database: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match data_error(&e) {
            Some(message) => {
                tracing::warn!("refused input the database cannot store: {e}");
                AppError::Unprocessable(message.to_string())
            }
            None => AppError::Database(e),
        }
    }
}

impl AppError {
    /// The caller's fault: answered (an ephemeral message, an acknowledged envelope), not retried.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, AppError::BadRequest(_) | AppError::Unprocessable(_))
    }
}

/// What to tell the caller when Postgres refused the data itself rather than failed: SQLSTATE
/// class 22 (data exception: `22021` a character it cannot store, such as NUL; `22P05` `\u0000`
/// in jsonb; `22001` a value too long) or 23 (a constraint). `None` for anything else.
pub fn data_error(e: &sqlx::Error) -> Option<&'static str> {
    let sqlx::Error::Database(db) = e else { return None };
    let code = db.code()?;
    Some(match code.as_ref() {
        "22021" | "22P05" => "it contains a character warroom cannot store (such as NUL); nothing changed",
        "22001" => "a value in it is too long to store; nothing changed",
        class if class.starts_with("22") => "a value in it cannot be stored as given; nothing changed",
        class if class.starts_with("23") => "it conflicts with what warroom has stored; nothing changed",
        _ => return None,
    })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Unauthorized(e) => {
                (StatusCode::UNAUTHORIZED, format!("invalid Slack signature: {e}")).into_response()
            }
            AppError::BadRequest(message) => (StatusCode::BAD_REQUEST, message).into_response(),
            AppError::Unprocessable(message) => (StatusCode::UNPROCESSABLE_ENTITY, message).into_response(),
            AppError::Database(e) => {
                error!("request failed on the database: {e}");
                (StatusCode::SERVICE_UNAVAILABLE, "warroom cannot reach its database; try again").into_response()
            }
        }
    }
}
