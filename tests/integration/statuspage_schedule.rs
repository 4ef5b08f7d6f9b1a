//! The seeds' status page, followed to the letter: the impact each team's runbook names (seed
//! 001's `impact_override=major`), and in `auto` mode the promised "updates every 5 minutes" —
//! each scheduled status update pushes the status page once per slot, with that slot's "Last
//! Updated", within the page's one request per second shared by every incident and replica.

use chrono::{DateTime, Duration, Utc};
use warroom::app::AppState;
use warroom::config::{FileConfig, StatuspageMode};
use warroom::incident::Severity;
use warroom::jobs::{kind, queue, runner};
use warroom::sandbox::statuspage::Fault;

use crate::harness::*;
use crate::statuspage::{assert_conforming, bodies, declared, gateway_app, in_channel};

/// 15:00 plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    start_time() + Duration::minutes(minutes)
}

/// Moves the clock to `minutes` past 15:00 (a slot), then works the queue as [`TestApp::settle`]
/// does, with `replicas` working it alongside the app.
async fn slot(app: &TestApp, replicas: &[AppState], minutes: i64) {
    app.clock.set(at(minutes));
    work(app, replicas).await;
}

/// Every replica runs due jobs at once until none is due; the clock moves to each later
/// non-timer job (retries, the request budget's next second) until only timers are left.
async fn work(app: &TestApp, replicas: &[AppState]) {
    let timers: Vec<String> = kind::TIMERS.iter().map(|k| k.to_string()).collect();
    for _ in 0..1000 {
        let mut all = vec![runner::run_due(&app.state)];
        all.extend(replicas.iter().map(runner::run_due));
        let ran: usize = futures_util::future::join_all(all).await.into_iter().map(Result::unwrap).sum();
        if ran > 0 {
            continue;
        }
        let next: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind <> ALL($1)")
                .bind(&timers)
                .fetch_one(&app.db)
                .await
                .unwrap();
        match next {
            Some(next) => app.clock.set(next.max(app.clock.now_utc())),
            None => return,
        }
    }
    panic!("the queue did not settle");
}

/// The "Last Updated" times of the page incident's updates, oldest first.
fn last_updated(updates: &[warroom::sandbox::statuspage::Update]) -> Vec<String> {
    updates.iter().map(|u| u.body.rsplit("Last Updated: ").next().unwrap_or_default().to_string()).collect()
}

/// The status page requests that got through (2xx), with their times.
fn accepted(app: &TestApp) -> Vec<(String, u16, DateTime<Utc>)> {
    app.statuspage.requests().into_iter().map(|r| (r.method, r.status, r.at)).collect()
}

/// The slots (due times) of the incident's delivered scheduled pushes, from its timeline.
async fn scheduled_pushes(app: &TestApp, incident: &warroom::incident::store::Incident) -> Vec<DateTime<Utc>> {
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    events
        .iter()
        .filter(|e| e.kind == "statuspage_pushed")
        .filter_map(|e| serde_json::from_value(e.payload["scheduled"].clone()).ok())
        .collect()
}

/// A config file, parsed as `warroom.toml` is (so the test goes through the parser).
fn parsed(text: &str) -> FileConfig {
    FileConfig::parse(std::path::Path::new("warroom.toml"), text).unwrap()
}

#[tokio::test]
async fn the_impact_comes_from_the_config_at_open_and_on_later_updates_and_the_default_is_unchanged() {
    let file = parsed(
        "[services.web3-marketplace-backend]\ndisplay_name = \"Marketplace API\"\n\
         statuspage_impact = { P0 = \"major\" }\n",
    );
    let app = gateway_app(|s| {
        let web3 = file.services["web3-marketplace-backend"].clone();
        s.file.services.insert("web3-marketplace-backend".into(), web3);
        s.file.severity.get_mut(&Severity::P1).unwrap().statuspage_impact = Some(warroom::config::Impact::Minor);
    })
    .await;

    app.slash(ALICE, "declare P0 web3-marketplace-backend Marketplace API is down").await;
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.settle().await;
    let incidents = app.incidents().await;
    let web3_channel = incidents[0].channel_id.clone().unwrap();
    let gateway_channel = incidents[1].channel_id.clone().unwrap();
    app.clock.advance(Duration::minutes(1));
    in_channel(&app, BOB, &web3_channel, "update status=identified cause=\"Redis master evicted\"").await;
    in_channel(&app, BOB, &gateway_channel, "sev P1").await;
    app.settle().await;

    let pages = app.statuspage.incidents();
    let page = |name: &str| pages.iter().find(|p| p.name.ends_with(name)).unwrap().clone();
    assert_eq!(page("Marketplace API").impact, "major", "seed 001: the service's own impact");
    assert_eq!(page("ML Inference API").impact, "minor", "the lowered severity's configured impact");
    let sent: Vec<(String, String)> = app
        .statuspage
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            let name = r.body["incident"]["name"].as_str().unwrap_or_default().to_string();
            (name, r.body["incident"]["impact_override"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(n, i)| (n.as_str(), i.as_str())).collect();
    assert_eq!(
        sent,
        [
            ("Major Outage - Marketplace API", "major"),
            ("Major Outage - ML Inference API", "critical"),
            ("Major Outage - Marketplace API", "major"),
            ("Partial Outage - ML Inference API", "minor"),
        ],
        "opened with the configured impact, the default unchanged for P0, kept on later updates"
    );
    let web3 = app.incidents().await.remove(0);
    let events = warroom::timeline::list(&app.db, web3.id).await.unwrap();
    let pushed: Vec<&str> =
        events.iter().filter(|e| e.kind == "statuspage_pushed").filter_map(|e| e.payload["impact"].as_str()).collect();
    assert_eq!(pushed, ["major", "major"], "the timeline says which impact each push carried");
    assert_conforming(&app);
    app.finish().await;
}

#[test]
fn a_bad_statuspage_impact_is_a_check_config_error_with_its_line() {
    let dir = std::env::temp_dir().join(format!("warroom-impact-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("warroom.toml");
    let text = "[severity.P0]\nstatus_update_every = \"5m\"\nstatuspage_impact = \"catastrophic\"\n\n\
                [services.web3-marketplace-backend]\nstatuspage_impact = { P0 = \"Major\", p1 = \"minor\" }\n";
    std::fs::write(&file, text).unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("check-config")
        .env_clear()
        .env("WARROOM_CONFIG", &file)
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let path = file.display();
    for expected in [
        format!("{path}:3: statuspage_impact = \"catastrophic\": use none, minor, major or critical"),
        format!(
            "{path}:6: [services.web3-marketplace-backend] statuspage_impact = \"Major\": use none, minor, major or critical"
        ),
        format!(
            "{path}:6: [services.web3-marketplace-backend] statuspage_impact: `p1` is not a severity (P0, P1, P2 or P3)"
        ),
    ] {
        assert!(stderr.contains(&expected), "missing `{expected}` in:\n{stderr}");
    }
    // Fixed, the same file passes.
    std::fs::write(&file, text.replace("catastrophic", "major").replace("Major", "major").replace("p1", "P1")).unwrap();
    let fixed = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("check-config")
        .env_clear()
        .env("WARROOM_CONFIG", &file)
        .output()
        .unwrap();
    assert!(fixed.status.success(), "{}", String::from_utf8_lossy(&fixed.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn each_scheduled_update_pushes_the_status_page_once_per_slot_within_a_budget_three_incidents_share() {
    let app = gateway_app(|_| {}).await;
    let other = app.replica().await;
    for n in 1..=3 {
        app.slash(ALICE, &format!("declare P0 inference-gateway Outage {n}")).await;
    }
    work(&app, std::slice::from_ref(&other)).await;

    // Two replicas work the queue at every slot for twenty minutes.
    for minutes in [5, 10, 15, 20] {
        slot(&app, std::slice::from_ref(&other), minutes).await;
    }

    let pages = app.statuspage.incidents();
    assert_eq!(pages.len(), 3);
    for page in &pages {
        assert_eq!(
            last_updated(&page.updates),
            ["15:00 UTC", "15:05 UTC", "15:10 UTC", "15:15 UTC", "15:20 UTC"],
            "{}: the opening, then one push per slot, in order, each with its slot's time",
            page.metadata["warroom"]["number"]
        );
        assert!(page.updates[1..].iter().all(|u| u.body.contains("We will provide updates every 5 minutes.")));
    }
    for incident in app.incidents().await {
        let slots: Vec<DateTime<Utc>> = [5, 10, 15, 20].into_iter().map(at).collect();
        assert_eq!(scheduled_pushes(&app, &incident).await, slots, "{}", incident.number());
    }
    // The three incidents' pushes of a slot share the one request per second: throttled into
    // consecutive seconds, never refused by the page, never failed.
    let requests = accepted(&app);
    assert!(requests.iter().all(|(_, status, _)| (200..300).contains(status)), "{requests:#?}");
    for pair in requests.windows(2) {
        assert!(pair[1].2 - pair[0].2 >= Duration::seconds(1), "more than one request per second: {pair:?}");
    }
    let at_15_10: Vec<DateTime<Utc>> =
        requests.iter().filter(|r| r.0 == "PATCH" && r.2 < at(11) && r.2 >= at(10)).map(|r| r.2).collect();
    assert_eq!(at_15_10, [at(10), at(10) + Duration::seconds(1), at(10) + Duration::seconds(2)]);
    let failing: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_events WHERE kind LIKE 'statuspage_fail%'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failing, 0);
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_scheduled_push_answered_500_after_delivery_or_429_is_on_the_page_once() {
    let app = gateway_app(|_| {}).await;
    declared(&app).await;

    // 15:05: the page applies the update, then answers 500.
    app.statuspage.fail_next(1, Fault::ApplyThenStatus(500));
    slot(&app, &[], 5).await;
    // 15:10: the page throttles (its limit is per key: another client may share it).
    app.statuspage.fail_next(1, Fault::RateLimited { retry_after_secs: 7 });
    slot(&app, &[], 10).await;

    assert_eq!(last_updated(&crate::statuspage::page_incident(&app).updates), ["15:00 UTC", "15:05 UTC", "15:10 UTC"]);
    let calls: Vec<(String, u16, DateTime<Utc>)> = accepted(&app).into_iter().skip(1).collect();
    let shape: Vec<(&str, u16)> = calls.iter().map(|(m, s, _)| (m.as_str(), *s)).collect();
    assert_eq!(
        shape,
        [("PATCH", 500), ("GET", 200), ("PATCH", 429), ("PATCH", 200)],
        "the 500 was read back and found applied; the 429 was sent again"
    );
    assert_eq!(calls[3].2 - calls[2].2, Duration::seconds(7), "after its Retry-After");
    let incident = app.only_incident().await;
    assert_eq!(scheduled_pushes(&app, &incident).await, [at(5), at(10)]);
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_process_that_dies_after_sending_a_scheduled_push_does_not_send_it_twice() {
    let app = gateway_app(|s| {
        let every = warroom::duration::HumanDuration::parse("10m").unwrap();
        s.file.severity.get_mut(&Severity::P0).unwrap().status_update_every = Some(every);
    })
    .await;
    declared(&app).await;
    app.clock.set(at(10));
    // The timer fires in one process...
    let timer = claim(&app, kind::STATUS_UPDATE).await;
    warroom::jobs::status_update::run(&app.state, &timer).await.unwrap();
    queue::complete(&app.db, timer.id, app.clock.now_utc()).await.unwrap();
    // ...another claims its push, sends it, and dies before the answer comes back.
    let push = claim(&app, kind::STATUSPAGE_PUSH).await;
    app.statuspage.fail_next(1, Fault::ApplyThenHang);
    let sent = app.statuspage.requests().len() + 1;
    tokio::select! {
        _ = warroom::statuspage::push::run(&app.state, &push) => panic!("the page never answers"),
        () = app.statuspage.received(sent) => {}
    }

    // A replica takes over once the dead process's claim runs out.
    let replica = app.replica().await;
    app.clock.set(at(16));
    work(&app, &[replica]).await;

    assert_eq!(last_updated(&crate::statuspage::page_incident(&app).updates), ["15:00 UTC", "15:10 UTC"]);
    let calls: Vec<(String, u16)> = accepted(&app).into_iter().skip(1).map(|(m, s, _)| (m, s)).collect();
    assert_eq!(calls, [("PATCH".to_string(), 0), ("GET".to_string(), 200)], "read back, found, not sent again");
    assert_eq!(scheduled_pushes(&app, &app.only_incident().await).await, [at(10)]);
    app.finish().await;
}

/// Claims the next due job of `kind` as a process would, putting the others back a second.
async fn claim(app: &TestApp, kind: &str) -> queue::Job {
    loop {
        let job = queue::claim(&app.db, app.clock.now_utc()).await.unwrap().expect("a job of that kind is due");
        if job.kind == kind {
            return job;
        }
        let later = app.clock.now_utc() + Duration::seconds(1);
        queue::retry(&app.db, job.id, later, "another process's", false).await.unwrap();
    }
}

#[tokio::test]
async fn manual_and_off_severities_get_no_scheduled_push() {
    let app = gateway_app(|s| {
        s.file.severity.get_mut(&Severity::P0).unwrap().statuspage = StatuspageMode::Manual;
        s.file.severity.get_mut(&Severity::P1).unwrap().statuspage = StatuspageMode::Off;
    })
    .await;
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.slash(ALICE, "declare P1 inference-gateway Slow predictions").await;
    app.settle().await;

    for minutes in [5, 10, 15] {
        slot(&app, &[], minutes).await;
    }

    assert_eq!(bodies(&app).len(), 1, "manual: opened at declaration, nothing automatic after");
    assert_eq!(app.statuspage.requests().len(), 1, "off: never on the page");
    let previews: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1")
        .bind(kind::STATUSPAGE_PREVIEW)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(previews, 0, "no draft for people to confirm either: the slots had no news");
    let posted: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_events WHERE kind = 'status_update_posted'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(posted, 4, "the channels still got their scheduled updates (P0 three, P1 one)");
    app.finish().await;
}

#[tokio::test]
async fn a_resolved_incident_gets_no_scheduled_push_not_even_one_waiting_out_an_outage() {
    let app = gateway_app(|_| {}).await;
    declared(&app).await;
    // The page is down from 15:05 to 15:08: the 15:05 push waits, and the incident resolves.
    app.statuspage.fail_between(at(5), at(8), Fault::Status(503));
    app.clock.set(at(5));
    app.drain().await;
    app.clock.set(at(6));
    let incident = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields::default();
    app.resolve_directly(&incident, ALICE, &fields, Some("Restarted")).await;
    app.settle().await;
    for minutes in [10, 15, 20] {
        slot(&app, &[], minutes).await;
    }

    let page = crate::statuspage::page_incident(&app);
    let statuses: Vec<&str> = page.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["investigating", "resolved"], "the resolution is the news, not a stale 15:05 update");
    let delivered: Vec<(String, u16)> =
        accepted(&app).into_iter().filter(|r| r.1 < 300).map(|(m, s, _)| (m, s)).collect();
    assert_eq!(delivered, [("POST".to_string(), 201), ("PATCH".to_string(), 200)]);
    assert!(app.statuspage.requests().last().unwrap().at < at(9), "nothing after the resolution");
    assert!(scheduled_pushes(&app, &app.only_incident().await).await.is_empty());
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn one_slot_run_by_two_replicas_at_once_pushes_once() {
    let app = gateway_app(|_| {}).await;
    declared(&app).await;
    app.clock.set(at(5));
    // A claim whose lock ran out: two processes hold the same timer.
    let timer = claim(&app, kind::STATUS_UPDATE).await;
    let replica = app.replica().await;

    let (a, b) = tokio::join!(
        warroom::jobs::status_update::run(&app.state, &timer),
        warroom::jobs::status_update::run(&replica, &timer)
    );
    a.unwrap();
    b.unwrap();
    queue::complete(&app.db, timer.id, app.clock.now_utc()).await.unwrap();
    work(&app, &[replica]).await;

    assert_eq!(last_updated(&crate::statuspage::page_incident(&app).updates), ["15:00 UTC", "15:05 UTC"]);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1 AND payload ? 'scheduled'")
        .bind(kind::STATUSPAGE_PUSH)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 1, "one push queued for the slot");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_refusal_that_repeats_at_every_slot_is_told_once_and_recorded_each_time() {
    let app = gateway_app(|s| {
        s.file.services.get_mut("inference-gateway").unwrap().statuspage_components = vec!["cmp0missing".into()];
    })
    .await;
    let channel = declared(&app).await;
    app.settle().await;

    for minutes in [5, 10] {
        slot(&app, &[], minutes).await;
    }

    let told: Vec<String> = crate::statuspage::texts(&app, &channel)
        .into_iter()
        .filter(|t| t.contains("The status page refused"))
        .collect();
    assert_eq!(told.len(), 1, "the opening's refusal says what to fix; the slots' add nothing: {told:#?}");
    assert!(told[0].contains("HTTP 422: Component cmp0missing could not be found on this page"), "{}", told[0]);
    let incident = app.only_incident().await;
    let refused = app.timeline(&incident).await.iter().filter(|k| *k == "statuspage_failed").count();
    assert_eq!(refused, 3, "the opening and both slots, each in the timeline");
    // A person's update is told again: it is what they just did.
    in_channel(&app, ALICE, &channel, "update status=identified").await;
    app.settle().await;
    let told =
        crate::statuspage::texts(&app, &channel).iter().filter(|t| t.contains("The status page refused")).count();
    assert_eq!(told, 2);
    app.finish().await;
}
