//! No accidental sandbox: without `SLACK_BOT_TOKEN`, `warroom serve` runs the sandbox only on a
//! loopback listener or with `WARROOM_SANDBOX=1`, and refuses otherwise; with real Slack nothing
//! is served under `/sandbox`. The processes here listen on 0.0.0.0 at most; every request goes
//! to 127.0.0.1.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::*;
use crate::statuspage::{declared, gateway_app};

fn warroom_serve() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
    command
        .arg("serve")
        .env_clear()
        .env("WARROOM_CONFIG", "/dev/null")
        .env("WARROOM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn serve_without_a_slack_token_on_a_non_loopback_address_refuses_and_names_the_variables() {
    let child = warroom_serve()
        .env("WARROOM_LISTEN", "0.0.0.0:0")
        // Never reached: the refusal comes before the database (and before any bind).
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/unreachable")
        .spawn()
        .unwrap();

    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("warroom exits instead of serving")
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SLACK_BOT_TOKEN is not set") && stderr.contains("WARROOM_SANDBOX=1"), "{stderr}");
    assert!(stderr.contains("0.0.0.0:0"), "says which address: {stderr}");
    assert!(!stderr.contains("listening") && !stderr.contains("database"), "nothing started: {stderr}");
}

#[tokio::test]
async fn serve_with_warroom_sandbox_runs_the_sandbox_on_any_address_and_warns_of_the_old_runner_token() {
    let app = spawn_app().await;
    let clock = std::env::temp_dir().join(format!("warroom-sandbox-clock-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&clock, app.clock.now_utc().to_rfc3339()).unwrap();
    let mut child = warroom_serve()
        .env("WARROOM_LISTEN", "0.0.0.0:0")
        .env("WARROOM_SANDBOX", "1")
        .env("DATABASE_URL", app.database_url())
        .env("WARROOM_FAKE_CLOCK_FILE", &clock)
        .env("WARROOM_RUNNER_TOKEN", "legacy-secret-token-value")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let port = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let port = line
                .split("warroom listening on port ")
                .nth(1)
                .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u16>().unwrap());
            log.push(line);
            if let Some(port) = port {
                return port;
            }
        }
        panic!("warroom exited before it listened: {log:#?}");
    })
    .await
    .expect("warroom listened within 60 s");

    let state = warroom::tls::http_client().get(format!("http://127.0.0.1:{port}/sandbox/state")).send().await.unwrap();
    assert_eq!(state.status(), 200, "the sandbox is served (to this machine)");
    let log = log.join("\n");
    assert!(log.contains("running against the in-process sandbox workspace"), "{log}");
    assert!(log.contains("WARROOM_RUNNER_TOKEN is deprecated") && log.contains("WARROOM_RUNNER_TOKENS"), "{log}");
    assert!(!log.contains("legacy-secret-token-value"), "the token is never logged: {log}");

    child.kill().await.unwrap();
    std::fs::remove_file(clock).unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_real_slack_app_serves_nothing_under_sandbox_and_its_sandbox_status_page_still_works() {
    // SLACK_BOT_TOKEN is set (the harness's Slack); no status page key: the sandbox status page.
    let app = gateway_app(|s| {
        s.statuspage_api_key = None;
        s.statuspage_page_id = None;
    })
    .await;
    let client = warroom::tls::http_client();
    let gets = ["", "/", "/state", "/files/F1", "/socket", "/statuspage/v1/pages/sandbox/incidents"];
    for path in gets {
        let response = client.get(format!("{}/sandbox{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 404, "GET /sandbox{path}");
    }
    let posts = [
        "/api/chat.postMessage",
        "/api/auth.test",
        "/response/1",
        "/upload/F1",
        "/command",
        "/click",
        "/submit",
        "/statuspage/v1/pages/sandbox/incidents",
    ];
    for path in posts {
        let response = client
            .post(format!("{}/sandbox{path}", app.address))
            .bearer_auth(warroom::sandbox::BOT_TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"channel":"incidents","text":"hello","user":"U0ALICE"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "POST /sandbox{path}");
    }

    declared(&app).await;
    let kinds = app.timeline(&app.only_incident().await).await;
    assert!(kinds.contains(&"statuspage_pushed".to_string()), "pushed to the private sandbox status page: {kinds:?}");
    app.finish().await;
}
