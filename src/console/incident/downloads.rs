//! `/console/incidents/{number}/report.md|json|csv`: the post-incident report, the same bytes as
//! `/incident export` and the API's export (`crate::api::reports::download` streams it, with its
//! content type and attachment file name), for whoever may see the incident.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::app::AppState;
use crate::console::page::with_headers;
use crate::console::session::Viewer;
use crate::timeline::export::Format;

pub async fn markdown(
    viewer: Viewer,
    State(state): State<AppState>,
    n: Result<Path<String>, PathRejection>,
) -> Response {
    download(viewer, state, n, Format::Markdown).await
}

pub async fn json(viewer: Viewer, State(state): State<AppState>, n: Result<Path<String>, PathRejection>) -> Response {
    download(viewer, state, n, Format::Json).await
}

pub async fn csv(viewer: Viewer, State(state): State<AppState>, n: Result<Path<String>, PathRejection>) -> Response {
    download(viewer, state, n, Format::Csv).await
}

async fn download(
    viewer: Viewer,
    state: AppState,
    number: Result<Path<String>, PathRejection>,
    format: Format,
) -> Response {
    match super::find(&state, &viewer, number).await {
        Ok(incident) => with_headers(crate::api::reports::download(state, incident, format)),
        Err(refusal) => refusal,
    }
}
