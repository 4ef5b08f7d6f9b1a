//! On-call from the sandbox PagerDuty REST API: an incident declared without a commander gets
//! the service's on-call, told why; PagerDuty down, throttling or refusing the key, and an
//! email with no Slack user, leave the incident open with the reason in the channel once and
//! the look-up retried; escalation's `oncall` targets are resolved when the tier fires. The
//! REST key never shows in the channel, the timeline or the job table.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use warroom::config::{EscalationTier, OncallConfig, ServiceConfig, Settings};
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::sandbox::pagerduty::REST_TOKEN;
use warroom::sandbox::pagerduty_rest::{user_id, Layer, Target};
use warroom::sandbox::BOT_USER;

use crate::api::{post, Answer};
use crate::harness::*;
use crate::statuspage::texts;

pub const SCHEDULE: &str = "PPRIMRY";

/// 24 November 2026 at `hour:minute` UTC (the night after the tests' start).
pub fn night(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, hour, minute, 0).unwrap()
}

/// `inference-gateway` is on call in `PPRIMRY` "Primary on-call": bob 03:00–15:00 UTC, alice
/// 15:00–03:00, behind an escalation policy.
pub async fn oncall_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let app = spawn_app_with(|s| {
        let oncall = OncallConfig { pagerduty_schedule: Some(SCHEDULE.into()), ..Default::default() };
        let service = ServiceConfig { oncall: Some(oncall), ..Default::default() };
        s.file.services.insert("inference-gateway".into(), service);
        configure(s);
    })
    .await;
    let layer = Layer {
        start: Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap(),
        turn: Duration::hours(12),
        users: vec![user_id("bob"), user_id("alice")],
        daily: None,
    };
    app.oncall.add_schedule(SCHEDULE, "Primary on-call", vec![layer]);
    app.oncall.add_policy("PPRIMEP", "Primary escalation", vec![vec![Target::Schedule(SCHEDULE.into())]]);
    app
}

/// Alertmanager's `ServiceDown` for `inference-gateway`, firing now.
pub async fn alert(app: &TestApp) -> Answer {
    let alert = json!({
        "status": "firing",
        "labels": { "alertname": "ServiceDown", "job": "inference-gateway", "severity": "page" },
        "annotations": { "summary": "inference-gateway is down" },
        "startsAt": app.clock.now_utc().to_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "fp-gw",
    });
    let body = json!({
        "version": "4", "groupKey": "{}:{alertname=\"ServiceDown\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "warroom", "groupLabels": { "alertname": "ServiceDown" }, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": [alert],
    });
    let answer = post(app, "/webhooks/alertmanager", &body, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    answer
}

/// Moves the clock `seconds` on and runs what is due.
pub async fn advance(app: &TestApp, seconds: i64) {
    app.clock.set(app.clock.now_utc() + Duration::seconds(seconds));
    app.drain().await;
}

/// The incident's channel, once its creation (and any step that waited for it) ran.
pub async fn channel_of(app: &TestApp) -> String {
    app.drain().await;
    advance(app, 5).await;
    app.only_incident().await.channel_id.expect("the incident channel exists")
}

/// Nothing warroom wrote or said carries the PagerDuty REST key.
pub async fn assert_no_token(app: &TestApp) {
    for channel in app.slack.channels() {
        for m in &channel.messages {
            assert!(!m.text.contains(REST_TOKEN) && !m.blocks.to_string().contains(REST_TOKEN), "{}", m.text);
        }
    }
    let errors: Vec<Option<String>> =
        sqlx::query_scalar("SELECT last_error FROM jobs").fetch_all(&app.db).await.unwrap();
    assert!(errors.iter().flatten().all(|e| !e.contains(REST_TOKEN)), "{errors:?}");
    let payloads: Vec<Value> =
        sqlx::query_scalar("SELECT payload FROM timeline_events").fetch_all(&app.db).await.unwrap();
    assert!(payloads.iter().all(|p| !p.to_string().contains(REST_TOKEN)));
}

fn reasons(app: &TestApp, channel: &str) -> Vec<String> {
    texts(app, channel).into_iter().filter(|t| t.contains("could not find who is on call")).collect()
}

#[tokio::test]
async fn an_alert_at_3am_makes_bob_commander_because_he_is_on_call() {
    let app = oncall_app(|_| {}).await;
    app.clock.set(night(3, 5));

    alert(&app).await;
    let channel = channel_of(&app).await;

    let incident = app.only_incident().await;
    assert_eq!(incident.commander, BOB);
    let said: Vec<String> = texts(&app, &channel).into_iter().filter(|t| t.contains("is commander")).collect();
    assert_eq!(said, [":busts_in_silhouette: <@U0BOB> is commander: on call for Primary on-call until 15:00 UTC."]);
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let change = events.iter().find(|e| e.kind == "commander_changed").expect("a commander change");
    assert_eq!((change.payload["from"].as_str(), change.payload["to"].as_str()), (Some(BOT_USER), Some(BOB)));
    assert_eq!(change.payload["oncall"], "Primary on-call");
    let messages = app.slack.channel(&channel).unwrap().messages;
    let declaration = messages.into_iter().find(|m| Some(&m.ts) == incident.declaration_ts.as_ref()).unwrap();
    let blocks = declaration.blocks.to_string();
    assert!(declaration.edited && blocks.contains("<@U0BOB>"), "refreshed: {blocks}");
    assert!(!blocks.contains("unassigned"), "{blocks}");
    assert!(app.slack.channel(&channel).unwrap().members.contains(&BOB.to_string()), "bob is invited");
    let (query, authorized) = app.oncall.requests().pop().unwrap();
    for part in ["schedule_ids%5B%5D=PPRIMRY", "time_zone=UTC", "include%5B%5D=users", "earliest=true"] {
        assert!(query.contains(part), "{part} in {query}");
    }
    assert!(authorized);
    assert_no_token(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn with_pagerduty_down_the_incident_opens_with_the_reason_once_and_a_later_try_assigns() {
    let app = oncall_app(|_| {}).await;
    app.clock.set(night(3, 5));
    app.oncall.set_down(true);

    alert(&app).await;
    let channel = channel_of(&app).await;
    advance(&app, 30).await;

    assert_eq!(app.only_incident().await.commander, BOT_USER, "still unassigned");
    let said = reasons(&app, &channel);
    assert_eq!(said.len(), 1, "said once, though tried twice: {said:?}");
    assert!(said[0].contains("INC-1: PagerDuty answered HTTP 503"), "{}", said[0]);
    assert!(app.oncall.requests().len() >= 2, "tried again");

    app.oncall.set_down(false);
    advance(&app, 60).await;
    assert_eq!(app.only_incident().await.commander, BOB);
    assert_eq!(reasons(&app, &channel).len(), 1);
    assert_no_token(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn a_throttled_lookup_waits_for_retry_after_and_a_refused_key_says_which_variable() {
    let app = oncall_app(|_| {}).await;
    app.clock.set(night(3, 5));
    app.oncall.fail_next(&[429]);

    alert(&app).await;
    let channel = channel_of(&app).await;
    let reason = app.slack.channel(&channel).unwrap().messages.into_iter().find(|m| m.text.contains("throttling"));
    let reason = reason.expect("the reason is posted");
    assert!(reason.text.contains("PagerDuty is throttling warroom (asked to wait 30s)"), "{}", reason.text);
    let due: DateTime<Utc> =
        sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'oncall.assign'").fetch_one(&app.db).await.unwrap();
    assert_eq!(due - reason.received_at, Duration::seconds(30), "PagerDuty's Retry-After");

    app.oncall.fail_next(&[401]);
    advance(&app, 30).await;
    assert_eq!(app.only_incident().await.commander, BOT_USER);
    advance(&app, 60).await;
    assert_eq!(app.only_incident().await.commander, BOB);

    let api = post(&app, "/api/v1/incidents", &json!({ "service": "inference-gateway" }), &[]).await;
    assert_eq!(api.status, 201);
    app.oncall.fail_next(&[401]);
    app.drain().await;
    advance(&app, 5).await;
    let second = app.incidents().await.pop().unwrap();
    let said = reasons(&app, &second.channel_id.unwrap());
    assert!(
        said[0].contains("INC-2: PagerDuty refused warroom's API token (HTTP 401): PAGERDUTY_API_TOKEN"),
        "{said:?}"
    );
    advance(&app, 60).await;
    assert_eq!(app.incidents().await.pop().unwrap().commander, BOB, "an API declaration gets the on-call too");
    assert_no_token(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn an_on_call_email_with_no_slack_user_is_said_and_retried() {
    let app = oncall_app(|_| {}).await;
    app.clock.set(night(3, 5));
    app.slack.set_email(BOB, Some("robert@example.com"));

    alert(&app).await;
    let channel = channel_of(&app).await;

    let said = reasons(&app, &channel);
    assert!(said[0].contains("bob's PagerDuty email (bob@example.com) matches no Slack user"), "{said:?}");
    assert_eq!(app.only_incident().await.commander, BOT_USER);
    assert!(app.slack.call_count("users.lookupByEmail") >= 1);

    app.slack.set_email(BOB, Some("Bob@Example.com"));
    advance(&app, 30).await;
    assert_eq!(app.only_incident().await.commander, BOB);
    app.finish().await;
}

#[tokio::test]
async fn a_named_commander_or_a_slash_declaration_is_left_alone() {
    let app = oncall_app(|_| {}).await;
    app.clock.set(night(3, 5));

    let named = json!({ "service": "inference-gateway", "commander": CAROL });
    assert_eq!(post(&app, "/api/v1/incidents", &named, &[]).await.status, 201);
    app.slash(ALICE, "declare P1 inference-gateway Slow answers").await;
    app.settle().await;

    let commanders: Vec<String> = app.incidents().await.into_iter().map(|i| i.commander).collect();
    assert_eq!(commanders, [CAROL, ALICE]);
    assert!(app.oncall.requests().is_empty(), "PagerDuty was not asked");
    app.finish().await;
}

fn tier(minutes: u64, notify: &[&str]) -> EscalationTier {
    EscalationTier {
        after: HumanDuration(std::time::Duration::from_secs(minutes * 60)),
        notify: notify.iter().map(|t| t.to_string()).collect(),
        pagerduty: false,
    }
}

fn escalations(app: &TestApp, channel: &str) -> Vec<String> {
    texts(app, channel).into_iter().filter(|t| t.contains("ESCALATION REQUEST")).collect()
}

#[tokio::test]
async fn an_oncall_tier_names_whoever_is_on_call_when_it_fires_and_fires_without_pagerduty() {
    let app = oncall_app(|s| {
        let ladder = vec![tier(15, &["oncall", "oncall:PNOBODY"]), tier(30, &["oncall", "@sre-leads"])];
        s.file.escalation.insert(Severity::P0, ladder);
    })
    .await;
    app.oncall.add_schedule("PNOBODY", "Empty", vec![]);
    // Declared at 14:50, while bob is on call; the tiers fire after alice took over at 15:00.
    app.clock.set(start_time() - Duration::minutes(10));
    app.slash(CAROL, "declare P0 inference-gateway Everything 500s").await;
    let channel = channel_of(&app).await;
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(CAROL, &channel, &ts, "incident.acknowledge").await.unwrap();
    app.drain().await;

    app.clock.set(start_time() + Duration::minutes(5));
    app.drain().await;
    let first = escalations(&app, &channel);
    assert_eq!(first.len(), 1);
    assert!(first[0].contains("*Escalating to:* <@U0ALICE>") && !first[0].contains("<@U0BOB>"), "{}", first[0]);
    assert!(first[0].contains("nobody is on call in PagerDuty schedule PNOBODY"), "{}", first[0]);
    assert!(texts(&app, &format!("dm-{}", ALICE.to_lowercase())).iter().any(|t| t.contains(&format!("<#{channel}>"))));

    app.oncall.set_down(true);
    app.clock.set(start_time() + Duration::minutes(20));
    app.drain().await;
    let second = escalations(&app, &channel);
    assert_eq!(second.len(), 2, "the tier fires without PagerDuty");
    assert!(second[1].contains("<!subteam^S0SRELEADS>"), "{}", second[1]);
    assert!(
        second[1].contains("not reached: the on-call of PagerDuty schedule PPRIMRY (PagerDuty answered HTTP 503"),
        "{}",
        second[1]
    );
    assert_no_token(&app).await;
    app.finish().await;
}
