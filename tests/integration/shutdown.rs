//! Prompt shutdown, with a real `warroom serve` process: on SIGTERM each worker finishes the
//! job it holds and claims no other; what is left stays queued for another replica.

use std::process::Command;
use std::time::Duration;

use warroom::app::DEFAULT_WORKERS;

use crate::harness::*;
use crate::processes::{wait_for, Fixture};

/// The advisory lock the test holds while the workers' jobs wait to be marked done.
const GATE: i64 = 4242;

async fn count(app: &TestApp, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE slot LIKE 'sigterm:%' AND state = $1")
        .bind(state)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn sigterm_with_200_due_jobs_finishes_the_jobs_in_hand_and_leaves_the_rest_queued() {
    let app = spawn_app().await;
    let fixture = Fixture::new(&app);
    // Each seeded job, when it is marked done, waits for the gate: the test catches every
    // worker holding a job, then stops the process.
    let mut gate = app.db.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(GATE).execute(&mut *gate).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock_shared({GATE}); RETURN NEW; END $$;
         CREATE TRIGGER gate BEFORE UPDATE ON jobs FOR EACH ROW
         WHEN (NEW.state = 'done' AND NEW.slot LIKE 'sigterm:%') EXECUTE FUNCTION gate();"
    )))
    .execute(&app.db)
    .await
    .unwrap();
    // 200 due jobs that do nothing harmful (the hourly housekeeping, each in a slot of its own).
    sqlx::query(
        "INSERT INTO jobs (kind, slot, payload, run_at, created_at)
         SELECT 'jobs.purge', 'sigterm:' || n, '{}', $1, $1 FROM generate_series(1, 200) AS n",
    )
    .bind(app.clock.now_utc())
    .execute(&app.db)
    .await
    .unwrap();

    let mut process = fixture.spawn(&app).await;
    let holding = || async { count(&app, "running").await == DEFAULT_WORKERS as i64 };
    wait_for(&app, "every worker to hold a job", holding).await;

    let sent = Command::new("kill").args(["-TERM", &process.child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    // The stop reaches the workers before the listener closes: once it refuses, they know.
    let url = process.url.clone();
    // Each probe gives up after two seconds: a probe that reached the closing listener's backlog must
    // not wait for the process, which waits for the gate this test still holds.
    let probe = warroom::tls::http_client_builder().timeout(Duration::from_secs(2)).build().unwrap();
    let closed = || async { probe.get(format!("{url}/readyz")).send().await.is_err() };
    wait_for(&app, "the listener to close", closed).await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(GATE).execute(&mut *gate).await.unwrap();
    // Back to the pool now: `finish` closes the pool, which waits for every connection.
    drop(gate);
    let waited = tokio::task::spawn_blocking(move || (process.child.wait(), process));
    let (status, _process) =
        tokio::time::timeout(Duration::from_secs(30), waited).await.expect("warroom stopped after SIGTERM").unwrap();
    assert!(status.unwrap().success());

    let (done, queued) = (count(&app, "done").await, count(&app, "queued").await);
    assert!((1..=DEFAULT_WORKERS as i64).contains(&done), "{done} done: only the jobs in hand");
    assert_eq!((queued, count(&app, "running").await), (200 - done, 0), "the rest wait, unclaimed");

    // Another replica takes them.
    let replica = fixture.spawn(&app).await;
    wait_for(&app, "the replica to run the rest", || async { count(&app, "done").await == 200 }).await;
    drop(replica);
    app.finish().await;
}
