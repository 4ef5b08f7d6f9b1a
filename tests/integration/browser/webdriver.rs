//! Just enough of the W3C WebDriver protocol, over reqwest, to drive headless Chromium through
//! chromedriver: a session, navigation, elements (CSS), clicks, keys, scripts and screenshots.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key `Enter` in WebDriver's key codes.
pub const ENTER: &str = "\u{E007}";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one headless Chromium session; both end when this is dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: tokio::process::Child,
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
        let mut driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
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

        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        } } });
        let answer: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session =
            answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_string();
        let browser = Self { http, session: format!("{base}/session/{session}"), _driver: driver };
        // Finding an element waits up to 10 s for it to appear; scripts may wait up to 30 s (the
        // page's long-poll is answered within 25 s, so a wait for its next look always ends).
        browser.command("POST", "/timeouts", json!({ "implicit": 10_000, "script": 30_000 })).await;
        browser
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|error| panic!("WebDriver {method} {path} failed: {error}"))
    }

    /// A command's value, or WebDriver's error object.
    async fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, Value> {
        let url = format!("{}{path}", self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"]["error"].is_string() {
            return Err(answer["value"].clone());
        }
        Ok(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    /// The first element matching `css`, waiting (implicitly) for it to appear.
    pub async fn find(&self, css: &str) -> String {
        let found = self.command("POST", "/element", json!({ "using": "css selector", "value": css })).await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    /// Clicks the first element matching `css`. The page re-renders a channel when the workspace
    /// changes, so the element found may be replaced before the click lands ("stale element
    /// reference"): then the new one is found and clicked.
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.find(css).await;
            match self.try_command("POST", &format!("/element/{id}/click"), json!({})).await {
                Ok(_) => return,
                Err(error) if error["error"] == "stale element reference" => continue,
                Err(error) => panic!("WebDriver click on {css} failed: {error}"),
            }
        }
        panic!("{css} was replaced by the page five times in a row before it could be clicked");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command("POST", &format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    /// Runs `script` in the page (with `args`) and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": args })).await
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
            self.command("POST", "/execute/async", json!({ "script": next_poll, "args": [polls] })).await;
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "/screenshot", Value::Null).await;
        base64_decode(encoded.as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session so that Chromium exits with chromedriver (killed on drop).
        // A new client on its own runtime: the test's runtime is blocked here, and the pooled
        // connections of `self.http` are driven by it.
        let url = self.session.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async { reqwest::Client::new().delete(url).send().await.ok() });
        })
        .join();
    }
}

/// Standard base64 (what WebDriver screenshots are), without a crate for twenty lines.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_it_should() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8hIQ=="), b"hello!!");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
