//! Shared set-up of the console's tests: a signed-in session for a sandbox user (made as the
//! sign-in makes one, without the browser round trip the sign-in tests walk), and requests to
//! console pages carrying its cookie.

use warroom::console::session::{self, Viewer};

use crate::harness::{NowUtc, TestApp};

/// A console session for `user` (U0ALICE, U0BOB, U0CAROL); the `Cookie` header that carries it.
pub async fn console_cookie(app: &TestApp, user: &str) -> String {
    let name = user.trim_start_matches("U0").to_lowercase();
    let viewer = Viewer {
        user_id: user.into(),
        team_id: warroom::sandbox::TEAM_ID.into(),
        name,
        email: Some(format!("{}@example.com", user.trim_start_matches("U0").to_lowercase())),
    };
    let token = session::create(&app.db, &viewer, app.clock.now_utc()).await.unwrap();
    format!("{}={token}", session::COOKIE)
}

/// `GET {path}` on the app with `cookie` (no redirects followed: a test sees them).
pub async fn console_get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let client = warroom::tls::http_client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.get(format!("{}{path}", app.address));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// Headless Chromium signed in to the app's console as `user` (a session cookie set on the
/// app's origin), at 1280 px wide.
pub async fn console_browser(app: &TestApp, user: &str) -> crate::browser::webdriver::Browser {
    let browser = crate::browser::webdriver::Browser::start().await;
    browser.goto(&format!("{}/console/assets/console.css", app.address)).await;
    let cookie = console_cookie(app, user).await;
    let (name, value) = cookie.split_once('=').unwrap();
    browser.add_cookie(name, value).await;
    browser
}
