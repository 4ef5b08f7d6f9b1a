//! Changes at most once, against real processes killed with SIGKILL: a `warroom serve` killed
//! while an approved change's process runs never starts it again after its restart (the
//! channel hears the outcome is unknown); a `warroom runner` killed before the server
//! acknowledged its result sends it after its restart, and it is recorded once. The test waits
//! for marker files and for the database, polling with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::harness::*;
use crate::runner_delivery::{kept, state_dir, Faulty, Proxy};
use crate::runners::{app_on_runner, approved_restart, posts, shims_path, task_states, TOKEN_1};

/// A child process, killed with SIGKILL when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory with the config, the clock file, and a `docker` shim that records its call,
/// writes its pid to `marker`, then blocks (a restart that takes its time) reading the `hold`
/// FIFO until the test kills it — or, should the test fail first, until the fixture is dropped
/// and its end of the FIFO closes. No timer: the shim ends on an event.
struct Fixture {
    dir: PathBuf,
    _hold: std::fs::File,
}

impl Fixture {
    fn new(app: &TestApp, container: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("warroom-change-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "[slack]\nchannel_post_interval = \"0s\"\n[roles]\nresponders = [\"{ALICE}\", \"{BOB}\"]\n\
             [approvals]\napprovers = [\"{BOB}\"]\n[services.api]\npacks = [\"docker\"]\n\
             params = {{ container = \"{container}\" }}\n"
        );
        std::fs::write(dir.join("warroom.toml"), config).unwrap();
        let d = dir.display();
        let shim = format!(
            "#!/bin/sh\necho \"docker $*\" >> {d}/calls\necho $$ > {d}/marker.partial\nmv {d}/marker.partial {d}/marker\n\
             exec cat {d}/hold > /dev/null\n"
        );
        std::fs::write(dir.join("docker"), shim).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let hold = dir.join("hold");
        assert!(Command::new("mkfifo").arg(&hold).status().unwrap().success());
        // Read and write: opening does not wait for the other end, and the shim's `cat` sees no
        // end of file while this handle lives.
        let hold = std::fs::OpenOptions::new().read(true).write(true).open(hold).unwrap();
        let fixture = Self { dir, _hold: hold };
        fixture.set_time(app, app.clock.now_utc());
        fixture
    }

    fn set_time(&self, app: &TestApp, at: DateTime<Utc>) {
        let next = self.dir.join("clock.next");
        std::fs::write(&next, at.to_rfc3339()).unwrap();
        std::fs::rename(&next, self.dir.join("clock")).unwrap();
        app.clock.set(at);
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.join("calls")).unwrap_or_default()
    }

    async fn spawn(&self, app: &TestApp) -> (Killed, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_warroom"))
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", app.database_url())
            .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
            .env("WARROOM_CONFIG", self.dir.join("warroom.toml"))
            .env("WARROOM_FAKE_CLOCK_FILE", self.dir.join("clock"))
            .env("WARROOM_DIAGNOSTICS_PATH", format!("{}:{}", self.dir.display(), std::env::var("PATH").unwrap()))
            .env("SLACK_BOT_TOKEN", warroom::sandbox::BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("SLACK_API_URL", app.slack_api_url())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = Killed(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_for(app, "the process to be ready", || async {
            warroom::tls::http_client().get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        (process, url)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (up to 30 s) for `condition`, looking again after each call to the sandbox Slack or
/// every 50 ms.
async fn wait_for<F, Fut>(app: &TestApp, what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let _ = tokio::time::timeout(Duration::from_millis(50), app.slack.activity()).await;
    }
}

async fn request_state(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT state FROM approval_requests").fetch_one(&app.db).await.unwrap()
}

fn messages_with(app: &TestApp, channel: &str, needle: &str) -> Vec<String> {
    let messages = app.slack.channel(channel).map(|c| c.messages).unwrap_or_default();
    let texts = messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string());
    texts.filter(|t| t.contains(needle)).collect()
}

#[tokio::test]
async fn a_change_whose_warroom_was_killed_while_it_ran_never_runs_again_and_its_outcome_is_unknown() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app, "ctr-sigkill");
    let (first, url) = fixture.spawn(&app).await;
    app.slack.connect(&url, &app.slack_url());
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    let channel = "inc-1-api";
    wait_for(&app, "the declaration", || async { app.slack.channel(channel).is_some_and(|c| !c.messages.is_empty()) })
        .await;
    app.slack.join(BOB, channel).await.unwrap();
    app.slack.slash(ALICE, channel, "run docker.restart reason=\"stuck\"").await.unwrap();
    wait_for(&app, "the approval message", || async { !messages_with(&app, channel, "Change requested").is_empty() })
        .await;
    let ts = app
        .slack
        .channel(channel)
        .unwrap()
        .messages
        .iter()
        .rev()
        .find(|m| m.blocks.to_string().contains("approval.approve"))
        .unwrap()
        .ts
        .clone();

    app.slack.click(BOB, channel, &ts, "approval.approve").await.unwrap();
    let marker = fixture.dir.join("marker");
    wait_for(&app, "the change's process to start", || async { marker.exists() }).await;
    drop(first); // SIGKILL, while `docker restart` runs
    let pid = std::fs::read_to_string(&marker).unwrap();
    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
    assert_eq!(request_state(&app).await, "running", "used up before it started");

    // Restarted after the dead process's claim on the job ran out.
    fixture.set_time(&app, start_time() + chrono::Duration::minutes(6));
    let (second, url) = fixture.spawn(&app).await;
    app.slack.connect(&url, &app.slack_url());
    sqlx::query("SELECT pg_notify('warroom_jobs', '')").execute(&app.db).await.unwrap();
    wait_for(&app, "the outcome-unknown post", || async {
        !messages_with(&app, channel, "*Outcome unknown:*").is_empty()
    })
    .await;
    let settled = || async {
        let busy: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= $1")
                .bind(app.clock.now_utc())
                .fetch_one(&app.db)
                .await
                .unwrap();
        busy == 0
    };
    wait_for(&app, "the queue to be idle", settled).await;

    assert_eq!(fixture.calls(), "docker restart ctr-sigkill\n", "ran once, never again");
    let unknown = messages_with(&app, channel, "*Outcome unknown:*");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("`docker restart ctr-sigkill`") && unknown[0].contains("started at 15:00:00 UTC"));
    assert_eq!(request_state(&app).await, "outcome_unknown");
    let message = messages_with(&app, channel, "Change requested");
    assert!(message[0].contains("*Outcome unknown*") && !message[0].contains("running it now"), "{message:?}");
    let incident = app.only_incident().await;
    let kinds = app.timeline(&incident).await;
    assert_eq!(kinds.iter().filter(|k| *k == "change_outcome_unknown").count(), 1);
    assert!(!kinds.contains(&"diagnostic_finished".to_string()));
    drop(second);
    app.finish().await;
}

/// A `warroom runner` process for edge-1 against `server`, keeping results in `state`.
fn spawn_runner(server: &str, catalog: &Path, state: &Path) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["runner", "--server", server, "--catalog"])
        .arg(catalog)
        .arg("--state-dir")
        .arg(state)
        .env_clear()
        .env("WARROOM_CONFIG", "/dev/null")
        .env("WARROOM_RUNNER_TOKEN", TOKEN_1)
        .env("WARROOM_DIAGNOSTICS_PATH", shims_path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed(child)
}

#[tokio::test]
async fn a_runner_killed_before_its_result_was_acknowledged_delivers_it_after_its_restart_once() {
    let (app, channel) = app_on_runner(&[("container", "ctr-runner-killed")], "edge-1").await;
    approved_restart(&app, &channel).await;
    // The first runner reaches warroom through a proxy that never answers a result.
    let proxy = Proxy::start(&app.address, Faulty::Hang).await;
    let state = state_dir();
    let catalog = state.with_extension("docker.toml");
    std::fs::copy(format!("{}/diagnostics/docker.toml", env!("CARGO_MANIFEST_DIR")), &catalog).unwrap();

    let first = spawn_runner(&proxy.url, &catalog, &state);
    proxy.wait_for_results(1).await;
    let task: uuid::Uuid = sqlx::query_scalar("SELECT id FROM runner_tasks").fetch_one(&app.db).await.unwrap();
    assert_eq!(kept(&state), [format!("result-{task}.json")], "kept before it was sent");
    drop(first); // SIGKILL before the server answered
    assert_eq!(task_states(&app).await, ["sent"], "not recorded");

    let second = spawn_runner(&app.address, &catalog, &state);
    wait_for(&app, "the kept result to be recorded and forgotten", || async {
        task_states(&app).await == ["done"] && kept(&state).is_empty()
    })
    .await;
    drop(second);
    app.drain().await;

    let calls = crate::diagnostics::shim_calls();
    assert_eq!(calls.matches("docker restart ctr-runner-killed\n").count(), 1, "ran once");
    let results = posts(&app, &channel).into_iter().filter(|p| p.contains("🔎 *docker.restart*")).count();
    assert_eq!(results, 1, "{:#?}", posts(&app, &channel));
    let kinds = app.timeline(&app.only_incident().await).await;
    assert_eq!(kinds.iter().filter(|k| *k == "diagnostic_finished").count(), 1);
    assert_eq!(request_state(&app).await, "done");
    assert_eq!(proxy.results.load(std::sync::atomic::Ordering::SeqCst), 1);
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::remove_file(&catalog).unwrap();
    app.finish().await;
}
