//! Slack throttling and outages never use up work: a 60-second 429 storm on every method
//! during a declaration, three updates and an escalation, worked by two replicas, ends with every
//! post exactly once and none sent inside a `Retry-After`; a 10-minute outage across two status
//! update slots ends with one catch-up and the cadence kept.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use warroom::app::AppState;
use warroom::config::EscalationTier;
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::jobs::runner;
use warroom::sandbox::{CallRecord, Fault};

use crate::exactly_once::count;
use crate::harness::*;

/// Runs due jobs on every replica at once until none of them finds any.
async fn drain_all(replicas: &[&AppState]) {
    for _ in 0..100 {
        let ran = futures_util::future::join_all(replicas.iter().map(|s| runner::run_due(s))).await;
        if ran.into_iter().map(Result::unwrap).sum::<usize>() == 0 {
            return;
        }
    }
    panic!("the job queue did not settle");
}

/// A method, and for posts the channel (by id).
type LimitKey = (String, Option<String>);
type Window = (DateTime<Utc>, DateTime<Utc>);

/// Which limit a call falls under.
fn limit_key(app: &TestApp, call: &CallRecord) -> LimitKey {
    let channel = (call.method == "chat.postMessage")
        .then(|| call.channel.as_deref().map(|c| app.slack.channel(c).map_or(c.to_string(), |c| c.id)))
        .flatten();
    (call.method.clone(), channel)
}

/// Every answered call that came inside the `Retry-After` of a 429 under the same limit.
fn inside_retry_after(app: &TestApp, log: &[CallRecord]) -> Vec<String> {
    let mut pauses: HashMap<LimitKey, Vec<Window>> = HashMap::new();
    for call in log.iter().filter(|c| c.status == 429) {
        let until = call.at + Duration::seconds(call.retry_after.unwrap_or(1) as i64);
        pauses.entry(limit_key(app, call)).or_default().push((call.at, until));
    }
    log.iter()
        .filter(|c| c.status != 429)
        .filter(|c| {
            pauses
                .get(&limit_key(app, c))
                .is_some_and(|ps| ps.iter().any(|(from, until)| *from <= c.at && c.at < *until))
        })
        .map(|c| format!("{} {:?} at {}", c.method, c.channel, c.at))
        .collect()
}

#[tokio::test]
async fn a_minute_of_429s_on_every_method_across_two_replicas_loses_and_doubles_nothing() {
    let app = spawn_app_with(|s| {
        let tier = EscalationTier {
            // Fires 40 s into the storm, by its timer.
            after: HumanDuration(std::time::Duration::from_secs(40)),
            notify: vec![BOB.into(), "@sre-leads".into()],
            pagerduty: false,
        };
        s.file.escalation.insert(Severity::P0, vec![tier]);
        if let Some(p0) = s.file.severity.get_mut(&Severity::P0) {
            p0.ack_within = None;
        }
    })
    .await;
    let replica = app.replica().await;
    let replicas = [&app.state, &replica];
    let storm = Fault::RateLimited { retry_after_secs: 3 };
    let (start, end) = (start_time(), start_time() + Duration::seconds(60));
    app.slack.inject_window("*", storm, start, end);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    for second in 0..=150 {
        app.clock.set(start + Duration::seconds(second));
        match second {
            10 | 20 | 30 => {
                app.slash(ALICE, &format!("update INC-1 eta=\"storm {second}\"")).await;
            }
            _ => {}
        }
        drain_all(&replicas).await;
    }
    app.settle().await;

    let channel = app.only_incident().await.channel_id.expect("the channel was created after the storm");
    for second in [10, 20, 30] {
        assert_eq!(count(&app, &channel, &format!("storm {second}")), 1, "update at {second}s posted once");
    }
    assert_eq!(count(&app, &channel, "ESCALATION REQUEST"), 1, "the escalation posted once");
    assert_eq!(count(&app, "incidents", "Everything 500s"), 1, "the announcement once");
    assert_eq!(app.slack.channel("dm-u0bob").map(|c| c.messages.len()), Some(1), "bob's DM once");
    // Every message warroom posted names its job: no job has two.
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for c in app.slack.channels() {
        for m in c.messages.iter().filter(|m| m.user == warroom::sandbox::BOT_USER) {
            let job = m.metadata["event_payload"]["job"].as_str().expect("every post carries its job").to_string();
            *per_job.entry(job).or_default() += 1;
        }
    }
    assert!(per_job.values().all(|n| *n == 1), "a job posted twice: {per_job:?}");
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed'").fetch_one(&app.db).await.unwrap();
    assert_eq!(failed, 0, "throttling used up no job");

    let log = app.slack.call_log();
    let throttled = log.iter().filter(|c| c.status == 429).count();
    assert!(throttled >= 20, "the storm answered 429s ({throttled})");
    assert!(log.iter().filter(|c| c.status == 200).all(|c| c.at >= end), "nothing got through the storm");
    let early = inside_retry_after(&app, &log);
    assert!(early.is_empty(), "calls inside a Retry-After: {early:?}");
    // The pause is shared: far fewer calls than jobs × seconds of storm.
    assert!(throttled < 200, "every job kept hitting Slack: {throttled} 429s");
    app.finish().await;
}

#[tokio::test]
async fn ten_minutes_of_503_across_two_status_slots_end_in_one_catch_up_and_the_cadence_kept() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    let start = start_time();
    let at = |secs: i64| start + Duration::seconds(secs);
    // P0 updates every 5 minutes: slots at 5:00, 10:00 and 15:00; Slack is down 3:00–13:00.
    app.slack.inject_window("*", Fault::Status(503), at(180), at(780));

    for step in 0..=(16 * 6) {
        app.clock.set(at(step * 10));
        app.drain().await;
    }

    let updates: Vec<_> =
        app.slack.channel(&channel).unwrap().messages.into_iter().filter(|m| m.text.starts_with("🔄")).collect();
    assert_eq!(updates.len(), 2, "one catch-up after the outage, then the 15:00 slot");
    let (catch_up, on_time) = (&updates[0], &updates[1]);
    assert!(catch_up.received_at >= at(780) && catch_up.received_at <= at(780 + 70), "{}", catch_up.received_at);
    assert_eq!(on_time.received_at, at(900), "the cadence kept its grid");
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let posted: Vec<_> = events.iter().filter(|e| e.kind == "status_update_posted").collect();
    assert_eq!(posted.len(), 2);
    for event in &posted {
        let next: DateTime<Utc> = serde_json::from_value(event.payload["next"].clone()).unwrap();
        assert!(next > event.at, "\"Next update\" was in the future when it was posted: {next} at {}", event.at);
    }
    assert!(texts_contain(catch_up, "15:15 UTC"), "the catch-up names 15:15 as the next update");
    assert_eq!(incident.next_update_at, Some(at(1200)), "and the cadence goes on");
    assert!(!app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}

fn texts_contain(message: &warroom::sandbox::Message, needle: &str) -> bool {
    message.blocks.to_string().contains(needle)
}
