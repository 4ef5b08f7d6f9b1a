//! Sign in with Slack, over HTTP: the test app signs in through the test's sandbox Workspace
//! as its OpenID provider (the authorize page served on a listener of its own, the token
//! exchange through the Web API at `app.slack`), following every redirect by hand with a small
//! cookie jar standing in for the browser. (`console_auth_browser`: the same against a real
//! `warroom serve`, in a real browser and in its log.)

use std::collections::HashMap;
use std::net::SocketAddr;

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use warroom::console::session;
use warroom::sandbox::openid::{Spoiled, CLIENT_ID, CLIENT_SECRET};
use warroom::secret::Secret;

use crate::console_support::console_get;
use crate::harness::*;

/// The test app with the sandbox's Slack app as its client and the sandbox's authorize page
/// (the control surface of `app.slack`) at `SLACK_OIDC_URL`.
async fn spawn_with_sign_in() -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let oidc = format!("http://{}", listener.local_addr().unwrap());
    let url = oidc.clone();
    let app = spawn_app_with(move |settings| {
        settings.console.client_id = Some(CLIENT_ID.into());
        settings.console.client_secret = Some(Secret::new(CLIENT_SECRET));
        settings.console.oidc_url = url;
    })
    .await;
    let control = warroom::sandbox::http::control_router(app.slack.clone(), false);
    let served = axum::serve(listener, control.into_make_service_with_connect_info::<SocketAddr>());
    tokio::spawn(async move { served.await });
    (app, oidc)
}

/// A console page (any path under `/console/`) on the app's state that greets its viewer:
/// the console's own pages are other parts' work; this one shows what the sign-in gives them.
/// Its address (on 127.0.0.1 like the app's, so the browser's cookies go to it too).
async fn viewer_page(app: &TestApp) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let page = |viewer: session::Viewer| async move { format!("hello {} ({})", viewer.name, viewer.user_id) };
    let router = axum::Router::new().route("/console/{*rest}", get(page)).with_state(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// A browser, as far as these tests need one: no redirects followed, and a cookie jar for
/// 127.0.0.1 (cookies ignore the port) that honours `Path` and `Max-Age=0`.
#[derive(Default)]
pub(crate) struct Visitor {
    cookies: HashMap<String, (String, String)>,
}

impl Visitor {
    fn client() -> reqwest::Client {
        warroom::tls::http_client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    fn cookie_header(&self, url: &str) -> String {
        let path = reqwest::Url::parse(url).unwrap().path().to_string();
        let sent = self.cookies.iter().filter(|(_, (_, p))| path.starts_with(p.as_str()));
        sent.map(|(name, (value, _))| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let path = attributes.split(';').find_map(|a| a.trim().strip_prefix("Path=")).unwrap_or("/").to_string();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), (value.into(), path));
            }
        }
    }

    pub(crate) async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = Self::client().get(url).header("cookie", self.cookie_header(url)).send().await.unwrap();
        self.keep(&response);
        response
    }

    async fn post_form(&mut self, url: &str, form: &[(String, String)]) -> reqwest::Response {
        let request = Self::client().post(url).header("cookie", self.cookie_header(url)).form(form);
        let response = request.send().await.unwrap();
        self.keep(&response);
        response
    }

    fn session(&self) -> Option<String> {
        self.cookies.get(session::COOKIE).map(|(value, _)| format!("{}={value}", session::COOKIE))
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).unwrap_or_else(|| panic!("no Location: {response:?}")).to_str().unwrap().into()
}

pub(crate) fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// `/auth/slack/login?next=…`: the authorize URL it sends the browser to.
async fn start(visitor: &mut Visitor, warroom: &str, next: &str) -> String {
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let response = visitor.get(&format!("{warroom}/auth/slack/login?next={next}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

/// The sandbox's sign-in page, and `user` chosen on it: the callback URL Slack sends back to.
async fn choose(visitor: &mut Visitor, authorize: &str, user: &str) -> String {
    let page = visitor.get(authorize).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in to the sandbox workspace as"), "{html}");
    let action = authorize.split('?').next().unwrap();
    let mut form: Vec<(String, String)> = query_of(authorize).into_iter().collect();
    form.push(("user".into(), user.into()));
    let chosen = visitor.post_form(action, &form).await;
    assert_eq!(chosen.status(), StatusCode::FOUND);
    location(&chosen)
}

/// A sign-in to `/console` as far as Slack's answer: the callback URL, not yet opened.
pub(crate) async fn callback_for(visitor: &mut Visitor, warroom: &str, user: &str) -> String {
    let authorize = start(visitor, warroom, "/console").await;
    choose(visitor, &authorize, user).await
}

/// A whole sign-in as `user`, returning to `next`: the callback's answer.
async fn sign_in(visitor: &mut Visitor, warroom: &str, next: &str, user: &str) -> reqwest::Response {
    let authorize = start(visitor, warroom, next).await;
    let callback = choose(visitor, &authorize, user).await;
    visitor.get(&callback).await
}

async fn sessions(app: &TestApp) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as("SELECT user_id, team_id, name, email FROM console_sessions ORDER BY created_at")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

/// A refused callback: 400, a page saying `words` with a link to sign in again, no session.
async fn assert_refused(app: &TestApp, response: reqwest::Response, words: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let cookies: Vec<_> =
        response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(cookies.iter().all(|c| !c.starts_with("warroom_session=")), "{cookies:?}");
    let html = response.text().await.unwrap();
    assert!(html.contains(words), "expected {words:?} in:\n{html}");
    assert!(html.contains("Sign in again") && html.contains("href=\"/auth/slack/login?next"), "{html}");
    assert!(sessions(app).await.is_empty(), "no session");
}

#[tokio::test]
async fn a_signed_out_console_page_sends_the_browser_to_sign_in_and_back() {
    let (app, _) = spawn_with_sign_in().await;
    let page = viewer_page(&app).await;
    let response = Visitor::default().get(&format!("{page}/console/incidents/4?tab=timeline")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/auth/slack/login?next=%2Fconsole%2Fincidents%2F4%3Ftab%3Dtimeline");
    app.finish().await;
}

#[tokio::test]
async fn the_login_sends_the_browser_to_slack_with_state_nonce_scopes_and_the_callback() {
    let (app, oidc) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let response = visitor.get(&format!("{}/auth/slack/login?next=%2Fconsole%2Finsights", app.address)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
    let authorize = location(&response);

    assert!(authorize.starts_with(&format!("{oidc}/openid/connect/authorize?")), "{authorize}");
    assert!(authorize.contains("scope=openid%20email%20profile"), "{authorize}");
    let query = query_of(&authorize);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], format!("{}/auth/slack/callback", app.address));
    assert_eq!(query["team"], warroom::sandbox::TEAM_ID);
    let (state, nonce) = (&query["state"], &query["nonce"]);
    assert!(state.len() >= 32 && nonce.len() >= 32 && state != nonce);
    assert!(cookie.starts_with(&format!("warroom_login={state};")), "{cookie}");
    for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/auth/slack", "Max-Age=600"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let (stored_nonce, next): (String, String) =
        sqlx::query_as("SELECT nonce, next_path FROM console_logins WHERE state_hash = sha256(convert_to($1, 'UTF8'))")
            .bind(state)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((stored_nonce.as_str(), next.as_str()), (nonce.as_str(), "/console/insights"));
    app.finish().await;
}

#[tokio::test]
async fn signing_in_as_bob_through_the_sandbox_opens_a_session_and_returns_to_the_page() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let response = sign_in(&mut visitor, &app.address, "/console/incidents/4?tab=timeline", BOB).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/incidents/4?tab=timeline");
    let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let session_cookie = cookies.iter().find(|c| c.starts_with("warroom_session=")).expect("a session cookie");
    for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(part), "{session_cookie}");
    }
    assert!(cookies.iter().any(|c| c.starts_with("warroom_login=;") && c.contains("Max-Age=0")), "{cookies:?}");
    assert_eq!(
        sessions(&app).await,
        [(BOB.into(), warroom::sandbox::TEAM_ID.into(), "bob".into(), Some("bob@example.com".into()))]
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM console_logins").fetch_one(&app.db).await.unwrap();
    assert_eq!(left, 0, "the sign-in was taken");
    // The session opens console pages: no more sending to sign in.
    let page = visitor.get(&format!("{}/console/incidents/4", viewer_page(&app).await)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.text().await.unwrap(), "hello bob (U0BOB)");
    app.finish().await;
}

#[tokio::test]
async fn the_sandbox_offers_its_people_and_refuses_a_wrong_client_or_redirect_url() {
    let (app, oidc) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let authorize = start(&mut visitor, &app.address, "/console").await;
    let html = visitor.get(&authorize).await.text().await.unwrap();
    for user in [ALICE, BOB, CAROL] {
        assert!(html.contains(&format!("value=\"{user}\"")), "{user}: {html}");
    }
    assert!(!html.contains("U0WARROOM"), "not the bot");

    let swap = |key: &str, value: &str| {
        let mut query = query_of(&authorize);
        query.insert(key.into(), value.into());
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
        format!("{oidc}/openid/connect/authorize?{query}")
    };
    let wrong_client = visitor.get(&swap("client_id", "999.999")).await;
    assert_eq!(wrong_client.status(), StatusCode::BAD_REQUEST);
    assert!(wrong_client.text().await.unwrap().contains("Invalid client_id"));
    let wrong_redirect = visitor.get(&swap("redirect_uri", "https://evil.example/cb")).await;
    assert_eq!(wrong_redirect.status(), StatusCode::BAD_REQUEST);
    assert!(wrong_redirect.text().await.unwrap().contains("redirect_uri did not match"));
    let no_openid = visitor.get(&swap("scope", "email")).await;
    assert_eq!(no_openid.status(), StatusCode::FOUND);
    assert!(location(&no_openid).contains("error=invalid_scope"), "{}", location(&no_openid));
    app.finish().await;
}

#[tokio::test]
async fn the_sandbox_token_endpoint_takes_a_code_once_for_its_client_and_redirect_url() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let callback = callback_for(&mut visitor, &app.address, BOB).await;
    let code = query_of(&callback)["code"].clone();
    let redirect = format!("{}/auth/slack/callback", app.address);
    let exchange = |secret: &str, redirect: &str| {
        let form =
            [("client_id", CLIENT_ID), ("client_secret", secret), ("code", code.as_str()), ("redirect_uri", redirect)];
        let request =
            warroom::tls::http_client().post(format!("{}/openid.connect.token", app.slack_api_url())).form(&form);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(exchange("wrong", &redirect).await["error"], "bad_client_secret");
    // A refused secret does not use the code up; a wrong redirect URL does (as the code is taken).
    assert_eq!(exchange(CLIENT_SECRET, "https://evil.example/cb").await["error"], "bad_redirect_uri");
    assert_eq!(exchange(CLIENT_SECRET, &redirect).await["error"], "invalid_code", "used once");

    let late = callback_for(&mut visitor, &app.address, BOB).await;
    let code = query_of(&late)["code"].clone();
    app.clock.advance(chrono::Duration::minutes(11));
    let form = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
    ];
    let answer: serde_json::Value = warroom::tls::http_client()
        .post(format!("{}/openid.connect.token", app.slack_api_url()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, json!({ "ok": false, "error": "invalid_code" }), "ten minutes at most");
    app.finish().await;
}

#[tokio::test]
async fn a_forged_state_is_refused() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let callback = callback_for(&mut visitor, &app.address, BOB).await;
    let code = query_of(&callback)["code"].clone();
    // The forger's state in the URL and in the cookie alike: no sign-in of warroom's has it.
    visitor.cookies.insert("warroom_login".into(), ("forged".into(), "/auth/slack".into()));
    let forged = visitor.get(&format!("{}/auth/slack/callback?code={code}&state=forged", app.address)).await;
    assert_refused(&app, forged, "This sign-in is unknown").await;
    app.finish().await;
}

#[tokio::test]
async fn a_state_used_twice_is_refused() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let authorize = start(&mut visitor, &app.address, "/console").await;
    let login_cookie = visitor.cookies["warroom_login"].clone();
    let callback = choose(&mut visitor, &authorize, BOB).await;
    assert_eq!(visitor.get(&callback).await.status(), StatusCode::SEE_OTHER);
    let mut replay = Visitor::default();
    replay.cookies.insert("warroom_login".into(), login_cookie);
    let again = replay.get(&callback).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("was used already"));
    assert_eq!(sessions(&app).await.len(), 1, "one session, from the first use");
    app.finish().await;
}

#[tokio::test]
async fn a_callback_in_a_browser_that_did_not_start_the_sign_in_is_refused() {
    let (app, _) = spawn_with_sign_in().await;
    let mut victim = Visitor::default();
    let callback = callback_for(&mut victim, &app.address, BOB).await;
    let mut other = Visitor::default();
    let refused = other.get(&callback).await;
    assert_refused(&app, refused, "This sign-in was not started in this browser").await;
    // The sign-in is not used up by the attempt: its own browser still finishes it.
    assert_eq!(victim.get(&callback).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(sessions(&app).await.len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_another_team_or_expired_is_refused() {
    let (app, _) = spawn_with_sign_in().await;
    for (spoiled, words) in [
        (Spoiled::OtherNonce, "does not belong to this sign-in attempt"),
        (Spoiled::OtherTeam, "You signed in to another Slack workspace"),
        (Spoiled::Expired, "The sign-in from Slack has expired"),
    ] {
        app.slack.spoil_next_id_token(spoiled);
        let mut visitor = Visitor::default();
        let response = sign_in(&mut visitor, &app.address, "/console", BOB).await;
        assert_refused(&app, response, words).await;
    }
    app.finish().await;
}

#[tokio::test]
async fn a_code_slack_refuses_is_said_in_words() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let callback = callback_for(&mut visitor, &app.address, BOB).await;
    let state = query_of(&callback)["state"].clone();
    let bogus = visitor.get(&format!("{}/auth/slack/callback?code=not-a-code&state={state}", app.address)).await;
    assert_refused(&app, bogus, "the sign-in code is not valid (it expired, or was used already) (invalid_code)").await;
    app.finish().await;
}

#[tokio::test]
async fn cancelling_at_slack_is_said_and_signs_nobody_in() {
    let (app, oidc) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let authorize = start(&mut visitor, &app.address, "/console").await;
    let mut form: Vec<(String, String)> = query_of(&authorize).into_iter().collect();
    form.push(("cancel".into(), "1".into()));
    let cancelled = visitor.post_form(&format!("{oidc}/openid/connect/authorize"), &form).await;
    let callback = location(&cancelled);
    assert!(callback.contains("error=access_denied"), "{callback}");
    let response = visitor.get(&callback).await;
    assert_refused(&app, response, "You did not allow warroom to sign you in with Slack").await;
    app.finish().await;
}

#[tokio::test]
async fn a_sign_in_that_took_longer_than_ten_minutes_is_refused() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    let callback = callback_for(&mut visitor, &app.address, BOB).await;
    app.clock.advance(chrono::Duration::minutes(11));
    let response = visitor.get(&callback).await;
    assert_refused(&app, response, "took longer than 10 minutes").await;
    app.finish().await;
}

#[tokio::test]
async fn a_next_outside_the_console_returns_to_the_console() {
    let (app, _) = spawn_with_sign_in().await;
    let elsewhere = [
        "//evil.example/console",
        "https://evil.example/",
        "/console.evil",
        "/api/v1/incidents",
        "/console/\r\nSet-Cookie: a=b",
    ];
    for elsewhere in elsewhere {
        let mut visitor = Visitor::default();
        let response = sign_in(&mut visitor, &app.address, elsewhere, ALICE).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{elsewhere}");
        assert_eq!(location(&response), "/console", "{elsewhere}");
    }
    app.finish().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    sign_in(&mut visitor, &app.address, "/console", BOB).await;
    let old_cookie = visitor.session().unwrap();

    let out = Visitor::client()
        .post(format!("{}/auth/logout", app.address))
        .header("cookie", &old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/auth/slack/login?signed_out=1");
    let cleared = out.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.starts_with("warroom_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert!(sessions(&app).await.is_empty());

    let page = viewer_page(&app).await;
    let again = Visitor::client().get(format!("{page}/console/x")).header("cookie", &old_cookie).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "the old cookie is sent to sign in again");
    assert_eq!(location(&again), "/auth/slack/login?next=%2Fconsole%2Fx");
    let page = console_get(&app, "/auth/slack/login?signed_out=1", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("You are signed out.") && html.contains("Sign in with Slack"), "{html}");
    assert!(!html.contains("/auth/logout"), "no sign-out button for nobody");
    app.finish().await;
}

#[tokio::test]
async fn bad_bytes_in_the_sign_in_are_a_clear_refusal_not_a_failure() {
    let (app, _) = spawn_with_sign_in().await;
    let odd = console_get(&app, "/auth/slack/callback?state=%FF%FE&code=%00", None).await;
    assert_eq!(odd.status(), StatusCode::BAD_REQUEST);
    let empty = console_get(&app, "/auth/slack/callback", None).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("The sign-in link is incomplete"));
    let mut visitor = Visitor::default();
    let authorize = start(&mut visitor, &app.address, "/console\u{0}\u{fffd}").await;
    assert!(authorize.contains("state="));
    let next: String = sqlx::query_scalar("SELECT next_path FROM console_logins").fetch_one(&app.db).await.unwrap();
    assert!(next.starts_with("/console"), "{next:?}");
    // Words in Slack's `error` that are no error code of Slack's are not repeated on the page.
    let state = query_of(&authorize)["state"].clone();
    let odd_error = format!("{}/auth/slack/callback?error=%3Cb%3EYour+account+is+locked&state={state}", app.address);
    let refused = visitor.get(&odd_error).await;
    assert_refused(&app, refused, "Slack did not sign you in (an error it did not name)").await;
    app.finish().await;
}

#[tokio::test]
async fn with_real_slack_and_no_client_the_sign_in_is_off_and_says_what_to_set() {
    let app = spawn_app().await;
    let response = console_get(&app, "/auth/slack/login?next=%2Fconsole", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign in with Slack is not set up: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"), "{html}");
    let callback = console_get(&app, "/auth/slack/callback?code=x&state=y", None).await;
    assert_eq!(callback.status(), StatusCode::BAD_REQUEST);
    app.finish().await;
}

#[tokio::test]
async fn housekeeping_deletes_expired_sessions_and_stale_sign_ins() {
    let (app, _) = spawn_with_sign_in().await;
    let mut visitor = Visitor::default();
    sign_in(&mut visitor, &app.address, "/console", BOB).await;
    start(&mut Visitor::default(), &app.address, "/console").await;
    app.clock.advance(session::LIFETIME + chrono::Duration::minutes(1));
    start(&mut Visitor::default(), &app.address, "/console").await; // still under way: kept
    warroom::jobs::purge::run(&app.state).await.unwrap();
    assert!(sessions(&app).await.is_empty());
    let logins: i64 = sqlx::query_scalar("SELECT count(*) FROM console_logins").fetch_one(&app.db).await.unwrap();
    assert_eq!(logins, 1, "only the sign-in under way is left");
    app.finish().await;
}
