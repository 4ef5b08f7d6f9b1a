//! The console (DESIGN.md "Console"): read-only pages outside Slack behind Sign in with Slack —
//! the incidents list, an incident's page, insights — and the sign-in itself. Everything here
//! reads what the rest of warroom wrote; nothing here changes an incident.
//!
//! Each part plugs in with one line in [`router`]; the pages share the layout and headers of
//! [`page`], and take a [`session::Viewer`] (which sends the signed-out to sign in). Private
//! incidents are shown only to their members (`crate::private`).

pub mod assets;
mod incident;
pub mod page;
pub mod session;

use axum::routing::get;
use axum::Router;

use crate::app::AppState;

/// The console's routes, merged into warroom's router in one place (`crate::app`).
pub fn router() -> Router<AppState> {
    Router::new().route("/console/assets/{file}", get(assets::serve)).merge(incident::router())
}
