//! `Authorization: Bearer <WARROOM_API_TOKEN>` on `/api/v1/incidents*` and `/webhooks/*`, compared
//! in constant time, before the body is read. Without the token set, the API is off (404).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::ApiError;
use crate::app::AppState;

/// Proof that the request carried an API token: take it as a handler's first argument.
/// `WARROOM_API_TOKEN` and `WARROOM_API_PRIVATE_TOKEN` both open the API; only the second may
/// see private incidents, and then only when the request asks (`include_private=true`).
#[derive(Debug, Clone, Copy)]
pub struct ApiToken {
    /// The request carried `WARROOM_API_PRIVATE_TOKEN`.
    pub sees_private: bool,
}

impl ApiToken {
    /// Whether this request shows private incidents: the private token, asking for them with
    /// `include_private=true` in `query`. Anything else is shown none (a private incident's
    /// number is 404, exactly as a number never used).
    pub fn include_private(&self, query: Option<&str>) -> Result<bool, ApiError> {
        let asked = query.unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("include_private="));
        let asked = match asked {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(ApiError::Invalid(format!("include_private=`{other}`: use true or false"))),
        };
        Ok(asked && self.sees_private)
    }
}

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.settings.api_token else { return Err(ApiError::Off) };
        let matches = |given: &str, token: &crate::secret::Secret| {
            crate::secret::constant_time_eq(given.as_bytes(), token.expose().as_bytes())
        };
        let given = bearer(&parts.headers);
        if let Some(given) = given {
            // Both compared, whichever matches, so the time taken says nothing about which.
            let private = state.settings.api_private_token.as_ref().is_some_and(|t| matches(given, t));
            let plain = matches(given, expected);
            if private || plain {
                return Ok(ApiToken { sees_private: private });
            }
        }
        // Never the token itself, right or wrong.
        let why = if given.is_some() { "a wrong bearer token" } else { "no bearer token" };
        tracing::warn!(path = %parts.uri.path(), "refused an API request with {why}");
        Err(ApiError::Unauthorized)
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
