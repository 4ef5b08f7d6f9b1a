//! Escalation: tiers fire on time from the declaration (once, across restarts and replicas),
//! "Escalate now" moves to the next tier, resolving stops them, silence pings tier 1, and
//! PagerDuty is triggered and resolved through its Events API.

use chrono::Duration;
use warroom::config::{EscalationTier, Settings};
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::jobs::runner;

use crate::harness::*;
use crate::statuspage::{in_channel, texts};

fn tier(minutes: u64, notify: &[&str], pagerduty: bool) -> EscalationTier {
    EscalationTier {
        after: HumanDuration(std::time::Duration::from_secs(minutes * 60)),
        notify: notify.iter().map(|t| t.to_string()).collect(),
        pagerduty,
    }
}

/// P0 escalates to bob and @sre-leads at 15 minutes, to carol (paging PagerDuty) at 30.
async fn escalating_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        let ladder = vec![tier(15, &[BOB, "@sre-leads"], false), tier(30, &[CAROL], true)];
        s.file.escalation.insert(Severity::P0, ladder);
        configure(s);
    })
    .await
}

/// Declares a P0 and acknowledges it (so the silence check stays quiet).
async fn declared(app: &TestApp) -> String {
    let channel = declared_unacknowledged(app).await;
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(BOB, &channel, &ts, "incident.acknowledge").await.unwrap();
    app.drain().await;
    channel
}

async fn declared_unacknowledged(app: &TestApp) -> String {
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    app.only_incident().await.channel_id.unwrap()
}

fn escalations(app: &TestApp, channel: &str) -> Vec<String> {
    texts(app, channel).into_iter().filter(|t| t.contains("ESCALATION REQUEST")).collect()
}

/// The direct messages `user` got from warroom.
fn dms(app: &TestApp, user: &str) -> Vec<String> {
    let name = format!("dm-{}", user.to_lowercase());
    app.slack.channel(&name).map(|c| c.messages.into_iter().map(|m| m.text).collect()).unwrap_or_default()
}

async fn at(app: &TestApp, minutes: i64, seconds: i64) {
    app.clock.set(start_time() + Duration::minutes(minutes) + Duration::seconds(seconds));
    app.drain().await;
}

#[tokio::test]
async fn tiers_fire_at_their_times_with_mentions_messages_and_invitations() {
    let app = escalating_app(|_| {}).await;
    let channel = declared(&app).await;
    in_channel(&app, ALICE, &channel, r#"update status=identified cause="OOM kill" action="Raising memory to 4G""#)
        .await;

    at(&app, 14, 59).await;
    assert!(escalations(&app, &channel).is_empty(), "not before 15 minutes");

    at(&app, 15, 0).await;
    let first = escalations(&app, &channel);
    assert_eq!(first.len(), 1);
    let request = &first[0];
    assert!(request.contains("*🆘 ESCALATION REQUEST — tier 1 of 2*"), "{request}");
    assert!(request.contains("*Duration:* 15m 00s") && request.contains("*IC:* <@U0ALICE>"), "{request}");
    assert!(request.contains("• Root cause: OOM kill") && request.contains("• Raising memory to 4G"), "{request}");
    assert!(request.contains("*Escalating to:* <@U0BOB> <!subteam^S0SRELEADS>"), "{request}");
    assert!(dms(&app, BOB)[0].contains(&format!("<#{channel}>")), "bob gets a direct message with the channel");
    assert!(app.slack.channel(&channel).unwrap().members.contains(&BOB.to_string()), "bob is invited");
    assert!(app.pagerduty.events().is_empty(), "tier 1 does not page");

    at(&app, 30, 0).await;
    assert_eq!(escalations(&app, &channel).len(), 2);
    assert!(dms(&app, CAROL)[0].contains("INC-1"));
    let events = app.pagerduty.events();
    assert_eq!(events.len(), 1);
    let trigger = &events[0].body;
    let incident = app.only_incident().await;
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], format!("warroom-{}-tier-2", incident.id));
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(
        trigger["payload"]["custom_details"]["slack_channel"],
        format!("https://slack.com/app_redirect?channel={channel}")
    );
    assert!(trigger["payload"]["summary"].as_str().unwrap().starts_with("INC-1 P0 api down: Everything 500s"));

    at(&app, 120, 0).await;
    assert_eq!(escalations(&app, &channel).len(), 2, "two tiers, two escalations");
    let kinds = app.timeline(&incident).await;
    assert_eq!(kinds.iter().filter(|k| *k == "escalated").count(), 2);
    app.finish().await;
}

#[tokio::test]
async fn resolving_before_a_tier_stops_every_pending_tier() {
    let app = escalating_app(|_| {}).await;
    let channel = declared(&app).await;
    at(&app, 10, 0).await;
    let incident = app.only_incident().await;
    let fields = Default::default();
    app.resolve_directly(&incident, ALICE, &fields, None).await;
    app.drain().await;

    at(&app, 90, 0).await;

    assert!(escalations(&app, &channel).is_empty());
    assert!(app.pagerduty.events().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn escalate_now_moves_to_the_next_tier_at_once_and_says_who_and_why() {
    let app = escalating_app(|_| {}).await;
    let channel = declared(&app).await;
    // `[permissions] escalate`: members of the incident channel.
    app.slack.join(BOB, &channel).await.unwrap();
    app.slack.join(CAROL, &channel).await.unwrap();
    at(&app, 2, 0).await;

    let reply = in_channel(&app, BOB, &channel, "escalate database looks corrupted").await;

    assert!(reply.contains("Escalating INC-1 to tier 1 now"), "{reply}");
    let first = escalations(&app, &channel);
    assert_eq!(first.len(), 1);
    assert!(first[0].contains("<@U0BOB> escalated now: database looks corrupted"), "{}", first[0]);
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let asked = events.iter().find(|e| e.kind == "escalate_now").unwrap();
    assert_eq!((asked.actor.as_str(), asked.payload["reason"].as_str()), (BOB, Some("database looks corrupted")));

    // The tier-1 timer finds its tier fired; the button fires tier 2.
    at(&app, 15, 0).await;
    assert_eq!(escalations(&app, &channel).len(), 1);
    let declaration = incident.declaration_ts.clone().unwrap();
    app.slack.click(CAROL, &channel, &declaration, "incident.escalate").await.unwrap();
    app.drain().await;
    assert_eq!(escalations(&app, &channel).len(), 2);
    assert_eq!(app.pagerduty.events().len(), 1, "tier 2 pages");
    app.slack.click(CAROL, &channel, &declaration, "incident.escalate").await.unwrap();
    app.drain().await;
    let told = app.slack.ephemerals(CAROL).pop().unwrap().text;
    assert!(told.contains("every tier of INC-1 has been escalated to already"), "{told}");

    at(&app, 30, 0).await;
    assert_eq!(escalations(&app, &channel).len(), 2, "the tier-2 timer finds it fired");
    app.finish().await;
}

#[tokio::test]
async fn a_tier_due_while_warroom_was_down_fires_once_from_whichever_replica_runs_first() {
    let app = escalating_app(|_| {}).await;
    let channel = declared(&app).await;
    at(&app, 15, 0).await;
    assert_eq!(escalations(&app, &channel).len(), 1);

    // Down from 15:20 to 15:45; then two replicas start together.
    let (one, two) = (app.replica().await, app.replica().await);
    app.clock.set(start_time() + Duration::minutes(45));
    for _ in 0..20 {
        let (a, b) = tokio::join!(runner::run_due(&one), runner::run_due(&two));
        if a.unwrap() + b.unwrap() == 0 {
            break;
        }
    }

    assert_eq!(escalations(&app, &channel).len(), 2);
    let triggers = app.pagerduty.events().into_iter().filter(|e| e.body["event_action"] == "trigger").count();
    assert_eq!(triggers, 1);
    assert_eq!(dms(&app, CAROL).len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn pagerduty_is_retried_through_429_and_5xx_and_resolved_with_the_incident() {
    let app = escalating_app(|_| {}).await;
    let channel = declared(&app).await;
    app.pagerduty.fail_next(&[429, 500]);

    at(&app, 30, 0).await;
    app.settle().await;

    let statuses: Vec<u16> = app.pagerduty.events().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [429, 500, 202]);
    let incident = app.only_incident().await;
    let key = format!("warroom-{}-tier-2", incident.id);
    assert_eq!(app.pagerduty.alerts()[&key], "triggered");

    let fields = Default::default();
    let now = app.clock.now_utc();
    warroom::incident::lifecycle::resolve(&app.db, app.state.reactions(), now, &incident, ALICE, &fields, None)
        .await
        .unwrap();
    app.settle().await;

    assert_eq!(app.pagerduty.alerts()[&key], "resolved");
    let last = app.pagerduty.events().pop().unwrap();
    assert_eq!((last.body["event_action"].as_str(), last.status), (Some("resolve"), 202));
    assert!(texts(&app, &channel).iter().all(|t| !t.contains("PagerDuty refused")));
    app.finish().await;
}

#[tokio::test]
async fn a_page_pagerduty_refuses_is_told_in_the_channel_and_not_retried() {
    let app = escalating_app(|s| s.pagerduty_routing_key = Some(warroom::secret::Secret::new("wrong-key"))).await;
    let channel = declared(&app).await;

    at(&app, 30, 0).await;
    app.settle().await;

    assert_eq!(app.pagerduty.events().iter().map(|e| e.status).collect::<Vec<_>>(), [400]);
    let told = texts(&app, &channel);
    assert!(told.iter().any(|t| t.contains("PagerDuty refused the trigger for INC-1 tier 2 (HTTP 400: Event object is invalid: 'routing_key' is invalid)")), "{told:#?}");
    assert!(!told.iter().any(|t| t.contains("wrong-key")), "the key is never shown");
    app.finish().await;
}

#[tokio::test]
async fn nobody_acknowledging_in_time_pings_tier_1_and_an_acknowledgement_prevents_it() {
    let app = escalating_app(|_| {}).await;
    let channel = declared_unacknowledged(&app).await;

    at(&app, 5, 0).await;

    let silence = escalations(&app, &channel);
    assert_eq!(silence.len(), 1);
    assert!(silence[0].contains("(nobody has acknowledged)") && silence[0].contains("<@U0BOB>"), "{}", silence[0]);
    assert!(silence[0].contains("Please acknowledge: nobody has acknowledged INC-1 after 5m 00s"), "{}", silence[0]);

    // Another incident, acknowledged in time: no ping.
    app.slash(ALICE, "declare P0 web Checkout down").await;
    app.drain().await;
    let web = app.incidents().await.pop().unwrap();
    let web_channel = web.channel_id.clone().unwrap();
    app.slack.click(BOB, &web_channel, web.declaration_ts.as_deref().unwrap(), "incident.acknowledge").await.unwrap();
    at(&app, 10, 0).await;
    assert!(escalations(&app, &web_channel).is_empty());
    app.finish().await;
}

#[tokio::test]
async fn the_owner_target_reaches_the_service_owner() {
    let app = spawn_app_with(|s| {
        s.file.escalation.insert(Severity::P0, vec![tier(15, &["owner"], false)]);
        let owner = warroom::config::ServiceConfig { owner: Some(CAROL.into()), ..Default::default() };
        s.file.services.insert("api".into(), owner);
    })
    .await;
    let channel = declared(&app).await;

    at(&app, 15, 0).await;

    assert!(escalations(&app, &channel)[0].contains("*Escalating to:* <@U0CAROL>"));
    assert_eq!(dms(&app, CAROL).len(), 1);
    app.finish().await;
}
