//! An incident's page, `/console/incidents/{number}`: its header, lifecycle, timeline (live
//! while it is open, [`live`]), diagnostics, approvals, checklist and follow-ups ([`sections`]),
//! and its report for download ([`downloads`]). Every route finds the incident the same way
//! ([`find`]): a malformed number is a 400, an unknown one a 404, and a private incident is,
//! to anyone not among its members, the 404 of a number never used (`crate::private`).

mod downloads;
mod live;
mod page;
mod sections;
mod timeline;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::page::message;
use super::session::Viewer;
use crate::app::AppState;
use crate::incident::store::{self, Incident};
use crate::incident::IncidentNumber;

/// The incident page's routes (merged in `console::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/incidents/{number}", get(page::show))
        .route("/console/incidents/{number}/events", get(live::events))
        .route("/console/incidents/{number}/report.md", get(downloads::markdown))
        .route("/console/incidents/{number}/report.json", get(downloads::json))
        .route("/console/incidents/{number}/report.csv", get(downloads::csv))
}

/// The incident the path names, as `viewer` may see it; otherwise the page that says why.
async fn find(
    state: &AppState,
    viewer: &Viewer,
    number: Result<Path<String>, PathRejection>,
) -> Result<Incident, Response> {
    let bad = |text: &str| message(viewer, StatusCode::BAD_REQUEST, "Not an incident number", text);
    // A path that is not UTF-8 (a bad byte) is as malformed as one that is not a number.
    let Ok(Path(text)) = number else { return Err(bad("That address does not name an incident (like INC-42).")) };
    let number = IncidentNumber::parse(&text).map_err(|e| bad(&e))?;
    let unknown = || {
        let text = format!("There is no incident {number}.");
        message(viewer, StatusCode::NOT_FOUND, "No such incident", &text)
    };
    let found = match store::by_number(&state.db, number).await {
        Ok(found) => found,
        Err(e) => return Err(unavailable(viewer, number, &e)),
    };
    let Some(incident) = found else { return Err(unknown()) };
    match crate::private::visible_to(&state.db, &incident, &viewer.user_id).await {
        Ok(true) => Ok(incident),
        Ok(false) => Err(unknown()),
        Err(e) => Err(unavailable(viewer, number, &e)),
    }
}

/// The database failed while reading `number`: said once here, and a 503 page.
fn unavailable(viewer: &Viewer, number: IncidentNumber, e: &sqlx::Error) -> Response {
    tracing::warn!(incident.number = %number, "console: reading {number} failed: {e}");
    message(
        viewer,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The database did not answer; try again shortly.",
    )
}
