//! The HTTP API (`/api/v1/incidents`: declare, list, show; `/api/v1/runners/*` for remote
//! runners) and what it shares with the alert webhooks: the bearer token check and the JSON
//! error type.

mod auth;
mod error;
mod incidents;
pub mod reports;
mod runners;

pub use auth::{bearer, ApiToken};
pub use error::ApiError;
pub use incidents::view;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;

/// `GET/POST /api/v1/incidents`, `GET /api/v1/incidents/{number}` and its `/timeline` and `/export`;
/// the runners' routes (with their own body limit: results carry diagnostics' output).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents", get(incidents::list).post(incidents::declare))
        .route("/api/v1/incidents/{number}", get(incidents::show))
        .route("/api/v1/incidents/{number}/timeline", get(reports::timeline))
        .route("/api/v1/incidents/{number}/export", get(reports::report))
        .layer(DefaultBodyLimit::max(crate::slack::MAX_BODY))
        .merge(runners::router())
}
