//! The sandbox web page in a real browser: a real `warroom serve` in sandbox mode (no Slack
//! token), headless Chromium driven over WebDriver, and one whole incident walked through the
//! page as two people — declare, acknowledge, update, diagnose, approve a restart, resolve,
//! export. With `UPDATE_SCREENSHOTS=1` it saves the main states to `docs/screenshots/`.

pub(crate) mod webdriver;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;

use crate::harness::*;
use webdriver::{Browser, ENTER};

/// A `warroom serve` child process in sandbox mode, killed (and its directory removed) when
/// dropped.
pub(crate) struct Warroom {
    _child: tokio::process::Child,
    pub(crate) url: String,
    dir: PathBuf,
    /// What it has logged so far (stderr, one JSON object a line), and a wake-up per line.
    log: Arc<(Mutex<Vec<String>>, Notify)>,
}

impl Warroom {
    /// Waits (up to 30 s) until a line of the log contains `needle`; returns the whole log.
    pub(crate) async fn wait_for_log(&self, needle: &str) -> String {
        let seen = async {
            loop {
                let woken = self.log.1.notified();
                let log = self.log.0.lock().unwrap().join("\n");
                if log.contains(needle) {
                    return log;
                }
                woken.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), seen)
            .await
            .unwrap_or_else(|_| panic!("warroom never logged {needle:?}"))
    }
}

impl Drop for Warroom {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local service for the diagnostics: `/health` answers 503, as a service that is down.
async fn health_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/health", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "{\"status\":\"oom-killed\"}") }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A fresh directory for a warroom child process's files (removed with its [`Warroom`]).
pub(crate) fn warroom_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-browser-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts warroom with no Slack token (so the sandbox and its page are served), the test's
/// database, `dir/warroom.toml` as its configuration and `envs` besides; returns once it logs
/// that it listens.
pub(crate) async fn start_sandbox_warroom(app: &TestApp, dir: PathBuf, envs: &[(&str, String)]) -> Warroom {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("serve")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("DATABASE_URL", app.database_url())
        .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
        .env("WARROOM_CONFIG", dir.join("warroom.toml"))
        .env("WARROOM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("warroom listening on port") {
                return;
            }
        }
        panic!("warroom exited before it listened");
    };
    tokio::time::timeout(Duration::from_secs(60), listening).await.expect("warroom listened within 60 s");
    let log = Arc::new((Mutex::new(Vec::new()), Notify::new()));
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.0.lock().unwrap().push(line);
            kept.1.notify_waiters();
        }
    });
    Warroom { _child: child, url: format!("http://127.0.0.1:{port}"), dir, log }
}

/// Starts the sandbox warroom of the walk: `inference-gateway` with the http and docker packs
/// (`docker` is a shim), and bob as the approver.
async fn start_warroom(app: &TestApp, ingress: Ingress) -> Warroom {
    let dir = warroom_dir();
    let docker = dir.join("docker");
    std::fs::write(&docker, "#!/bin/sh\necho inference-gateway\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "[slack]\nchannel_post_interval = \"0s\"\n\n\
         [services.inference-gateway]\npacks = [\"http\", \"docker\"]\n\
         params = {{ health_url = \"{}\", container = \"inference-gateway\" }}\n\n\
         [approvals]\napprovers = [\"U0BOB\"]\n\n\
         [roles]\nresponders = [\"U0ALICE\", \"U0BOB\"]\n",
        health_server().await
    );
    std::fs::write(dir.join("warroom.toml"), config).unwrap();
    let mut envs = vec![("WARROOM_DIAGNOSTICS_PATH", format!("{}:/usr/bin:/bin", dir.display()))];
    if ingress == Ingress::SocketMode {
        envs.push(("SLACK_APP_TOKEN", warroom::sandbox::socket::APP_TOKEN.to_string()));
    }
    start_sandbox_warroom(app, dir, &envs).await
}

/// How the sandbox's Slack reaches warroom: signed HTTP requests, or Socket Mode envelopes over
/// warroom's WebSockets (`SLACK_APP_TOKEN`).
#[derive(Clone, Copy, PartialEq)]
enum Ingress {
    Http,
    SocketMode,
}

/// Saves what the browser shows as `docs/screenshots/<name>.png` when `UPDATE_SCREENSHOTS=1`
/// (from the HTTP walk only).
async fn screenshot(browser: &Browser, ingress: Ingress, name: &str) {
    if ingress != Ingress::Http {
        return;
    }
    browser.save_screenshot(name).await;
}

async fn act_as(browser: &Browser, user: &str) {
    browser.click(&format!("#user option[value=\"{user}\"]")).await;
}

async fn command(browser: &Browser, text: &str) {
    browser.type_into("#composer", &format!("{text}{ENTER}")).await;
}

#[tokio::test]
async fn a_newcomer_walks_a_whole_incident_in_the_sandbox_page() {
    walk(Ingress::Http).await;
}

#[tokio::test]
async fn the_same_walk_works_over_socket_mode() {
    walk(Ingress::SocketMode).await;
}

async fn walk(ingress: Ingress) {
    let app = spawn_app().await;
    let warroom = start_warroom(&app, ingress).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sandbox", warroom.url)).await;
    browser.wait_for_text("#channels", "the channel list", |t| t.contains("incidents")).await;

    // Alice declares from #incidents; the page opens the new channel.
    command(&browser, "/incident declare P0 inference-gateway Inference API returns 100% errors").await;
    browser.wait_for_text("#channels", "the incident channel", |t| t.contains("inc-1-inference-gateway")).await;
    browser.click("[data-channel^=\"inc-1-\"]").await;
    let declared = browser.wait_for_text("#messages", "the declaration", |t| t.contains("MAJOR INCIDENT")).await;
    assert!(declared.contains("Inference API returns 100% errors"), "{declared}");
    assert!(declared.contains("@alice"), "mentions render as names: {declared}");
    assert!(!declared.contains("<@U0ALICE>") && !browser.text("#messages b").await.is_empty(), "mrkdwn is rendered");
    assert_eq!(browser.text("#channel-name").await, "#inc-1-inference-gateway");
    browser.find("button.primary[data-action-id=\"incident.acknowledge\"]").await;
    browser.find("button.danger[data-action-id=\"incident.resolve\"]").await;
    screenshot(&browser, ingress, "declared").await;

    // Bob acknowledges with the button.
    act_as(&browser, "U0BOB").await;
    browser.click("[data-action-id=\"incident.acknowledge\"]").await;
    let acknowledged =
        browser.wait_for_text("#messages", "the acknowledgement", |t| t.contains("Acknowledged by @bob")).await;
    assert_eq!(browser.text("[data-action-id=\"incident.acknowledge\"]").await, "", "no Acknowledge once done");
    assert!(acknowledged.contains("(edited)"), "the declaration was updated in place");
    screenshot(&browser, ingress, "acknowledged").await;

    // Alice posts an update inline, then runs a health check.
    act_as(&browser, "U0ALICE").await;
    command(&browser, "/incident update status=identified cause=\"OOM kill (exit 137)\"").await;
    browser.wait_for_text("#messages", "the status update", |t| t.contains("UPDATE") && t.contains("OOM kill")).await;
    let replies =
        browser.wait_for_text(".ephemeral", "the update's reply", |t| t.contains("✅ Update recorded for INC-1")).await;
    assert!(!replies.contains(":white_check_mark:"), "shortcodes render as emoji: {replies}");
    let code = browser.run("return mrkdwn(arguments[0])", serde_json::json!(["`:x:` :x: :no_such_emoji:"])).await;
    assert_eq!(code, "<code>:x:</code> ❌ :no_such_emoji:", "not in code, and not unknown ones");
    command(&browser, "/incident run http.health").await;
    let diagnosed = browser
        .wait_for_text("#messages", "the health check's output", |t| t.contains("HTTP 503 Service Unavailable"))
        .await;
    assert!(diagnosed.contains("http.health") && diagnosed.contains("oom-killed"), "{diagnosed}");
    assert!(browser.text(".ephemeral").await.contains("Running http.health for INC-1"), "the reply shows to alice");
    screenshot(&browser, ingress, "diagnostic").await;

    // Alice asks for a restart; bob approves it.
    command(&browser, "/incident run docker.restart reason=\"OOM loop\"").await;
    browser.wait_for_text(".ephemeral", "the change notice", |t| t.contains("docker.restart is a change")).await;
    browser.find("[data-action-id=\"approval.approve\"]").await;
    act_as(&browser, "U0BOB").await;
    browser.click("[data-action-id=\"approval.approve\"]").await;
    let asked = browser
        .wait_for_text("#confirm", "the approval's confirm dialog", |t| t.contains("Approve this change?"))
        .await;
    assert!(asked.contains("docker restart inference-gateway"), "{asked}");
    screenshot(&browser, ingress, "approval").await;
    browser.click("#confirm-yes").await;
    browser.wait_for_text("#messages", "the approval", |t| t.contains("Approved by @bob")).await;
    browser.wait_for_text("#messages", "the restart's output", |t| t.contains("🔎 docker.restart")).await;

    // Alice resolves through the button, its confirm dialog and the modal.
    act_as(&browser, "U0ALICE").await;
    browser.click("[data-action-id=\"incident.resolve\"]").await;
    browser.wait_for_text("#confirm-title", "the confirm dialog", |t| t.contains("Resolve INC-1?")).await;
    browser.click("#confirm-yes").await;
    browser.wait_for_text("#modal h2", "the resolve modal", |t| t.contains("Resolve INC-1")).await;
    let cause =
        browser.run("return document.querySelector('[data-input=\"cause\"]').value", serde_json::json!([])).await;
    assert_eq!(cause, "OOM kill (exit 137)", "the modal is filled with the current root cause");
    browser.type_into("[data-input=\"resolution\"]", "Raised the memory limit to 4G and restarted").await;
    browser.click("#modal-submit").await;
    let resolved = browser.wait_for_text("#messages", "the resolution", |t| t.contains("RESOLVED")).await;
    assert!(resolved.contains("Raised the memory limit to 4G"), "{resolved}");
    assert!(browser.run("return document.getElementById('modal').hidden", serde_json::json!([])).await == true);
    screenshot(&browser, ingress, "resolved").await;

    // The report, as a download.
    command(&browser, "/incident export md").await;
    let link = browser
        .wait_for_text("#messages a[data-file-id]", "the report's link", |t| t.contains("post-incident report"))
        .await;
    let href = browser
        .run("return document.querySelector('#messages a[data-file-id]').getAttribute('href')", serde_json::json!([]))
        .await;
    let report =
        warroom::tls::http_client().get(format!("{}{}", warroom.url, href.as_str().unwrap())).send().await.unwrap();
    assert_eq!(report.status(), 200, "{link}");
    let report = report.text().await.unwrap();
    assert!(report.contains("INC-1") && report.contains("OOM kill (exit 137)"), "{report}");

    // Everything above went the way the ingress says.
    let metrics =
        warroom::tls::http_client().get(format!("{}/metrics", warroom.url)).send().await.unwrap().text().await.unwrap();
    let over_sockets =
        metrics.lines().any(|l| l.starts_with("warroom_slack_socket_envelopes_total{type=\"interactive\""));
    let over_http = metrics.contains("route=\"/slack/interactions\"");
    assert_eq!((over_sockets, over_http), (ingress == Ingress::SocketMode, ingress == Ingress::Http), "{metrics}");

    browser.close().await;
    drop(warroom);
    app.finish().await;
}
