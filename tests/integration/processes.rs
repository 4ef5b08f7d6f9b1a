//! Real `warroom serve` processes: killed with SIGKILL and restarted later, and two replicas on
//! one database. Their time comes from a file the test writes (`WARROOM_FAKE_CLOCK_FILE`); the
//! test waits for events (a post in the sandbox, a job's state), never through an interval.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::harness::*;

/// A warroom process pointed at the test's database, sandbox and clock file.
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    pub(crate) fn new(app: &TestApp) -> Self {
        let dir = std::env::temp_dir().join(format!("warroom-proc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("warroom.toml"), "[slack]\nchannel_post_interval = \"0s\"\n").unwrap();
        let fixture = Self { dir };
        fixture.set_time(app, app.clock.now_utc());
        fixture
    }

    /// Moves both the processes' clock (the file) and the sandbox's.
    pub(crate) fn set_time(&self, app: &TestApp, at: DateTime<Utc>) {
        // Written aside and renamed, so a process never reads a half-written file (which would
        // read as the system clock).
        let next = self.dir.join("clock.next");
        std::fs::write(&next, at.to_rfc3339()).unwrap();
        std::fs::rename(&next, self.dir.join("clock")).unwrap();
        app.clock.set(at);
    }

    pub(crate) async fn spawn(&self, app: &TestApp) -> Process {
        self.spawn_with(app, &app.statuspage_url).await
    }

    /// A process whose status page is at `statuspage_url` (the test's sandbox status page's key).
    async fn spawn_with(&self, app: &TestApp, statuspage_url: &str) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_warroom"))
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", app.database_url())
            .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
            .env("WARROOM_CONFIG", self.dir.join("warroom.toml"))
            .env("WARROOM_FAKE_CLOCK_FILE", self.dir.join("clock"))
            .env("SLACK_BOT_TOKEN", warroom::sandbox::BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("SLACK_API_URL", app.slack_api_url())
            .env("STATUSPAGE_API_KEY", STATUSPAGE_KEY)
            .env("STATUSPAGE_PAGE_ID", STATUSPAGE_PAGE)
            .env("STATUSPAGE_API_URL", statuspage_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        wait_for(app, "the process to be ready", || async {
            warroom::tls::http_client().get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        Process { child, url }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (up to 90 s) for `condition`, looking again after each call the processes make to the
/// sandbox Slack (or every 50 ms, for what happens elsewhere: readiness, a commit). Each look
/// also wakes the processes' workers: a cross-replica wake-up is best effort (a lost NOTIFY is
/// made up by the workers' own look within `MAX_IDLE`, 30 s), and these tests are about what
/// is posted, not how soon; under a full test run's load a single lost wake-up used to outlast
/// a 30 s deadline.
pub(crate) async fn wait_for<F, Fut>(app: &TestApp, what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        nudge(app).await;
        let _ = tokio::time::timeout(Duration::from_millis(50), app.slack.activity()).await;
    }
}

/// [`wait_for`], moving the processes' clock a second past `due` for each second it waits, at
/// most two minutes (well before the next 5-minute slot): a step that failed for a moment on a
/// loaded machine (a Slack call timed out, a 429) is retried on the injected clock, which
/// would otherwise stand still and leave the retry never due (seen in CI as a 90 s stall).
async fn wait_with_retries_due<F, Fut>(app: &TestApp, fixture: &Fixture, due: DateTime<Utc>, what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let moved = std::cell::Cell::new(0);
    wait_for(app, what, || {
        let waited = started.elapsed().as_secs().min(120) as i64;
        if waited > moved.get() {
            moved.set(waited);
            fixture.set_time(app, due + chrono::Duration::seconds(waited));
        }
        condition()
    })
    .await;
}

fn status_updates(app: &TestApp) -> usize {
    app.slack
        .channel("inc-1-api")
        .map(|c| c.messages.iter().filter(|m| m.blocks.to_string().contains("🔄 UPDATE")).count())
        .unwrap_or(0)
}

async fn status_jobs(app: &TestApp, state: &str) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as("SELECT slot, run_at FROM jobs WHERE kind = 'incident.status_update' AND state = $1 ORDER BY run_at")
        .bind(state)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

/// True when no due job is waiting or running.
async fn idle(app: &TestApp) -> bool {
    let busy: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= $1")
            .bind(app.clock.now_utc())
            .fetch_one(&app.db)
            .await
            .unwrap();
    busy == 0
}

/// Wakes the processes' workers after the clock moved (they wait for the next due time).
async fn nudge(app: &TestApp) {
    sqlx::query("SELECT pg_notify('warroom_jobs', '')").execute(&app.db).await.unwrap();
}

async fn declare_through(app: &TestApp, process: &Process) {
    app.slack.connect(&process.url, &app.slack_url());
    let reply = app.slash(ALICE, "declare P0 api Everything 500s").await;
    assert_eq!(reply.status, 200);
    wait_for(app, "the declaration to be posted", || async {
        app.slack.channel("inc-1-api").is_some_and(|c| !c.messages.is_empty())
    })
    .await;
}

#[tokio::test]
async fn after_a_sigkill_and_12_minutes_down_exactly_one_catch_up_update_is_posted() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app);
    let first = fixture.spawn(&app).await;
    declare_through(&app, &first).await;

    let due = start_time() + chrono::Duration::minutes(5);
    fixture.set_time(&app, due);
    nudge(&app).await;
    // On time, the next slot is 15:10 whenever within the interval the timer runs.
    wait_with_retries_due(&app, &fixture, due, "the 15:05 update", || async { status_updates(&app) == 1 }).await;
    wait_for(&app, "the 15:10 timer to be planned", || async { status_jobs(&app, "queued").await.len() == 1 }).await;

    drop(first); // SIGKILL
    let restarted = start_time() + chrono::Duration::minutes(17);
    fixture.set_time(&app, restarted);
    let second = fixture.spawn(&app).await;
    // The clock stands until the catch-up's timer has run (it plans the next slot from its now).
    wait_for(&app, "the catch-up update", || async { status_jobs(&app, "done").await.len() == 2 }).await;
    let posted = || async { status_updates(&app) >= 2 };
    wait_with_retries_due(&app, &fixture, restarted, "the catch-up to be posted", posted).await;
    wait_for(&app, "the queue to be idle", || idle(&app)).await;

    assert_eq!(status_updates(&app), 2, "one catch-up, not one per missed slot");
    let planned = status_jobs(&app, "queued").await;
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].1, start_time() + chrono::Duration::minutes(22), "the cadence continues from the catch-up");
    wait_for(&app, "the queue to be idle", || idle(&app)).await;
    drop(second);
    app.finish().await;
}

#[tokio::test]
async fn two_processes_on_one_database_post_each_update_exactly_once() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app);
    let one = fixture.spawn(&app).await;
    let two = fixture.spawn(&app).await;
    declare_through(&app, &one).await;

    for round in 1..=3 {
        let due = start_time() + chrono::Duration::minutes(5 * round);
        fixture.set_time(&app, due);
        nudge(&app).await;
        let done = || async { status_jobs(&app, "done").await.len() == round as usize };
        wait_with_retries_due(&app, &fixture, due, "the update to be done", done).await;
        // The timer queued the post: wait for it (and any second one) to be sent.
        let posted = || async { status_updates(&app) >= round as usize };
        wait_with_retries_due(&app, &fixture, due, "the update to be posted", posted).await;
        wait_for(&app, "the queue to be idle", || idle(&app)).await;
        wait_for(&app, "the next one to be planned", || async { status_jobs(&app, "queued").await.len() == 1 }).await;
        assert_eq!(status_updates(&app), round as usize, "round {round}: posted once");
    }
    wait_for(&app, "the queue to be idle", || idle(&app)).await;
    drop((one, two));
    app.finish().await;
}

#[tokio::test]
async fn sigterm_stops_the_process_cleanly() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app);
    let process = fixture.spawn(&app).await;

    let sent = Command::new("kill").args(["-TERM", &process.child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    // Waiting for the exit is blocking: do it off the runtime, bounded.
    let mut process = process;
    let waited = tokio::task::spawn_blocking(move || {
        let status = process.child.wait();
        (status, process)
    });
    let (status, _process) =
        tokio::time::timeout(Duration::from_secs(30), waited).await.expect("warroom stopped after SIGTERM").unwrap();
    let status = status.unwrap();

    assert!(status.success(), "exit status {status}");
    app.finish().await;
}

#[tokio::test]
async fn a_push_left_by_a_killed_process_is_delivered_once_after_the_restart() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app);
    // The first process cannot reach the status page (nothing listens there).
    let unreachable =
        format!("http://{}/v1", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let first = fixture.spawn_with(&app, &unreachable).await;
    declare_through(&app, &first).await;
    let push_failed = || async {
        let failed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'statuspage.push' AND state = 'queued' AND attempts = 1",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        failed == 1
    };
    wait_for(&app, "the push to be waiting for a retry", push_failed).await;

    drop(first); // SIGKILL

    // Restarted after the dead process's claims ran out. The status page takes a request a
    // second: time moves a second before each nudge until the incident is there (moving it
    // first means a request is always due, even if the process made one at start).
    let mut now = start_time() + chrono::Duration::minutes(6);
    fixture.set_time(&app, now);
    let second = fixture.spawn(&app).await;
    let created = || !app.statuspage.incidents().is_empty();
    for _ in 0..10 {
        if created() {
            break;
        }
        now += chrono::Duration::seconds(1);
        fixture.set_time(&app, now);
        let seen = app.statuspage.requests().len();
        nudge(&app).await;
        let answered = || async { created() || app.statuspage.requests().len() > seen };
        wait_for(&app, "a request to the status page", answered).await;
    }
    wait_for(&app, "the queue to be idle", || idle(&app)).await;

    assert_eq!(app.statuspage.incidents().len(), 1, "created once");
    let calls: Vec<(String, u16)> = app.statuspage.requests().into_iter().map(|r| (r.method, r.status)).collect();
    // Delivered once: one POST the status page took. A POST it throttled (429, when the
    // restarted process's look-up and its POST fall in the same second of the page's rate
    // limit) created nothing and is retried; that is the page's limit, not a second delivery.
    // Reads may come after it: the first process's start-up reconciliation (due long since)
    // runs on the restarted one and its GET can be throttled in the POST's second (seen in CI).
    let last_post = calls.iter().rev().find(|(method, _)| method == "POST");
    assert_eq!(last_post, Some(&("POST".to_string(), 201)), "nothing written after the delivery: {calls:?}");
    let created_by = calls.iter().filter(|(method, status)| method == "POST" && *status == 201).count();
    assert_eq!(created_by, 1, "{calls:?}");
    assert!(calls.iter().all(|(method, status)| method != "POST" || [201, 429].contains(status)), "{calls:?}");
    drop(second);
    app.finish().await;
}
