//! Remote runners: each is who its token says; a runner runs only what its own catalog renders
//! to the hash the task carries; a change task that did not start in time is cancelled and said
//! so; a request without a runner's token is refused before its body is read.

use serde_json::{json, Value};
use warroom::config::RunnerTokens;
use warroom::diagnostics::runner::Runner;
use warroom::diagnostics::Catalog;
use warroom::secret::Secret;

use crate::diagnostics::{app_with_service_and, run, shim_calls, shims};
use crate::harness::*;

pub const TOKEN_1: &str = "edge-1-token-0123456789abcdef";
const TOKEN_2: &str = "edge-2-token-0123456789abcdef";

/// The shipped `pack`, as a runner's own catalog file, after `tamper` edited its text.
pub fn catalog(pack: &str, tamper: impl Fn(String) -> String) -> Catalog {
    let dir = std::env::temp_dir().join(format!("warroom-runner-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{pack}.toml"));
    let text = std::fs::read_to_string(format!("{}/diagnostics/{pack}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    std::fs::write(&file, tamper(text)).unwrap();
    let catalog = Catalog::from_file(&file).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    catalog
}

/// A runner with `token` and `catalog`, polling `app`, finding the shims first on its PATH.
pub fn runner(app: &TestApp, token: &str, catalog: Catalog) -> Runner {
    runner_at(&app.address, token, catalog)
}

/// [`runner`], polling the server at `server`.
pub fn runner_at(server: &str, token: &str, catalog: Catalog) -> Runner {
    Runner::new(server, Secret::new(token), catalog).with_path(Some(shims_path()))
}

/// The diagnostics' PATH: the shims first.
pub fn shims_path() -> String {
    format!("{}:{}", shims().display(), std::env::var("PATH").unwrap_or_default())
}

/// An app whose service `api` runs on runner `on`, with runners `edge-1` and `edge-2` and bob as
/// the approver; INC-1 declared by alice.
pub async fn app_on_runner(params: &[(&str, &str)], on: &str) -> (TestApp, String) {
    let on = on.to_string();
    app_with_service_and(params, move |s| {
        s.runner_tokens = RunnerTokens::parse(&format!("edge-1={TOKEN_1},edge-2={TOKEN_2}")).unwrap();
        s.file.services.get_mut("api").unwrap().runner = Some(on);
        s.file.approvals.approvers = vec![BOB.into()];
        s.file.responders.users = vec![ALICE.into(), BOB.into()];
    })
    .await
}

pub fn posts(app: &TestApp, channel: &str) -> Vec<String> {
    let messages = app.slack.channel(channel).unwrap().messages;
    messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string()).collect()
}

fn last_post(app: &TestApp, channel: &str) -> String {
    posts(app, channel).pop().unwrap_or_default()
}

/// Alice asks for `docker restart <container>` and bob approves it: the task is queued for the
/// service's runner.
pub async fn approved_restart(app: &TestApp, channel: &str) {
    app.slack.slash(ALICE, channel, "run docker.restart reason=\"crash loop\"").await.unwrap();
    app.drain().await;
    let request = app.slack.channel(channel).unwrap().messages.pop().unwrap();
    assert!(request.blocks.to_string().contains("approval.approve"), "{}", request.blocks);
    app.slack.click(BOB, channel, &request.ts, "approval.approve").await.unwrap();
    app.drain().await;
}

pub async fn task_states(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM runner_tasks ORDER BY created_at").fetch_all(&app.db).await.unwrap()
}

/// A raw POST to `/api/v1/runners/{endpoint}` with `token` (if any) and `body`.
pub async fn post_raw(app: &TestApp, endpoint: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut request = warroom::tls::http_client()
        .post(format!("{}/api/v1/runners/{endpoint}", app.address))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_remote_runner_runs_the_diagnostics_of_its_service() {
    let (app, channel) = app_on_runner(&[("container", "remote-ctr")], "edge-1").await;
    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t));

    run(&app, &channel, "run docker.exit_code").await;
    assert!(last_post(&app, &channel).contains("Runner `edge-1` is offline (never seen)"));
    assert!(runner.step(0).await.unwrap(), "the runner got the task");
    app.drain().await;

    assert!(last_post(&app, &channel).contains("137 — killed by SIGKILL"));
    assert!(shim_calls().contains("docker inspect remote-ctr"));
    let kinds = app.timeline(&app.only_incident().await).await;
    assert!(kinds.contains(&"diagnostic_dispatched".to_string()) && kinds.contains(&"diagnostic_finished".to_string()));
    assert!(!runner.step(0).await.unwrap(), "nothing left");
    app.finish().await;
}

#[tokio::test]
async fn a_remote_runner_refuses_an_action_missing_from_its_catalog() {
    let (app, channel) = app_on_runner(&[("namespace", "prod-missing")], "edge-1").await;
    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t));
    runner.step(0).await.unwrap(); // a heartbeat: the runner is online

    run(&app, &channel, "run kubernetes.pods").await;
    runner.step(0).await.unwrap();
    app.drain().await;

    let post = last_post(&app, &channel);
    assert!(
        post.contains("Runner `edge-1` refused `kubernetes.pods`: `kubernetes.pods` is not in this runner's catalog"),
        "{post}"
    );
    assert!(!shim_calls().contains("kubectl get pods -n prod-missing"));
    assert!(app.timeline(&app.only_incident().await).await.contains(&"diagnostic_refused".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn a_runner_whose_catalog_renders_an_approved_change_differently_refuses_it() {
    let (app, channel) = app_on_runner(&[("container", "ctr-tampered")], "edge-1").await;
    // The host's catalog was edited: its "restart" removes the container.
    let tampered = catalog("docker", |t| {
        t.replace(r#"argv = ["docker", "restart", "{container}"]"#, r#"argv = ["docker", "rm", "-f", "{container}"]"#)
    });
    let runner = runner(&app, TOKEN_1, tampered);
    approved_restart(&app, &channel).await;

    assert!(runner.step(0).await.unwrap(), "the runner got the task");
    app.drain().await;

    let post = last_post(&app, &channel);
    assert!(post.contains("Runner `edge-1` refused `docker.restart`: catalog mismatch"), "{post}");
    assert!(post.contains("`docker rm -f ctr-tampered`") && post.contains("nothing ran"), "{post}");
    let calls = shim_calls();
    assert!(!calls.contains("docker rm -f ctr-tampered") && !calls.contains("docker restart ctr-tampered"), "{calls}");
    let kinds = app.timeline(&app.only_incident().await).await;
    assert!(kinds.contains(&"diagnostic_refused".to_string()) && !kinds.contains(&"diagnostic_finished".to_string()));
    assert_eq!(task_states(&app).await, ["done"]);
    app.finish().await;
}

#[tokio::test]
async fn a_runner_whose_catalog_renders_a_read_differently_refuses_it() {
    let (app, channel) = app_on_runner(&[("container", "ctr-read-tampered")], "edge-1").await;
    let tampered = catalog("docker", |t| t.replace(r#""--tail", "100""#, r#""--tail", "100000""#));
    let runner = runner(&app, TOKEN_1, tampered);

    run(&app, &channel, "run docker.logs").await;
    runner.step(0).await.unwrap();
    app.drain().await;

    let post = last_post(&app, &channel);
    assert!(post.contains("Runner `edge-1` refused `docker.logs`: catalog mismatch"), "{post}");
    assert!(!shim_calls().contains("ctr-read-tampered"), "nothing ran");
    app.finish().await;
}

#[tokio::test]
async fn runner_one_cannot_poll_or_report_the_tasks_of_runner_two() {
    let (app, channel) = app_on_runner(&[("container", "ctr-two")], "edge-2").await;
    run(&app, &channel, "run docker.exit_code").await;

    // edge-1's token: its own queue is empty; naming edge-2 in the body is refused.
    assert_eq!(post_raw(&app, "poll", Some(TOKEN_1), "{}").await.0, 204);
    let (status, body) = post_raw(&app, "poll", Some(TOKEN_1), r#"{"name":"edge-2"}"#).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("this token is runner `edge-1`'s"), "{body}");
    assert_eq!(task_states(&app).await, ["queued"], "nothing was handed to edge-1");

    // edge-2 takes it; edge-1 cannot report its outcome, nor edge-2's token under edge-1's name.
    let (status, task) = post_raw(&app, "poll", Some(TOKEN_2), r#"{"name":"edge-2"}"#).await;
    assert_eq!(status, 200, "{task}");
    let task: Value = serde_json::from_str(&task).unwrap();
    let result = json!({ "task": task["id"], "refused": null, "exit_code": 0, "stdout": "0\n" });
    let (status, _) = post_raw(&app, "results", Some(TOKEN_1), &result.to_string()).await;
    assert_eq!(status, 409, "not edge-1's task");
    let mut named = result.clone();
    named["name"] = json!("edge-1");
    assert_eq!(post_raw(&app, "results", Some(TOKEN_2), &named.to_string()).await.0, 403);
    assert_eq!(task_states(&app).await, ["sent"]);

    assert_eq!(post_raw(&app, "results", Some(TOKEN_2), &result.to_string()).await.0, 200);
    app.drain().await;
    assert!(last_post(&app, &channel).contains("0 — exited normally"), "{}", last_post(&app, &channel));
    let heartbeats: Vec<String> =
        sqlx::query_scalar("SELECT name FROM runners ORDER BY name").fetch_all(&app.db).await.unwrap();
    assert_eq!(heartbeats, ["edge-1", "edge-2"], "runners are named by their tokens only");
    app.finish().await;
}

#[tokio::test]
async fn a_change_for_an_offline_runner_is_cancelled_when_its_approval_expires() {
    let (app, channel) = app_on_runner(&[("container", "ctr-expired")], "edge-1").await;
    approved_restart(&app, &channel).await;
    let offline = last_post(&app, &channel);
    assert!(offline.contains("waits for it until its approval expires at 15:15 UTC, then is cancelled"), "{offline}");

    app.clock.advance(chrono::Duration::minutes(15));
    app.drain().await;

    // (The P0's first escalation tier fires at 15 minutes too.)
    let told = posts(&app, &channel);
    let cancelled =
        "`docker.restart` was cancelled: runner `edge-1` had not picked it up when its approval expired at \
                     15:15 UTC. Nothing ran";
    assert_eq!(told.iter().filter(|p| p.contains(cancelled)).count(), 1, "{told:#?}");
    assert_eq!(task_states(&app).await, ["cancelled"]);
    assert!(app.timeline(&app.only_incident().await).await.contains(&"diagnostic_cancelled".to_string()));
    // The runner comes back: nothing is left to run.
    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t));
    assert!(!runner.step(0).await.unwrap());
    assert!(!shim_calls().contains("docker restart ctr-expired"));
    app.finish().await;
}

#[tokio::test]
async fn a_runner_polling_after_the_expiry_gets_nothing_before_the_timer_ran() {
    let (app, channel) = app_on_runner(&[("container", "ctr-late-poll")], "edge-1").await;
    approved_restart(&app, &channel).await;
    app.clock.advance(chrono::Duration::minutes(16));

    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t));
    assert!(!runner.step(0).await.unwrap(), "an expired change is not sent");
    app.drain().await;

    assert_eq!(task_states(&app).await, ["cancelled"]);
    let told = posts(&app, &channel).iter().filter(|p| p.contains("`docker.restart` was cancelled")).count();
    assert_eq!(told, 1, "told once, by the poll; the timer found nothing left");
    assert!(!shim_calls().contains("docker restart ctr-late-poll"));
    app.finish().await;
}

#[tokio::test]
async fn a_change_for_an_offline_runner_is_cancelled_when_the_incident_resolves() {
    let (app, channel) = app_on_runner(&[("container", "ctr-resolved")], "edge-1").await;
    approved_restart(&app, &channel).await;

    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.slack.click(ALICE, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    let values = [("cause", "bad deploy"), ("resolution", "rolled back"), ("impact", "errors for 5 min")];
    app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    app.drain().await;

    assert!(app.only_incident().await.is_resolved());
    let told = posts(&app, &channel);
    assert!(
        told.iter().any(|p| p
            .contains("`docker.restart` was cancelled: the incident was resolved before runner `edge-1` picked it up")),
        "{told:?}"
    );
    assert_eq!(task_states(&app).await, ["cancelled"]);
    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t));
    assert!(!runner.step(0).await.unwrap());
    assert!(!shim_calls().contains("docker restart ctr-resolved"));
    app.finish().await;
}

#[tokio::test]
async fn a_request_without_a_runner_token_is_refused_before_its_body_is_read() {
    let (app, _) = app_on_runner(&[], "edge-1").await;
    let malformed = "{\"wait_secs\": nope";

    for endpoint in ["poll", "results"] {
        for token in [None, Some("guess"), Some("edge-1"), Some(&TOKEN_1[..TOKEN_1.len() - 1])] {
            let (status, body) = post_raw(&app, endpoint, token, malformed).await;
            assert_eq!(status, 401, "{endpoint} with {token:?}: {body}");
            assert!(!body.contains("nope") && !body.contains("guess"), "{body}");
        }
        let (status, body) = post_raw(&app, endpoint, Some(TOKEN_1), malformed).await;
        assert_eq!(status, 400, "with the token, the body is read and refused: {body}");
    }
    let off = spawn_app().await;
    assert_eq!(post_raw(&off, "poll", Some(TOKEN_1), malformed).await.0, 404, "runners are off without tokens");
    off.finish().await;
    app.finish().await;
}

#[tokio::test]
async fn the_deprecated_single_runner_token_still_works_for_the_runner_the_services_use() {
    let (app, channel) = app_with_service_and(&[("container", "ctr-legacy")], |s| {
        s.file.services.get_mut("api").unwrap().runner = Some("edge-1".into());
        let env = |key: &str| (key == "WARROOM_RUNNER_TOKEN").then(|| "legacy-shared-token".to_string());
        s.runner_tokens = RunnerTokens::from_lookup(&env, &s.file.services).unwrap();
        assert!(s.runner_tokens.deprecation().unwrap().contains("WARROOM_RUNNER_TOKENS=edge-1=<token>"));
    })
    .await;
    // An old runner, started with `--name edge-1` and the shared token.
    let runner = runner(&app, "legacy-shared-token", catalog("docker", |t| t)).named(Some("edge-1".into()));

    run(&app, &channel, "run docker.exit_code").await;
    assert!(runner.step(0).await.unwrap());
    app.drain().await;

    assert!(last_post(&app, &channel).contains("137 — killed by SIGKILL"));
    assert!(shim_calls().contains("docker inspect ctr-legacy"));
    app.finish().await;
}
