//! The console's static files (its stylesheet, the incident page's live-update script),
//! compiled into the binary and served from `/console/assets/`: nothing fetched from
//! anywhere else, no build step.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// `(file name, content type, contents)`; a new asset is one line here.
const ASSETS: &[(&str, &str, &str)] = &[
    ("console.css", "text/css; charset=utf-8", include_str!("../../assets/console/console.css")),
    ("incident.js", "text/javascript; charset=utf-8", include_str!("../../assets/console/incident.js")),
];

/// `GET /console/assets/{file}`: public (no session needed: a stylesheet gives nothing away).
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
