//! A runner's result, recorded exactly once: posted again until acknowledged (a server that
//! failed to record it, or recorded it and answered 500), the same result twice changes
//! nothing, and a task sent but never reported has its outcome said unknown after its time
//! limit and the margin — once, with a late result still recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::diagnostics::{run, shim_calls};
use crate::harness::*;
use crate::runners::{
    app_on_runner, approved_restart, catalog, post_raw, posts, runner, runner_at, task_states, TOKEN_1,
};

/// What the proxy does with a runner's result POST.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Faulty {
    /// The first is forwarded (the server records it), then answered 500.
    DeliveredThen500,
    /// Each is held, never answered.
    Hang,
}

/// A proxy in front of warroom for a runner: polls pass through; result POSTs meet `fault`.
pub struct Proxy {
    pub url: String,
    target: String,
    fault: Faulty,
    /// Result POSTs it received.
    pub results: AtomicUsize,
    pub arrived: tokio::sync::Notify,
}

impl Proxy {
    pub async fn start(target: &str, fault: Faulty) -> Arc<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Arc::new(Proxy {
            url,
            target: target.to_string(),
            fault,
            results: AtomicUsize::new(0),
            arrived: tokio::sync::Notify::new(),
        });
        let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        proxy
    }

    /// Waits (up to 30 s) until `n` result POSTs arrived.
    pub async fn wait_for_results(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let arrived = self.arrived.notified();
            if self.results.load(Ordering::SeqCst) >= n {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} result POST(s)");
            let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
        }
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let path = uri.path().to_string();
    if path.ends_with("/results") {
        let n = proxy.results.fetch_add(1, Ordering::SeqCst);
        proxy.arrived.notify_waiters();
        if proxy.fault == Faulty::Hang {
            std::future::pending::<()>().await;
        }
        if proxy.fault == Faulty::DeliveredThen500 && n == 0 {
            let _ = pass(&proxy, &path, &headers, body).await;
            return (StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(b"upstream fell over")).into_response();
        }
    }
    pass(&proxy, &path, &headers, body).await.into_response()
}

async fn pass(proxy: &Proxy, path: &str, headers: &HeaderMap, body: Bytes) -> (StatusCode, Bytes) {
    let mut request = warroom::tls::http_client().post(format!("{}{path}", proxy.target)).body(body);
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.to_str().unwrap());
        }
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.bytes().await.unwrap())
}

async fn count_events(app: &TestApp, kind: &str) -> usize {
    app.timeline(&app.only_incident().await).await.iter().filter(|k| *k == kind).count()
}

fn posts_with(app: &TestApp, channel: &str, needle: &str) -> usize {
    posts(app, channel).iter().filter(|p| p.contains(needle)).count()
}

/// A state directory of its own.
pub fn state_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-runner-state-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn kept(dir: &std::path::Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).unwrap();
    entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn a_result_recorded_but_answered_with_500_is_acknowledged_on_the_retry_and_recorded_once() {
    let (app, channel) = app_on_runner(&[("container", "ctr-500")], "edge-1").await;
    let proxy = Proxy::start(&app.address, Faulty::DeliveredThen500).await;
    let dir = state_dir();
    let runner = runner_at(&proxy.url, TOKEN_1, catalog("docker", |t| t))
        .with_state_dir(Some(dir.clone()))
        .with_retry(Duration::from_millis(10), Duration::from_millis(50));

    run(&app, &channel, "run docker.exit_code").await;
    assert!(runner.step(0).await.unwrap(), "the runner got the task, and its result was acknowledged");
    app.drain().await;

    assert_eq!(proxy.results.load(Ordering::SeqCst), 2, "posted twice: the first answer was lost");
    assert_eq!(posts_with(&app, &channel, "137 — killed by SIGKILL"), 1, "{:?}", posts(&app, &channel));
    assert_eq!(count_events(&app, "diagnostic_finished").await, 1);
    assert_eq!(task_states(&app).await, ["done"]);
    assert!(kept(&dir).is_empty(), "forgotten once acknowledged: {:?}", kept(&dir));
    assert_eq!(shim_calls().matches("docker inspect ctr-500 ").count(), 1);
    std::fs::remove_dir_all(dir).unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_result_the_server_failed_to_record_is_posted_again_and_recorded_once() {
    let (app, channel) = app_on_runner(&[("container", "ctr-record-fails")], "edge-1").await;
    // The first time a task is marked done, the database fails (a sequence survives the rollback).
    for statement in [
        "CREATE SEQUENCE injected_task_failures",
        r#"CREATE FUNCTION fail_task_once() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.state = 'done' AND nextval('injected_task_failures') = 1 THEN
                   RAISE EXCEPTION 'injected: the database failed while recording the result';
               END IF;
               RETURN NEW;
           END $$"#,
        "CREATE TRIGGER fail_task_once BEFORE UPDATE ON runner_tasks FOR EACH ROW EXECUTE FUNCTION fail_task_once()",
    ] {
        sqlx::query(statement).execute(&app.db).await.unwrap();
    }
    let runner = runner(&app, TOKEN_1, catalog("docker", |t| t))
        .with_retry(Duration::from_millis(10), Duration::from_millis(50));

    run(&app, &channel, "run docker.exit_code").await;
    assert!(runner.step(0).await.unwrap());
    app.drain().await;

    let tries: i64 =
        sqlx::query_scalar("SELECT last_value FROM injected_task_failures").fetch_one(&app.db).await.unwrap();
    assert_eq!(tries, 2, "refused once (503), recorded on the runner's second try");
    assert_eq!(task_states(&app).await, ["done"]);
    assert_eq!(posts_with(&app, &channel, "137 — killed by SIGKILL"), 1);
    assert_eq!(count_events(&app, "diagnostic_finished").await, 1);
    app.finish().await;
}

/// The task runner edge-1 gets on a raw poll.
async fn take_task(app: &TestApp) -> Value {
    let (status, task) = post_raw(app, "poll", Some(TOKEN_1), "{}").await;
    assert_eq!(status, 200, "{task}");
    serde_json::from_str(&task).unwrap()
}

#[tokio::test]
async fn the_same_result_posted_twice_changes_nothing() {
    let (app, channel) = app_on_runner(&[("container", "ctr-twice")], "edge-1").await;
    run(&app, &channel, "run docker.exit_code").await;
    let task = take_task(&app).await;
    let result = json!({ "task": task["id"], "refused": null, "exit_code": 0, "stdout": "0\n" }).to_string();

    let first = post_raw(&app, "results", Some(TOKEN_1), &result).await;
    app.drain().await;
    let again = post_raw(&app, "results", Some(TOKEN_1), &result).await;
    app.drain().await;

    assert_eq!(first, (200, json!({ "recorded": true }).to_string()));
    assert_eq!(again.0, 200, "acknowledged: the runner may forget it");
    assert!(again.1.contains("\"already\":true"), "{}", again.1);
    assert_eq!(posts_with(&app, &channel, "0 — exited normally"), 1);
    assert_eq!(count_events(&app, "diagnostic_finished").await, 1);
    assert_eq!(task_states(&app).await, ["done"]);
    app.finish().await;
}

#[tokio::test]
async fn a_result_for_a_cancelled_task_is_acknowledged_and_changes_nothing() {
    let (app, channel) = app_on_runner(&[("container", "ctr-cancelled-result")], "edge-1").await;
    approved_restart(&app, &channel).await;
    app.clock.advance(chrono::Duration::minutes(15));
    app.drain().await;
    assert_eq!(task_states(&app).await, ["cancelled"]);
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM runner_tasks").fetch_one(&app.db).await.unwrap();

    let result = json!({ "task": id, "refused": null, "exit_code": 0 }).to_string();
    let (status, body) = post_raw(&app, "results", Some(TOKEN_1), &result).await;
    app.drain().await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(task_states(&app).await, ["cancelled"]);
    assert_eq!(count_events(&app, "diagnostic_finished").await, 0);
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state FROM approval_requests").fetch_all(&app.db).await.unwrap();
    assert_eq!(states, ["cancelled"]);
    app.finish().await;
}

#[tokio::test]
async fn a_sent_change_never_reported_becomes_outcome_unknown_after_its_time_limit_and_the_margin() {
    let (app, channel) = app_on_runner(&[("container", "ctr-silent")], "edge-1").await;
    approved_restart(&app, &channel).await;
    let task = take_task(&app).await;
    app.drain().await;
    let request_state = || async {
        sqlx::query_scalar::<_, String>("SELECT state FROM approval_requests").fetch_one(&app.db).await.unwrap()
    };
    assert_eq!(request_state().await, "running", "the runner took it: it started");

    // docker.restart's time limit is 60 s, the margin 120 s.
    app.clock.advance(chrono::Duration::seconds(179));
    app.drain().await;
    assert_eq!(task_states(&app).await, ["sent"]);
    app.clock.advance(chrono::Duration::seconds(1));
    app.drain().await;

    assert_eq!(task_states(&app).await, ["outcome_unknown"]);
    assert_eq!(request_state().await, "outcome_unknown");
    let told = posts(&app, &channel);
    let unknown: Vec<&String> = told.iter().filter(|p| p.contains("*Outcome unknown:*")).collect();
    assert_eq!(unknown.len(), 1, "{told:#?}");
    assert!(
        unknown[0].contains("`docker restart ctr-silent`")
            && unknown[0].contains(
                "started at 15:00:00 UTC, and runner `edge-1` has not reported its outcome within \
                                    its time limit (60 s) and 120 s more"
            ),
        "{}",
        unknown[0]
    );
    let request = told.iter().find(|p| p.contains("Change requested")).unwrap();
    assert!(request.contains("*Outcome unknown*"), "{request}");
    assert_eq!(count_events(&app, "change_outcome_unknown").await, 1);

    // The runner's result arrives late: recorded, marked late, once.
    let result = json!({ "task": task["id"], "refused": null, "exit_code": 0, "stdout": "ctr-silent\n" }).to_string();
    assert_eq!(post_raw(&app, "results", Some(TOKEN_1), &result).await.0, 200);
    assert_eq!(post_raw(&app, "results", Some(TOKEN_1), &result).await.0, 200);
    app.clock.advance(chrono::Duration::minutes(5));
    app.drain().await;
    assert_eq!(posts_with(&app, &channel, "This outcome arrived after it was posted as unknown"), 1);
    assert_eq!(posts_with(&app, &channel, "*Outcome unknown:*"), 1, "told once");
    assert_eq!(request_state().await, "done");
    assert_eq!(count_events(&app, "diagnostic_finished").await, 1);
    assert!(!shim_calls().contains("docker restart ctr-silent"), "the raw poll ran nothing here");
    app.finish().await;
}

#[tokio::test]
async fn a_sent_read_never_reported_becomes_outcome_unknown_once() {
    let (app, channel) = app_on_runner(&[("container", "ctr-silent-read")], "edge-1").await;
    run(&app, &channel, "run docker.logs").await;
    take_task(&app).await;

    // docker.logs has the default 30 s limit.
    app.clock.advance(chrono::Duration::seconds(150));
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.drain().await;

    assert_eq!(task_states(&app).await, ["outcome_unknown"]);
    let unknown: Vec<String> = posts(&app, &channel).into_iter().filter(|p| p.contains("Outcome unknown")).collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].contains(
            "`docker.logs`: runner `edge-1` took it at 15:00:00 UTC and has not reported its result \
                             within its time limit (30 s) and 120 s more. Run it again if you still need it."
        ),
        "{}",
        unknown[0]
    );
    assert_eq!(count_events(&app, "diagnostic_outcome_unknown").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_handed_over_change_whose_job_runs_again_makes_no_second_task_and_no_false_alarm() {
    let (app, channel) = app_on_runner(&[("container", "ctr-handed-twice")], "edge-1").await;
    approved_restart(&app, &channel).await;
    let again = "UPDATE jobs SET state = 'queued', run_at = $1 WHERE kind = 'diagnostics.run'";

    // Its job runs again (as after a worker lost its completion): before the runner took the
    // task, and after.
    sqlx::query(again).bind(app.clock.now_utc()).execute(&app.db).await.unwrap();
    app.drain().await;
    take_task(&app).await;
    sqlx::query(again).bind(app.clock.now_utc()).execute(&app.db).await.unwrap();
    app.drain().await;

    assert_eq!(task_states(&app).await, ["sent"], "one task, still the runner's");
    let state: String = sqlx::query_scalar("SELECT state FROM approval_requests").fetch_one(&app.db).await.unwrap();
    assert_eq!(state, "running");
    assert_eq!(posts_with(&app, &channel, "Outcome unknown"), 0);
    assert_eq!(count_events(&app, "diagnostic_dispatched").await, 1);
    app.finish().await;
}
