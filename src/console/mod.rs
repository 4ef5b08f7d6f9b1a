//! The console (DESIGN.md "Console"): read-only pages outside Slack behind Sign in with Slack —
//! the incidents list, an incident's page, insights — and the sign-in itself. Everything here
//! reads what the rest of warroom wrote; nothing here changes an incident.
//!
//! Each part plugs in with one line in [`router`]; the pages share the layout and headers of
//! [`page`], and take a [`session::Viewer`] (which sends the signed-out to sign in). Private
//! incidents are shown only to their members (`crate::private`).

pub mod assets;
pub mod auth;
mod incident;
pub mod incidents;
pub mod incidents_params;
pub mod incidents_query;
pub mod insights;
pub mod insights_query;
mod insights_view;
pub mod logins;
pub mod oidc;
pub mod page;
pub mod session;
pub mod svg;

use axum::routing::get;
use axum::Router;

use crate::app::AppState;

/// The console's routes, merged into warroom's router in one place (`crate::app`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/assets/{file}", get(assets::serve))
        .merge(auth::router())
        .merge(incidents::router())
        .merge(insights::router())
        .merge(incident::router())
}
