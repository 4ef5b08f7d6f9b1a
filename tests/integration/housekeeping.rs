//! What keeps warroom healthy over time: old idempotency keys are purged; `/metrics` and
//! `/readyz` have a pool of their own, so scrapes and probes cannot take the connections that
//! acknowledge Slack (and the other way round, they still answer when Slack's pool is busy).

use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::harness::*;

async fn keys(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY created_at, key").fetch_all(&app.db).await.unwrap()
}

#[tokio::test]
async fn idempotency_keys_older_than_seven_days_are_purged_and_recent_ones_kept() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let old = keys(&app).await;
    assert_eq!(old.len(), 1, "the declaration's trigger_id");

    app.clock.advance(Duration::days(8));
    app.slash(ALICE, "declare P1 payments Checkout 502s").await;
    app.drain().await;
    app.clock.advance(Duration::hours(1));
    warroom::jobs::purge::run(&app.state).await.unwrap();

    let left = keys(&app).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left.contains(&old[0]), "the 8-day-old key is gone");
    assert_eq!(app.incidents().await.len(), 2, "purging keys deletes no incident");
    let next: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'jobs.purge' AND state = 'queued'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(next, 1, "the next purge is planned");
    app.drain().await;
    app.finish().await;
}

/// GET `path`, failing the test (instead of hanging) when it takes more than 5 s.
async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let request = warroom::tls::http_client().get(format!("{}{path}", app.address)).send();
    let answer = tokio::time::timeout(StdDuration::from_secs(5), request).await.expect("answered in time").unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn metrics_and_readiness_answer_while_every_connection_of_the_main_pool_is_held() {
    let app = spawn_app().await;
    let mut held = Vec::new();
    while let Ok(Ok(connection)) = tokio::time::timeout(StdDuration::from_millis(200), app.db.acquire()).await {
        held.push(connection);
    }
    assert_eq!(held.len() as u32, app.db.options().get_max_connections(), "the main pool is exhausted");

    let (status, metrics) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("\nwarroom_database_up 1\n"), "the gauges were read, on the probes' pool:\n{metrics}");
    assert_eq!(get(&app, "/readyz").await, (200, "ready".to_string()));

    drop(held);
    app.finish().await;
}

#[tokio::test]
async fn slack_is_acknowledged_while_the_probes_pool_is_exhausted_and_the_probes_say_so_quickly() {
    let app = spawn_app().await;
    let probes = &app.state.probe_db;
    let mut held = Vec::new();
    for _ in 0..probes.options().get_max_connections() {
        held.push(probes.acquire().await.unwrap());
    }

    // Scrapes pile up on the probes' pool...
    let scrapes: Vec<_> = (0..4)
        .map(|_| tokio::spawn(warroom::tls::http_client().get(format!("{}/metrics", app.address)).send()))
        .collect();
    // ...while a declaration is acknowledged at once.
    let reply = tokio::time::timeout(StdDuration::from_secs(2), app.slash(ALICE, "declare P0 api Everything 500s"))
        .await
        .expect("acknowledged without waiting for the probes");
    assert!(reply.text().contains("INC-1"), "{}", reply.text());

    for scrape in scrapes {
        let metrics = scrape.await.unwrap().unwrap().text().await.unwrap();
        assert!(metrics.contains("\nwarroom_database_up 0\n"), "a scrape without a connection says so:\n{metrics}");
    }
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "database unreachable"));

    drop(held);
    assert_eq!(get(&app, "/readyz").await.0, 200, "ready again once the pool has a connection");
    app.drain().await;
    app.finish().await;
}
