//! Sign in with Slack (DESIGN.md "Console"): `/auth/slack/login` sends the browser to Slack
//! with a fresh state and nonce, `/auth/slack/callback` takes Slack's code back, exchanges it
//! and checks the ID token ([`super::oidc`]), and opens a session ([`super::session`]);
//! `/auth/logout` ends it.
//!
//! The state is bound three ways: to this browser (the `warroom_login` cookie), to one row of
//! `console_logins` (taken once, ten minutes at most) and, through the nonce in that row, to
//! the ID token Slack issued for it. Nothing secret — the code, the tokens, the client secret —
//! is logged or shown; a failure says what went wrong and offers to sign in again.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::oidc::{Expected, Provider, SignInError};
use super::{logins, page, session};
use crate::app::AppState;
use crate::config::ConsoleEnv;
use crate::slack::api::SlackClient;

/// The cookie that binds a sign-in under way to the browser that started it.
pub const LOGIN_COOKIE: &str = "warroom_login";

/// What `/auth/slack/login` says with real Slack and no client.
pub const NOT_SET_UP: &str = "Sign in with Slack is not set up: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET";

/// The console's sign-in as configured: the Slack app (none: the sign-in is off) and the
/// workspace whose members may sign in.
pub struct SignIn {
    provider: Option<Provider>,
    /// The workspace's team ID: the bot token's `auth.test` team, asked once (the sandbox's
    /// from the start).
    team: tokio::sync::OnceCell<String>,
    http: reqwest::Client,
}

impl SignIn {
    /// The sign-in for `env`. `api_url` is the Web API warroom talks to (`openid.connect.token`
    /// is one of its methods); `listen_url` is where this process listens, the public URL's
    /// default. In sandbox mode (`sandbox_team`) the sandbox is the provider, with its built-in
    /// client, at `{public URL}/sandbox` unless `SLACK_OIDC_URL` says otherwise, and its
    /// workspace is the one.
    pub fn new(
        env: &ConsoleEnv,
        api_url: &str,
        listen_url: &str,
        sandbox_team: Option<&str>,
        http: reqwest::Client,
    ) -> Self {
        let public_url = env.public_url.clone().unwrap_or_else(|| listen_url.trim_end_matches('/').to_string());
        let redirect_uri = format!("{public_url}/auth/slack/callback");
        let token_url = format!("{}/openid.connect.token", api_url.trim_end_matches('/'));
        let provider = match (sandbox_team, &env.client_id, &env.client_secret) {
            (Some(_), _, _) => Some(Provider {
                client_id: crate::sandbox::openid::CLIENT_ID.into(),
                client_secret: crate::secret::Secret::new(crate::sandbox::openid::CLIENT_SECRET),
                // The default (Slack's own) would send the browser to real Slack with the
                // sandbox's client: the sandbox it is, unless SLACK_OIDC_URL says otherwise.
                // Served under warroom's own address, as people's browsers reach it.
                oidc_url: if env.oidc_url == super::oidc::ISSUER {
                    format!("{public_url}/sandbox")
                } else {
                    env.oidc_url.clone()
                },
                token_url,
                redirect_uri,
            }),
            (None, Some(id), Some(secret)) => Some(Provider {
                client_id: id.clone(),
                client_secret: secret.clone(),
                oidc_url: env.oidc_url.clone(),
                token_url,
                redirect_uri,
            }),
            (None, _, _) => None,
        };
        let team = tokio::sync::OnceCell::new_with(sandbox_team.map(str::to_string));
        Self { provider, team, http }
    }

    /// Where Slack sends the browser back (what the Slack app's redirect URLs must list).
    pub fn redirect_uri(&self) -> Option<&str> {
        self.provider.as_ref().map(|p| p.redirect_uri.as_str())
    }

    /// The workspace's team ID (`auth.test`, once).
    async fn team(&self, slack: &SlackClient) -> Option<String> {
        let asked = self
            .team
            .get_or_try_init(|| async {
                let answer = slack.call_form("auth.test", &[]).await?;
                answer["team_id"].as_str().map(str::to_string).ok_or_else(|| crate::slack::api::SlackError::Invalid {
                    method: "auth.test".into(),
                    message: "the answer has no team_id".into(),
                })
            })
            .await;
        match asked {
            Ok(team) => Some(team.clone()),
            Err(e) => {
                tracing::warn!("the console sign-in could not learn the workspace (auth.test): {e}");
                None
            }
        }
    }
}

/// The sign-in's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/slack/login", get(login))
        .route("/auth/slack/callback", get(callback))
        .route("/auth/logout", post(logout))
}

/// A query string's parameters, bad bytes and all (never a refusal: a missing one is `None`).
fn params(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn login_cookie(state: &str) -> String {
    let max_age = logins::LIFETIME.num_seconds();
    format!("{LOGIN_COOKIE}={state}; Path=/auth/slack; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}")
}

fn clear_login_cookie() -> String {
    format!("{LOGIN_COOKIE}=; Path=/auth/slack; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

/// The link that starts a sign-in returning to `next`.
fn sign_in_href(next: &str) -> String {
    session::login_url(next)
}

/// The sign-in page: `message` (if any) and a button-link that signs in (if `href`).
fn sign_in_page(status: StatusCode, title: &str, message: Option<&str>, href: Option<&str>, action: &str) -> Response {
    let data = json!({ "message": message, "href": href, "action": action });
    page::render_public(status, title, "signin", &data)
}

/// A 303 with extra `Set-Cookie` headers.
fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_string())]).into_response();
    for value in cookies {
        if let Ok(value) = header::HeaderValue::from_str(value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    page::with_headers(response)
}

/// `GET /auth/slack/login?next=/console/...`: off without a client (503, saying what to set);
/// without `next`, the sign-in page (`signed_out=1`: after signing out); with it, off to Slack.
async fn login(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    let Some(provider) = &state.console.provider else {
        return sign_in_page(StatusCode::SERVICE_UNAVAILABLE, "Sign in", Some(NOT_SET_UP), None, "");
    };
    let Some(next) = params.get("next") else {
        let message = params.contains_key("signed_out").then_some("You are signed out.");
        let href = sign_in_href("/console");
        return sign_in_page(StatusCode::OK, "Sign in", message, Some(&href), "Sign in with Slack");
    };
    // Back only to a console page, and only by a path that is a valid Location as it is
    // (a browser's own request is percent-encoded ASCII; nothing else needs to come back).
    let returnable = session::is_console_path(next) && next.bytes().all(|b| b.is_ascii_graphic());
    let next = if returnable { next.as_str() } else { "/console" };
    let login_state = session::random_token();
    let nonce = session::random_token();
    if let Err(e) = logins::start(&state.db, &login_state, &nonce, next, state.clock.now()).await {
        tracing::warn!("could not start a console sign-in: {e}");
        let message = "The database is unavailable; try again shortly.";
        return sign_in_page(StatusCode::SERVICE_UNAVAILABLE, "Sign in", Some(message), None, "");
    }
    // Without the team Slack asks which workspace; the callback still insists on this one.
    let team = state.console.team(&state.slack).await;
    let url = provider.authorize_url(&login_state, &nonce, team.as_deref());
    see_other(&url, &[login_cookie(&login_state)])
}

/// Why a callback signed nobody in.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("Sign in with Slack is not set up on this warroom.")]
    Off,
    #[error("The sign-in link is incomplete (it has no state).")]
    NoState,
    #[error("This sign-in was not started in this browser (or it was started again in another tab).")]
    OtherBrowser,
    #[error("This sign-in is unknown, was used already or took longer than 10 minutes.")]
    UnknownState,
    #[error("You did not allow warroom to sign you in with Slack.")]
    Denied,
    #[error("Slack did not sign you in ({0}).")]
    SlackError(String),
    #[error("The sign-in link is incomplete (Slack sent no code).")]
    NoCode,
    #[error("{0}")]
    Token(#[from] SignInError),
    #[error("warroom could not ask Slack which workspace it belongs to; try again shortly.")]
    NoTeam,
    #[error("The database is unavailable; try again shortly.")]
    Database(#[from] sqlx::Error),
}

/// `GET /auth/slack/callback?code=..&state=..` (or `error=..`): Slack sending the browser back.
async fn callback(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = params(query);
    let mut next = "/console".to_string();
    match finish(&state, &headers, &params, &mut next).await {
        Ok((viewer, token)) => {
            tracing::info!(console.user = %viewer.user_id, "{} signed in to the console", viewer.user_id);
            see_other(&next, &[session::set_cookie(&token), clear_login_cookie()])
        }
        Err(failure) => {
            // The failure's words carry no code, token or secret (see `Failure`).
            tracing::info!("a console sign-in was refused: {failure}");
            let status = match failure {
                Failure::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            let href = sign_in_href(&next);
            let mut response =
                sign_in_page(status, "Sign-in failed", Some(&failure.to_string()), Some(&href), "Sign in again");
            if let Ok(clear) = header::HeaderValue::from_str(&clear_login_cookie()) {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response
        }
    }
}

/// The callback's checks, in order; on success the new session's viewer and cookie value.
/// `next` learns where the sign-in meant to go as soon as it is known.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    next: &mut String,
) -> Result<(session::Viewer, String), Failure> {
    let provider = state.console.provider.as_ref().ok_or(Failure::Off)?;
    let login_state = params.get("state").filter(|s| !s.is_empty()).ok_or(Failure::NoState)?;
    let browser = session::cookie(headers, LOGIN_COOKIE).ok_or(Failure::OtherBrowser)?;
    if !bool::from(browser.as_bytes().ct_eq(login_state.as_bytes())) {
        return Err(Failure::OtherBrowser);
    }
    let now = state.clock.now();
    let login = logins::take(&state.db, login_state, now).await?.ok_or(Failure::UnknownState)?;
    next.clone_from(&login.next_path);
    if let Some(error) = params.get("error") {
        // Slack's codes are short snake_case words; anything else in the URL is not repeated.
        let code = error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        return Err(match error.as_str() {
            "access_denied" => Failure::Denied,
            _ if code => Failure::SlackError(error.clone()),
            _ => Failure::SlackError("an error it did not name".into()),
        });
    }
    let code = params.get("code").filter(|c| !c.is_empty()).ok_or(Failure::NoCode)?;
    let id_token = provider.exchange(&state.console.http, code).await?;
    let team = state.console.team(&state.slack).await.ok_or(Failure::NoTeam)?;
    let person = provider.check(&id_token, &Expected { nonce: &login.nonce, team_id: &team, now })?;
    let viewer =
        session::Viewer { user_id: person.user_id, team_id: person.team_id, name: person.name, email: person.email };
    let token = session::create(&state.db, &viewer, now).await?;
    Ok((viewer, token))
}

/// `POST /auth/logout`: ends the session (if any) and clears its cookie. A cross-site form
/// cannot sign anyone out: the cookie is SameSite=Lax, so it is not sent with such a POST.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session::token(&headers) {
        if let Err(e) = session::end(&state.db, token).await {
            tracing::warn!("could not end a console session: {e}");
            let message = "The database is unavailable, so you are still signed in; try again shortly.";
            return sign_in_page(StatusCode::SERVICE_UNAVAILABLE, "Sign out", Some(message), None, "");
        }
    }
    see_other("/auth/slack/login?signed_out=1", &[session::clear_cookie()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(client: bool) -> ConsoleEnv {
        ConsoleEnv {
            client_id: client.then(|| "123.456".into()),
            client_secret: client.then(|| crate::secret::Secret::new("s")),
            oidc_url: "https://slack.com".into(),
            public_url: None,
        }
    }

    #[test]
    fn real_slack_without_a_client_is_off_and_with_one_redirects_to_the_public_url() {
        let http = crate::tls::http_client();
        let off = SignIn::new(&env(false), "https://slack.com/api", "http://127.0.0.1:8080", None, http.clone());
        assert!(off.provider.is_none());
        let mut with_url = env(true);
        with_url.public_url = Some("https://warroom.example.com".into());
        let on = SignIn::new(&with_url, "https://slack.com/api/", "http://127.0.0.1:8080", None, http);
        let provider = on.provider.unwrap();
        assert_eq!(provider.redirect_uri, "https://warroom.example.com/auth/slack/callback");
        assert_eq!(provider.token_url, "https://slack.com/api/openid.connect.token");
        assert_eq!(provider.oidc_url, "https://slack.com");
    }

    #[test]
    fn the_sandbox_signs_in_with_its_own_client_at_its_own_address() {
        let sandbox = SignIn::new(
            &env(false),
            "http://127.0.0.1:9/sandbox/api",
            "http://127.0.0.1:9",
            Some("T0S"),
            crate::tls::http_client(),
        );
        let provider = sandbox.provider.unwrap();
        assert_eq!(provider.client_id, crate::sandbox::openid::CLIENT_ID);
        assert_eq!(provider.oidc_url, "http://127.0.0.1:9/sandbox");
        assert_eq!(sandbox.team.get().map(String::as_str), Some("T0S"));
    }

    #[test]
    fn the_login_cookie_is_short_lived_and_only_for_the_sign_in() {
        let cookie = login_cookie("st");
        for part in ["warroom_login=st", "Path=/auth/slack", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "warroom_session=x; warroom_login=st".parse().unwrap());
        assert_eq!(session::cookie(&headers, LOGIN_COOKIE), Some("st"));
    }
}
