//! Headless Chromium through chromedriver, driven with fantoccini: starting the driver, and the
//! few things the walk does with the page (find, click, type, run a script, wait for text,
//! screenshot) with the waits and retries the sandbox page needs.

use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{elements::Element, key::Key, Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const ENTER: Key = Key::Enter;

/// chromedriver and one headless Chromium session. [`Browser::close`] ends the session; dropping
/// it (a failed test) kills chromedriver's process group, Chromium with it.
pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
}

impl Browser {
    /// Starts chromedriver on a free port (waiting for it to say it started) and opens a session.
    pub async fn start() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(program).exists(),
                "{program} is missing: the browser test needs Chromium and its driver; \
                 install them with `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = std::process::Command::new(CHROMEDRIVER);
        // Its own process group, so that the browsers it starts can be ended with it.
        command.arg(format!("--port={port}")).process_group(0);
        let mut driver = tokio::process::Command::from(command)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let started = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("started successfully") {
                    return;
                }
            }
            panic!("chromedriver exited before it started");
        };
        tokio::time::timeout(Duration::from_secs(30), started).await.expect("chromedriver started within 30 s");
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        // chromedriver on loopback speaks plain HTTP: no TLS connector.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromedriver session");
        // Finding an element waits up to 10 s for it to appear; scripts may wait up to 30 s (the
        // page's long-poll is answered within 25 s, so a wait for its next look always ends).
        let timeouts = TimeoutConfiguration::new(Some(Duration::from_secs(30)), None, Some(Duration::from_secs(10)));
        client.update_timeouts(timeouts).await.expect("WebDriver timeouts set");
        Self { client, driver }
    }

    /// Ends the session (Chromium exits) and then chromedriver.
    pub async fn close(self) {
        self.client.clone().close().await.expect("the WebDriver session ends");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("WebDriver goto {url} failed: {e}"));
    }

    /// The first element matching `css`, waiting (implicitly) for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("WebDriver find {css} failed: {e}"))
    }

    /// Clicks the first element matching `css`. The page re-renders a channel when the workspace
    /// changes, so the element found may be replaced before the click lands ("stale element
    /// reference"): then the new one is found and clicked.
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(error) if error.is_stale_element_reference() => continue,
                Err(error) => panic!("WebDriver click on {css} failed: {error}"),
            }
        }
        panic!("{css} was replaced by the page five times in a row before it could be clicked");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.unwrap_or_else(|e| panic!("WebDriver keys to {css} failed: {e}"));
    }

    /// Runs `script` in the page (with `args`, a JSON array) and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        let Value::Array(args) = args else { panic!("script arguments are an array: {args}") };
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("WebDriver script failed: {e}"))
    }

    /// The visible text of every element matching `css`, joined by newlines ("" when none).
    pub async fn text(&self, css: &str) -> String {
        let script = "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText).join('\\n')";
        self.run(script, json!([css])).await.as_str().unwrap_or("").to_string()
    }

    /// Waits (up to 60 s) until `condition` holds for the text of `css`, re-reading after each of
    /// the page's own looks at the workspace (it counts them in `window.sandboxPolls` and
    /// announces them with a `sandbox:polled` event). The text and the count are read together,
    /// so a look that lands in between is not waited for again.
    pub async fn wait_for_text(&self, css: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let read = "return [window.sandboxPolls, \
                    [...document.querySelectorAll(arguments[0])].map(e => e.innerText).join('\\n')]";
        loop {
            let seen = self.run(read, json!([css])).await;
            let (polls, text) = (seen[0].clone(), seen[1].as_str().unwrap_or("").to_string());
            if condition(&text) {
                return text;
            }
            if Instant::now() >= deadline {
                let replies = self.text("#notice, .ephemeral").await;
                panic!("timed out waiting for {what}; `{css}` shows:\n{text}\nreplies and notices:\n{replies}");
            }
            let next_poll = "const done = arguments[arguments.length - 1]; \
                             if (window.sandboxPolls > arguments[0]) done(true); \
                             else window.addEventListener('sandbox:polled', () => done(true), { once: true });";
            self.client
                .execute_async(next_poll, vec![polls])
                .await
                .unwrap_or_else(|e| panic!("WebDriver wait for the page's next look failed: {e}"));
        }
    }

    /// Gives the browser a cookie for the site it is on (go to a page of that site first): the
    /// console's tests sign in with a session made by `console_support`.
    pub async fn add_cookie(&self, name: &str, value: &str) {
        // Every field given: fantoccini sends a missing domain or expiry as `null`, which
        // chromedriver refuses ("invalid 'domain'"), and a missing SameSite as `None`.
        let url = self.client.current_url().await.unwrap_or_else(|e| panic!("WebDriver current URL failed: {e}"));
        let host = url.host_str().unwrap_or("127.0.0.1");
        let text =
            format!("{name}={value}; Domain={host}; Path=/; SameSite=Lax; Expires=Fri, 01 Jan 2100 00:00:00 GMT");
        let cookie = fantoccini::cookies::Cookie::parse(text).unwrap_or_else(|e| panic!("cookie {name}: {e}"));
        self.client.add_cookie(cookie).await.unwrap_or_else(|e| panic!("WebDriver add cookie {name} failed: {e}"));
    }

    /// Resizes the window (a phone: 390 × 844).
    #[allow(dead_code)] // for the console's phone-width checks
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap_or_else(|e| panic!("WebDriver resize failed: {e}"));
    }

    /// The WebDriver client, for what the helpers here do not cover.
    #[allow(dead_code)] // for the console's tests
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Saves what the window shows as `docs/screenshots/<name>.png` when `UPDATE_SCREENSHOTS=1`
    /// (the README's pictures); always checks that a PNG was taken.
    pub async fn save_screenshot(&self, name: &str) {
        let png = self.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap_or_else(|e| panic!("WebDriver screenshot failed: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After `close` this ends chromedriver alone; after a failure, the Chromium it started
        // too (the session is not ended: the test's runtime, which drives it, is blocked here).
        if let Some(pid) = self.driver.id() {
            // SAFETY: a plain syscall on the process group this test made for chromedriver.
            unsafe { libc::killpg(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}
