//! Sign in with Slack against a real `warroom serve` in sandbox mode (the sandbox as the
//! OpenID provider, at `/sandbox`): in headless Chromium as a person would, and by hand while
//! reading its log for anything secret.

use serde_json::json;
use warroom::console::session;
use warroom::sandbox::openid::CLIENT_SECRET;

use crate::console_auth::{callback_for, query_of, Visitor};
use crate::harness::*;

#[tokio::test]
async fn no_code_token_or_secret_reaches_a_page_or_the_log() {
    // A real `warroom serve` in sandbox mode, logging everything down to debug.
    let app = spawn_app().await;
    let dir = crate::browser::warroom_dir();
    std::fs::write(dir.join("warroom.toml"), "").unwrap();
    let warroom = crate::browser::start_sandbox_warroom(&app, dir, &[("RUST_LOG", "debug".into())]).await;

    let mut pages = String::new();
    let mut codes = Vec::new();
    for bogus_code in [false, true] {
        let mut visitor = Visitor::default();
        let mut callback = callback_for(&mut visitor, &warroom.url, BOB).await;
        let code = query_of(&callback)["code"].clone();
        if bogus_code {
            // Slack refuses it: the refusal is said, and still nothing secret with it.
            callback = callback.replace(&code, "not-a-code");
        }
        codes.push(code);
        let response = visitor.get(&callback).await;
        let headers = format!("{:?}", response.headers());
        pages.push_str(&format!("{headers}\n{}", response.text().await.unwrap()));
    }
    warroom.wait_for_log("U0BOB signed in to the console").await;
    let log = warroom.wait_for_log("a console sign-in was refused").await;
    assert!(pages.contains("(invalid_code)"), "{pages}");
    for (what, text) in [("a page", &pages), ("the log", &log)] {
        for code in &codes {
            assert!(!text.contains(code.as_str()), "the code in {what}");
        }
        assert!(!text.contains(CLIENT_SECRET), "the client secret in {what}");
        assert!(!text.contains("xoxp-"), "an access token in {what}");
        assert!(!text.contains("eyJ"), "an ID token (a JWT) in {what}");
    }
    drop(warroom);
    app.finish().await;
}

#[tokio::test]
async fn a_person_signs_in_with_the_sandbox_in_a_real_browser_and_signs_out() {
    use crate::browser::webdriver::Browser;
    let app = spawn_app().await;
    let dir = crate::browser::warroom_dir();
    std::fs::write(dir.join("warroom.toml"), "").unwrap();
    let warroom = crate::browser::start_sandbox_warroom(&app, dir, &[]).await;
    let browser = Browser::start().await;

    // A signed-out /console sends the browser to sign in.
    browser.goto(&format!("{}/console", warroom.url)).await;
    browser.find("button[value=\"U0BOB\"]").await;
    assert!(browser.text("h1").await.contains("Sign in to the sandbox workspace as"));
    browser.click("button[value=\"U0BOB\"]").await;

    // Back on the list, signed in as bob (waited for: the click's redirects may still be on their way).
    browser.find("form.filters").await;
    assert_eq!(browser.text("header .who .name").await, "bob");
    let url = browser.client().current_url().await.unwrap();
    assert_eq!((url.origin().ascii_serialization(), url.path()), (warroom.url.clone(), "/console"));
    let cookies = browser.client().get_all_cookies().await.unwrap();
    let session = cookies.iter().find(|c| c.name() == session::COOKIE).expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    let visible = browser.run("return document.cookie", json!([])).await;
    assert!(!visible.as_str().unwrap_or("").contains(session::COOKIE), "scripts cannot read it: {visible}");

    // Sign out with the layout's form.
    browser.click("form[action=\"/auth/logout\"] button").await;
    browser.find("section.signin a.button").await;
    assert!(browser.text("main").await.contains("You are signed out."));
    let cookies = browser.client().get_all_cookies().await.unwrap();
    assert!(cookies.iter().all(|c| c.name() != session::COOKIE), "the session cookie is gone");
    browser.close().await;
    drop(warroom);
    app.finish().await;
}
