//! Diagnostics for real: an HTTP server, the local Postgres and Redis, and `docker`/`kubectl`
//! shims on PATH that record their arguments.

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::routing::get;
use warroom::config::ServiceConfig;

use crate::harness::*;

/// A directory of shim executables (created once for the test binary), first on the
/// diagnostics' PATH.
pub fn shims() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("warroom-shims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let calls = dir.join("calls");
        let shim = |name: &str, output: &str| {
            let path = dir.join(name);
            let script = format!("#!/bin/sh\necho \"{name} $*\" >> {}\n{output}\n", calls.display());
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        shim("docker", "echo 137");
        shim("systemctl", "echo '● api.service - API'; echo '   Active: failed (Result: exit-code) since Mon 2026-11-23 14:58:01 UTC'; exit 3");
        shim("dmesg", "echo '2026-11-23T14:57:59 eth0: link up'; echo '2026-11-23T14:58:00 Out of memory: Killed process 811 (api)'");
        shim("journalctl", "yes 'Nov 23 15:01:07 host api[811]: error: connection to db:5432 refused' | head -n 200");
        shim(
            "kubectl",
            "echo 'connecting with token: xoxb-1234567890-secretvalue'; echo 'pod api-7d9 CrashLoopBackOff'",
        );
        dir
    })
}

pub fn shim_calls() -> String {
    std::fs::read_to_string(shims().join("calls")).unwrap_or_default()
}

/// A local HTTP server: `/health` answers `status` with a small body.
async fn health_server(status: StatusCode) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/health", get(move || async move { (status, "{\"status\":\"degraded\"}") }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn app_with_service(params: &[(&str, &str)]) -> (TestApp, String) {
    app_with_service_and(params, |_| {}).await
}

/// An app whose service `api` uses the http, docker, kubernetes, postgres, redis, systemd and host packs with
/// `params`, with an INC-1 declared for it; returns the app and the incident channel.
pub async fn app_with_service_and(
    params: &[(&str, &str)],
    configure: impl FnOnce(&mut warroom::config::Settings) + Send + 'static,
) -> (TestApp, String) {
    shims();
    let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let service = ServiceConfig {
        packs: ["http", "docker", "kubernetes", "postgres", "redis", "systemd", "host"].map(String::from).to_vec(),
        params,
        ..Default::default()
    };
    let path = format!("{}:{}", shims().display(), std::env::var("PATH").unwrap_or_default());
    let app = spawn_app_with(move |s| {
        s.file.services.insert("api".into(), service);
        s.diagnostics_path = Some(path);
        configure(s);
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    // Bob, who runs the diagnostics in these tests, joins the incident channel.
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

pub async fn run(app: &TestApp, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(BOB, channel, text).await.unwrap();
    app.drain().await;
    reply.text()
}

fn last_post(app: &TestApp, channel: &str) -> String {
    let message = app.slack.channel(channel).unwrap().messages.pop().unwrap();
    message.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string()
}

pub async fn finished(app: &TestApp) -> Vec<serde_json::Value> {
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    events.into_iter().filter(|e| e.kind == "diagnostic_finished").map(|e| e.payload).collect()
}

#[tokio::test]
async fn the_http_health_check_reports_status_latency_and_body() {
    let up = health_server(StatusCode::OK).await;
    let (app, channel) = app_with_service(&[("health_url", &up)]).await;

    let reply = run(&app, &channel, "run http.health").await;

    assert!(reply.contains("Running `http.health` for INC-1"), "{reply}");
    let post = last_post(&app, &channel);
    assert!(post.contains("🔎 *http.health*") && post.contains("asked by <@U0BOB> · exit 0"), "{post}");
    assert!(post.contains("HTTP 200 OK in") && post.contains("degraded"), "{post}");
    assert_eq!(finished(&app).await[0]["exit_code"], 0);
    app.finish().await;
}

#[tokio::test]
async fn a_failing_health_check_exits_non_zero() {
    let down = health_server(StatusCode::INTERNAL_SERVER_ERROR).await;
    let (app, channel) = app_with_service(&[("health_url", &down)]).await;

    run(&app, &channel, "run http.health").await;

    assert!(last_post(&app, &channel).contains("HTTP 500 Internal Server Error"));
    assert_eq!(finished(&app).await[0]["exit_code"], 1);
    app.finish().await;
}

#[tokio::test]
async fn pg_isready_and_redis_ping_run_against_the_local_servers() {
    let (app, channel) = app_with_service(&[("pg_host", "127.0.0.1")]).await;

    run(&app, &channel, "run postgres.ready").await;
    let postgres = last_post(&app, &channel);
    run(&app, &channel, "run redis.ping").await;
    let redis = last_post(&app, &channel);

    assert!(postgres.contains("accepting connections") && postgres.contains("exit 0"), "{postgres}");
    assert!(redis.contains("PONG"), "{redis}");
    app.finish().await;
}

#[tokio::test]
async fn a_container_exit_code_is_explained() {
    let (app, channel) = app_with_service(&[("container", "inference-gateway")]).await;

    run(&app, &channel, "run docker.exit_code").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("137 — killed by SIGKILL: usually the OOM killer"), "{post}");
    assert!(shim_calls().contains("docker inspect inference-gateway --format {{.State.ExitCode}}"));
    app.finish().await;
}

#[tokio::test]
async fn injection_attempts_are_refused_before_anything_runs() {
    let (app, channel) = app_with_service(&[("container", "api")]).await;
    let before = app.timeline(&app.only_incident().await).await.len();

    for evil in ["container=api;reboot", "container=$(reboot)", "container=--privileged", "command=reboot"] {
        let reply = run(&app, &channel, &format!("run docker.logs {evil}")).await;
        assert!(reply.contains(":no_entry:"), "{evil}: {reply}");
    }
    let unknown = run(&app, &channel, "run rm.everything").await;

    assert!(unknown.contains("There is no diagnostic `rm.everything`"), "{unknown}");
    assert_eq!(app.timeline(&app.only_incident().await).await.len(), before, "nothing was recorded or run");
    assert!(!shim_calls().contains("reboot"));
    app.finish().await;
}

#[tokio::test]
async fn a_change_is_only_requested_not_run() {
    let (app, channel) = app_with_service(&[("container", "restart-me")]).await;

    let reply = run(&app, &channel, "run docker.restart").await;

    assert!(
        reply.contains("`docker.restart` is a change: it runs once 1 approver(s) other than you approve it"),
        "{reply}"
    );
    assert!(!shim_calls().contains("restart restart-me"));
    assert!(finished(&app).await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn secrets_in_output_are_redacted_in_slack_and_the_timeline() {
    let (app, channel) = app_with_service(&[("namespace", "prod"), ("deployment", "api")]).await;

    run(&app, &channel, "run kubernetes.logs").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("CrashLoopBackOff") && post.contains("[REDACTED]"), "{post}");
    assert!(!post.contains("xoxb-1234567890"));
    assert!(!finished(&app).await[0].to_string().contains("xoxb-1234567890"));
    app.finish().await;
}

#[tokio::test]
async fn diagnostics_lists_the_services_actions() {
    let (app, channel) = app_with_service(&[]).await;

    let list = run(&app, &channel, "diagnostics").await;

    assert!(list.contains("`/incident run docker.logs` — Last 100 log lines (read)"), "{list}");
    assert!(list.contains("`/incident run docker.restart` — docker restart (change, needs approval)"));
    assert!(!list.contains("compose.") && !list.contains("celery."), "only the service's packs");
    app.finish().await;
}

#[tokio::test]
async fn long_output_is_uploaded_as_a_file_in_three_steps() {
    let (app, channel) = app_with_service(&[("unit", "api")]).await;

    run(&app, &channel, "run systemd.journal since=\"15 minutes ago\"").await;

    let messages = app.slack.channel(&channel).unwrap().messages;
    let notice = messages.iter().rev().find(|m| m.blocks.to_string().contains("systemd.journal")).unwrap();
    assert!(notice.blocks.to_string().contains("it follows as a file"));
    let shared = messages.iter().find(|m| !m.files.is_empty()).expect("the output was shared as a file");
    let file = &shared.files[0];
    assert_eq!((file.name.as_str(), file.title.as_str()), ("systemd.journal.txt", "systemd.journal output"));
    assert!(file.completed && file.content.len() > 2800, "{} bytes", file.content.len());
    assert!(String::from_utf8_lossy(&file.content).contains("connection to db:5432 refused"));
    assert!(shim_calls().contains("journalctl -u api --since 15 minutes ago --no-pager --lines 200\n"));
    assert_eq!(app.slack.call_count("files.getUploadURLExternal"), 1);
    assert_eq!(app.slack.call_count("files.completeUploadExternal"), 1);
    assert!(app.timeline(&app.only_incident().await).await.contains(&"file_uploaded".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn the_run_diagnostics_button_lists_buttons_that_run_them() {
    let (app, channel) = app_with_service(&[("container", "button-ctr")]).await;
    let incident = app.only_incident().await;
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();

    app.slack.click(BOB, &channel, &ts, "incident.diagnostics").await.unwrap();
    app.drain().await;
    let menu = app.slack.ephemerals(BOB).pop().expect("the menu was shown");
    assert!(menu.blocks.to_string().contains("docker.exit_code"), "{}", menu.blocks);
    app.slack.click_ephemeral(BOB, "diagnostics.run", &format!("{}|docker.exit_code", incident.id)).await.unwrap();
    app.drain().await;

    assert!(last_post(&app, &channel).contains("137 — killed by SIGKILL"));
    assert!(shim_calls().contains("docker inspect button-ctr"));
    app.finish().await;
}

#[tokio::test]
async fn systemctl_status_runs_through_the_shim_and_reports_its_exit_code() {
    let (app, channel) = app_with_service(&[("unit", "api.service")]).await;

    run(&app, &channel, "run systemd.status").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("exit 3") && post.contains("Active: failed (Result: exit-code)"), "{post}");
    assert!(shim_calls().contains("systemctl status --no-pager --lines 20 api.service"));
    app.finish().await;
}

#[tokio::test]
async fn the_oom_check_keeps_only_the_oom_killers_lines() {
    let (app, channel) = app_with_service(&[]).await;

    run(&app, &channel, "run host.oom").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("Out of memory: Killed process 811 (api)"), "{post}");
    assert!(!post.contains("eth0: link up"), "{post}");
    app.finish().await;
}

#[tokio::test]
async fn an_http_check_that_gets_no_answer_times_out() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let params = [("health_url".to_string(), url)].into_iter().collect();

    let outcome =
        warroom::diagnostics::builtin::run("http_check", &params, std::time::Duration::from_millis(300)).await;

    assert!(outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.exit_code, None);
    assert!(outcome.stderr.contains("no answer within"), "{}", outcome.stderr);
}
