//! Console sessions: who a browser is. The sign-in (`super::auth`) creates one after Slack
//! vouched for the person; every console page takes a [`Viewer`], which reads the session
//! cookie and finds its row in `console_sessions` (only the cookie's sha256 is stored). No
//! session, or an expired one: a page is sent to sign in and comes back where it was asked for.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use crate::app::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "warroom_session";

/// How long a session lasts from sign-in (an on-call shift and then some).
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Viewer {
    /// The Slack user ID (`U…`): what permissions, roles and private incidents' members name.
    pub user_id: String,
    pub team_id: String,
    pub name: String,
    pub email: Option<String>,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh random token: two v4 UUIDs, 244 random bits.
pub fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Opens a session for `viewer`; returns the cookie's value (given to the browser, not stored).
pub async fn create(db: impl PgExecutor<'_>, viewer: &Viewer, now: DateTime<Utc>) -> sqlx::Result<String> {
    let token = random_token();
    sqlx::query!(
        "INSERT INTO console_sessions (token_hash, user_id, team_id, name, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        hash(&token),
        viewer.user_id,
        viewer.team_id,
        viewer.name,
        viewer.email,
        now,
        now + LIFETIME,
    )
    .execute(db)
    .await?;
    Ok(token)
}

/// The session `token` opens, while it has not expired.
pub async fn find(db: impl PgExecutor<'_>, token: &str, now: DateTime<Utc>) -> sqlx::Result<Option<Viewer>> {
    sqlx::query_as!(
        Viewer,
        "SELECT user_id, team_id, name, email FROM console_sessions WHERE token_hash = $1 AND expires_at > $2",
        hash(token),
        now
    )
    .fetch_optional(db)
    .await
}

/// Ends the session `token` opens (sign-out). Ending one that does not exist is no error.
pub async fn end(db: impl PgExecutor<'_>, token: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM console_sessions WHERE token_hash = $1", hash(token)).execute(db).await?;
    Ok(())
}

/// The `Set-Cookie` value that hands `token` to the browser: not readable by scripts, sent
/// only over https (browsers count `localhost` as secure), and not on cross-site posts.
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}", LIFETIME.num_seconds())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

/// The session cookie's value in a request, if any.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE)
}

/// The value of cookie `name` in a request (an empty one is none).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Where the sign-in sends someone who asked for `path_and_query`: back to it, if it is a
/// console page (nothing else: the sign-in is no open redirect).
pub fn login_url(path_and_query: &str) -> String {
    let next = if is_console_path(path_and_query) { path_and_query } else { "/console" };
    format!("/auth/slack/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
}

/// A path under `/console` of this site (not `//host`, not `/console.evil`).
pub fn is_console_path(path: &str) -> bool {
    (path == "/console" || path.starts_with("/console/") || path.starts_with("/console?")) && !path.contains('\\')
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let signed_out = || {
            let asked = parts.uri.path_and_query().map_or("/console", |p| p.as_str());
            Redirect::to(&login_url(asked)).into_response()
        };
        let Some(token) = token(&parts.headers) else { return Err(signed_out()) };
        match find(&state.db, token, state.clock.now()).await {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => Err(signed_out()),
            Err(e) => {
                tracing::warn!("console session look-up failed: {e}");
                Err((StatusCode::SERVICE_UNAVAILABLE, "The database is unavailable; try again shortly.")
                    .into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_an_empty_one_is_none() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; warroom_session=abc; b=2".parse().unwrap());
        assert_eq!(token(&headers), Some("abc"));
        headers.insert(header::COOKIE, "warroom_session=".parse().unwrap());
        assert_eq!(token(&headers), None);
    }

    #[test]
    fn sign_in_returns_only_to_console_paths() {
        assert_eq!(login_url("/console/incidents/4?x=1"), "/auth/slack/login?next=%2Fconsole%2Fincidents%2F4%3Fx%3D1");
        for elsewhere in ["//evil.example/console", "/consolex", "/api/v1/incidents", "/console\\..\\x"] {
            assert_eq!(login_url(elsewhere), "/auth/slack/login?next=%2Fconsole", "{elsewhere}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_lax() {
        let cookie = set_cookie("t");
        for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
    }
}
