//! `Authorization: Bearer <WARROOM_API_TOKEN>` on `/api/v1/incidents*` and `/webhooks/*`, compared
//! in constant time, before the body is read. Without the token set, the API is off (404).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::ApiError;
use crate::app::AppState;

/// Proof that the request carried the API token: take it as a handler's first argument.
#[derive(Debug, Clone, Copy)]
pub struct ApiToken;

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.settings.api_token else { return Err(ApiError::Off) };
        match bearer(&parts.headers) {
            Some(given) if crate::secret::constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) => {
                Ok(ApiToken)
            }
            given => {
                // Never the token itself, right or wrong.
                let why = if given.is_some() { "a wrong bearer token" } else { "no bearer token" };
                tracing::warn!(path = %parts.uri.path(), "refused an API request with {why}");
                Err(ApiError::Unauthorized)
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
