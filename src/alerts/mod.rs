//! Alertmanager and Grafana webhooks: a firing alert group that matches a rule of `[alerts]`
//! declares an incident, once per group; the group's later notifications add what is new to
//! the timeline, and its resolution asks the channel whether to resolve (or resolves, with
//! `auto_resolve`).

pub mod ingest;
pub mod payload;
pub mod prompt;
pub mod rules;
pub mod store;
mod webhook;

pub use payload::Source;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;

use crate::app::AppState;
/// One alert in one line (the timeline describes alert events with it, from their payload).
pub use crate::timeline::describe::alert as describe_alert;

/// `POST /webhooks/alertmanager`, `POST /webhooks/grafana`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/alertmanager", post(webhook::alertmanager))
        .route("/webhooks/grafana", post(webhook::grafana))
        .layer(DefaultBodyLimit::max(crate::slack::MAX_BODY))
}
