//! The status page fails, throttles, times out and refuses: no update is lost, none is doubled,
//! none overtakes another; what cannot be delivered is told.

use chrono::Duration;
use warroom::jobs::{kind, queue, runner};
use warroom::sandbox::statuspage::Fault;

use crate::harness::*;
use crate::statuspage::{assert_conforming, bodies, declared, gateway_app, in_channel, page_incident, texts};

#[tokio::test]
async fn ten_minutes_of_503_delays_updates_but_delivers_each_once_in_order() {
    let app = gateway_app(|_| {}).await;
    let channel = declared(&app).await;
    app.statuspage.fail_until(start_time() + Duration::minutes(10), Fault::Status(503));

    for step in 1..=3 {
        app.clock.advance(Duration::minutes(2));
        in_channel(&app, ALICE, &channel, &format!("update status=\"step {step}\"")).await;
    }
    let status = in_channel(&app, ALICE, &channel, "status").await;
    assert!(status.contains(":warning: failing since 15:02 UTC (HTTP 503: Service Unavailable, retrying)"), "{status}");
    app.settle().await;

    let delivered: Vec<String> = bodies(&app).into_iter().skip(1).collect();
    let people: Vec<&String> = delivered.iter().filter(|b| !b.ends_with("Last Updated: 15:10 UTC")).collect();
    assert_eq!(people.len(), 3, "{delivered:#?}");
    for (i, body) in people.iter().enumerate() {
        assert!(body.contains(&format!("Status: Investigating - step {}", i + 1)), "update {i} out of order: {body}");
    }
    // The 15:05 scheduled push still waited when the 15:10 slot fired: that one, the latest news,
    // went out once after the people's updates; the stale one did not.
    assert_eq!(delivered.len(), 4, "{delivered:#?}");
    assert!(delivered[3].contains("step 3") && delivered[3].ends_with("Last Updated: 15:10 UTC"), "{delivered:#?}");
    let page = page_incident(&app);
    let last_delivery = page.updates.last().unwrap().created_at;
    assert!(last_delivery >= start_time() + Duration::minutes(10));
    assert!(last_delivery <= start_time() + Duration::minutes(12), "caught up within two minutes: {last_delivery}");
    let said = texts(&app, &channel);
    assert_eq!(said.iter().filter(|t| t.contains("The status page is failing (HTTP 503")).count(), 1);
    assert_eq!(said.iter().filter(|t| t.contains("The status page is reachable again")).count(), 1);
    let status = in_channel(&app, ALICE, &channel, "status").await;
    assert!(status.contains("· synced 15:1"), "{status}");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let app = gateway_app(|_| {}).await;
    let channel = declared(&app).await;
    app.clock.advance(Duration::minutes(1));
    app.statuspage.fail_next(1, Fault::RateLimited { retry_after_secs: 30 });

    in_channel(&app, ALICE, &channel, "update status=identified").await;
    app.settle().await;

    let patches: Vec<_> = app.statuspage.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert_eq!(patches[1].at - patches[0].at, Duration::seconds(30));
    assert_eq!(page_incident(&app).status, "identified");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_create_that_timed_out_after_reaching_the_server_is_not_repeated() {
    let app = gateway_app(|s| s.statuspage_timeout = std::time::Duration::from_millis(500)).await;
    app.statuspage.fail_next(1, Fault::ApplyThenHang);

    let channel = declared(&app).await;
    app.settle().await;

    page_incident(&app);
    let calls: Vec<(String, u16)> = app.statuspage.requests().into_iter().map(|r| (r.method, r.status)).collect();
    assert_eq!(calls, [("POST".to_string(), 0), ("GET".to_string(), 200)], "looked up, found, not created again");
    let sync = warroom::statuspage::store::get(&app.db, app.only_incident().await.id).await.unwrap().unwrap();
    assert_eq!(sync.statuspage_id.as_deref(), Some(page_incident(&app).id.as_str()));

    // The same for an update: read back, found applied, not sent twice.
    app.statuspage.fail_next(1, Fault::ApplyThenHang);
    in_channel(&app, ALICE, &channel, "update status=identified cause=OOM").await;
    app.settle().await;

    let identified = bodies(&app).iter().filter(|b| b.contains("Identified - OOM")).count();
    assert_eq!(identified, 1);
    let last: Vec<(String, u16)> =
        app.statuspage.requests().into_iter().skip(2).map(|r| (r.method, r.status)).collect();
    assert_eq!(last, [("PATCH".to_string(), 0), ("GET".to_string(), 200)]);
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_422_is_shown_with_the_api_message_and_not_retried() {
    let app = gateway_app(|s| {
        s.file.services.get_mut("inference-gateway").unwrap().statuspage_components = vec!["cmp0missing".into()];
    })
    .await;

    let channel = declared(&app).await;
    app.settle().await;

    let requests = app.statuspage.requests();
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [422], "refused once, never retried");
    let told = texts(&app, &channel);
    let refusal = told.iter().find(|t| t.contains("The status page refused the open of INC-1")).expect("told");
    assert!(refusal.contains("HTTP 422: Component cmp0missing could not be found on this page"), "{refusal}");
    let incident = app.only_incident().await;
    assert!(app.timeline(&incident).await.contains(&"statuspage_failed".to_string()));
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'failed'")
        .bind(kind::STATUSPAGE_PUSH)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failed, 1);
    let status = in_channel(&app, ALICE, &channel, "status").await;
    assert!(status.contains("not retried"), "{status}");
    app.finish().await;
}

#[tokio::test]
async fn a_push_claimed_by_a_process_that_died_is_delivered_after_restart() {
    let app = gateway_app(|_| {}).await;
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    // The first process claims the push and dies before sending it.
    let claimed = loop {
        let job = queue::claim(&app.db, app.clock.now_utc()).await.unwrap().expect("the declaration queued work");
        if job.kind == kind::STATUSPAGE_PUSH {
            break job;
        }
        queue::complete(&app.db, job.id, app.clock.now_utc()).await.unwrap();
    };
    assert_eq!(claimed.attempts, 1);
    assert!(app.statuspage.requests().is_empty());

    // Another process starts; the dead one's claim runs out.
    let restarted = app.replica().await;
    app.clock.advance(Duration::minutes(6));
    while runner::run_due(&restarted).await.unwrap() > 0 {}
    app.settle().await;

    page_incident(&app);
    let calls: Vec<String> = app.statuspage.requests().into_iter().map(|r| r.method).collect();
    // (The PATCH is the 15:05 scheduled update, which the six minutes passed.)
    assert_eq!(calls, ["GET", "POST", "PATCH"], "a second attempt looks before it creates");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn two_replicas_push_each_update_once_within_one_request_per_second() {
    let app = gateway_app(|_| {}).await;
    let other = app.replica().await;
    for n in 1..=3 {
        app.slash(ALICE, &format!("declare P0 inference-gateway Outage {n}")).await;
    }

    // Both replicas work the same queue until nothing but timers is left.
    loop {
        let (a, b) = tokio::join!(runner::run_due(&app.state), runner::run_due(&other));
        if a.unwrap() + b.unwrap() > 0 {
            continue;
        }
        let next: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind <> 'incident.status_update'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        match next {
            Some(at) => app.clock.set(at.max(app.clock.now_utc())),
            None => break,
        }
    }

    let pages = app.statuspage.incidents();
    assert_eq!(pages.len(), 3, "one status page incident per incident");
    let requests = app.statuspage.requests();
    // The creates, then the scheduled updates of the slots the escalation timers moved the clock across.
    assert_eq!(requests.iter().filter(|r| r.method == "POST").count(), 3, "{requests:#?}");
    assert!(requests.iter().all(|r| r.status == 201 || (r.method == "PATCH" && r.status == 200)), "{requests:#?}");
    for pair in requests.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::seconds(1), "more than one request per second");
    }
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_body_longer_than_the_limit_is_shortened_not_refused() {
    let app = gateway_app(|_| {}).await;
    declared(&app).await;
    app.clock.advance(Duration::minutes(1));
    let incident = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields {
        impact: Some("Every region is affected. ".repeat(1200)),
        ..Default::default()
    };

    warroom::incident::lifecycle::update(
        &app.db,
        app.state.reactions(),
        app.clock.now_utc(),
        &incident,
        ALICE,
        &fields,
    )
    .await
    .unwrap();
    app.settle().await;

    let last = bodies(&app).pop().unwrap();
    assert_eq!(last.chars().count(), 25_000);
    assert!(last.ends_with("[… shortened by warroom: the full text is in the incident channel]"));
    assert!(app.statuspage.requests().iter().all(|r| r.status < 300));
    assert_conforming(&app);
    app.finish().await;
}
