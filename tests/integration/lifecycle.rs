//! Updates, the status update cadence, roles, resolve: with a moved clock and a drained queue.

use chrono::Duration;

use crate::harness::*;

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

/// The texts of the messages in `channel`, oldest first.
fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    app.slack
        .channel(channel)
        .map(|c| {
            c.messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or(&m.text).to_string()).collect()
        })
        .unwrap_or_default()
}

fn status_updates(app: &TestApp, channel: &str) -> Vec<String> {
    texts(app, channel).into_iter().filter(|t| t.contains("🔄 UPDATE")).collect()
}

async fn declare(app: &TestApp, text: &str) -> String {
    app.slash(ALICE, text).await;
    app.drain().await;
    app.only_incident().await.channel_id.unwrap()
}

/// `/incident <text>` typed by `user` in the incident channel.
async fn in_channel(app: &TestApp, user: &str, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(user, channel, text).await.unwrap();
    app.drain().await;
    reply.text()
}

#[tokio::test]
async fn each_severity_posts_status_updates_at_its_own_cadence() {
    for (severity, every) in [("P0", Some(5)), ("P1", Some(15)), ("P2", Some(30)), ("P3", None)] {
        let app = spawn_app().await;
        let channel = declare(&app, &format!("declare {severity} api Everything 500s")).await;

        for round in 1..=2 {
            app.clock.advance(minutes(every.unwrap_or(60)) - Duration::seconds(1));
            app.drain().await;
            let before = if every.is_some() { round - 1 } else { 0 };
            assert_eq!(status_updates(&app, &channel).len(), before, "{severity}: not before the interval");
            app.clock.advance(Duration::seconds(1));
            app.drain().await;
            let expected = if every.is_some() { round } else { 0 };
            assert_eq!(status_updates(&app, &channel).len(), expected, "{severity}: round {round}");
        }
        if let Some(every) = every {
            let first = &status_updates(&app, &channel)[0];
            assert!(first.contains(&format!("- {every} MIN ELAPSED")), "{first}");
            let next = (start_time() + minutes(3 * every)).format("%H:%M").to_string();
            assert!(first.contains(&format!("*Next Update:* {}", (start_time() + minutes(2 * every)).format("%H:%M"))));
            // The declaration's "Next update" follows the plan.
            let declaration = texts(&app, &channel).remove(0);
            assert!(declaration.contains(&format!("*Next update:* {next} UTC")), "{severity}: {declaration}");
        }
        app.finish().await;
    }
}

#[tokio::test]
async fn an_update_is_posted_and_becomes_the_next_scheduled_post() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.clock.advance(minutes(2));

    let reply = in_channel(
        &app,
        ALICE,
        &channel,
        r#"update status="Still down" cause="OOM kill (exit 137)" action="Raising memory limit 2G to 4G" eta="3 min""#,
    )
    .await;

    assert!(reply.contains("Update recorded for INC-1"), "{reply}");
    let posted = status_updates(&app, &channel);
    assert_eq!(posted.len(), 1);
    assert!(posted[0].contains("*Root Cause:* OOM kill (exit 137)") && posted[0].contains("posted by <@U0ALICE>"));
    app.clock.advance(minutes(3));
    app.drain().await;
    let scheduled = status_updates(&app, &channel).pop().unwrap();
    assert!(scheduled.contains("UPDATE [15:05 UTC] - 5 MIN ELAPSED"), "{scheduled}");
    assert!(scheduled.contains("*Status:* Still down (investigating)"), "{scheduled}");
    assert!(scheduled.contains("*Action:* Raising memory limit 2G to 4G"));
    assert!(!scheduled.contains("please post an update"), "an update was posted in the interval");
    app.finish().await;
}

#[tokio::test]
async fn silence_reminds_the_commander_and_twice_tells_the_announcement_channel() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;

    app.clock.advance(minutes(5));
    app.drain().await;
    let first = status_updates(&app, &channel).pop().unwrap();
    assert!(first.contains("Nothing new since the declaration. <@U0ALICE>, please post an update"), "{first}");
    assert_eq!(texts(&app, "incidents").len(), 1, "one silent interval stays in the channel");

    app.clock.advance(minutes(5));
    app.drain().await;
    let announced = texts(&app, "incidents");
    assert_eq!(announced.len(), 2);
    assert!(announced[1].contains("has had no update for 2 status intervals in a row"), "{}", announced[1]);

    app.clock.advance(minutes(1));
    in_channel(&app, ALICE, &channel, "update status=identified cause=\"bad deploy\"").await;
    app.clock.advance(minutes(4));
    app.drain().await;
    assert!(!status_updates(&app, &channel).pop().unwrap().contains("please post an update"));
    assert_eq!(app.only_incident().await.silent_posts, 0);
    app.finish().await;
}

#[tokio::test]
async fn after_downtime_one_catch_up_update_is_posted_and_the_cadence_continues() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;

    // Nothing ran for 12 minutes (warroom was down): the 15:05 and 15:10 slots passed.
    app.clock.advance(minutes(12));
    app.drain().await;

    let posted = status_updates(&app, &channel);
    assert_eq!(posted.len(), 1, "exactly one catch-up");
    assert!(
        posted[0].contains("UPDATE [15:12 UTC] - 12 MIN ELAPSED") && posted[0].contains("*Next Update:* 15:17 UTC")
    );
    app.clock.advance(minutes(5));
    app.drain().await;
    assert_eq!(status_updates(&app, &channel).len(), 2);
    app.finish().await;
}

#[tokio::test]
async fn resolving_posts_the_resolution_and_stops_every_timer() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    app.clock.advance(minutes(8));
    app.drain().await;
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();

    app.slack.click(ALICE, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    let values = [
        ("cause", "OOM kill due to a memory leak"),
        ("resolution", "Raised the limit to 4G"),
        ("impact", "~2,400 failed requests"),
    ];
    let reply = app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    app.drain().await;

    assert_eq!(reply.json()["response_action"], "clear", "{}", reply.body);
    let incident = app.only_incident().await;
    assert_eq!((incident.status.as_str(), incident.resolved_at), ("resolved", Some(start_time() + minutes(8))));
    assert_eq!(incident.next_update_at, None);
    let channel_texts = texts(&app, &channel);
    assert!(channel_texts
        .iter()
        .any(|t| t.contains("✅ RESOLVED [15:08 UTC]") && t.contains("*Incident Duration:* 8m 00s")));
    assert!(channel_texts.iter().any(|t| t.contains("*Validation checklist for INC-1*")));
    assert!(texts(&app, "incidents").iter().any(|t| t.contains("✅ RESOLVED") && t.contains("Raised the limit to 4G")));
    let declaration = app.slack.channel(&channel).unwrap().messages.remove(0);
    assert!(!declaration.blocks.to_string().contains("incident.resolve"), "no buttons on a resolved incident");

    let before = status_updates(&app, &channel).len();
    app.clock.advance(minutes(60));
    app.settle().await;
    assert_eq!(status_updates(&app, &channel).len(), before, "no update after resolution");
    let reply = in_channel(&app, ALICE, &channel, "update eta=\"never\"").await;
    assert!(reply.contains("INC-1 is resolved: it takes notes, but not updates"), "{reply}");
    assert!(in_channel(&app, BOB, &channel, "note the post-mortem is on Thursday").await.contains("Noted"));
    app.finish().await;
}

#[tokio::test]
async fn only_the_commander_or_a_responder_may_resolve() {
    let app = spawn_app_with(|s| s.file.responders.users = vec![BOB.into()]).await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;

    let refused = in_channel(&app, CAROL, &channel, "resolve").await;
    let allowed = app.slack.slash(BOB, &channel, "resolve").await.unwrap();
    app.drain().await;

    assert!(
        refused.contains("Only the Incident Commander (<@U0ALICE>) or the responders (<@U0BOB>) may resolve INC-1"),
        "{refused}"
    );
    assert_eq!((allowed.status, allowed.body.as_str()), (200, ""), "the responder gets the modal");
    assert_eq!(app.slack.views().len(), 1);
    assert!(!app.only_incident().await.is_resolved());
    app.finish().await;
}

#[tokio::test]
async fn a_severity_change_re_plans_the_cadence() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    app.clock.advance(minutes(3));

    let reply = in_channel(&app, ALICE, &channel, "sev P2").await;

    assert!(reply.contains("INC-1 is now P2"), "{reply}");
    let incident = app.only_incident().await;
    assert_eq!(incident.severity, "P2");
    assert_eq!(incident.next_update_at, Some(start_time() + minutes(33)));
    app.clock.advance(minutes(29));
    app.drain().await;
    assert_eq!(status_updates(&app, &channel).len(), 0, "the P0 slots were cancelled");
    app.clock.advance(minutes(1));
    app.drain().await;
    assert_eq!(status_updates(&app, &channel).len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_update_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    let before = app.timeline(&app.only_incident().await).await.len();

    let unknown = in_channel(&app, ALICE, &channel, "update owner=bob").await;
    let unclosed = in_channel(&app, ALICE, &channel, "update cause=\"no closing quote").await;

    assert!(unknown.contains("Unknown key `owner`; the keys are status, cause, action, eta, impact"), "{unknown}");
    assert!(unclosed.contains("no closing quote"), "{unclosed}");
    let incident = app.only_incident().await;
    assert_eq!((incident.root_cause.as_deref(), incident.last_update_at), (None, None));
    assert_eq!(app.timeline(&incident).await.len(), before);
    app.finish().await;
}

#[tokio::test]
async fn status_summary_commander_and_notes_work_from_the_channel() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P1 api Everything 500s").await;

    let status = in_channel(&app, BOB, &channel, "status").await;
    let summary = app.slack.slash(BOB, &channel, "summary").await.unwrap();
    let ic = in_channel(&app, ALICE, &channel, "ic <@U0BOB|bob>").await;
    let elsewhere = app.slack.slash(BOB, "general", "status").await.unwrap();
    let named = app.slack.slash(BOB, "general", "status INC-1").await.unwrap();

    assert!(status.contains("*INC-1* P1 `api`") && status.contains("*Next update:* 15:15 UTC"), "{status}");
    assert_eq!(summary.json()["response_type"], "in_channel");
    assert!(summary.text().contains("*Service:* api") && summary.text().contains("*IC:* <@U0ALICE>"));
    assert!(ic.contains("<@U0BOB> is now Incident Commander"), "{ic}");
    assert_eq!(app.only_incident().await.commander, BOB);
    assert!(texts(&app, &channel).iter().any(|t| t.contains("<@U0BOB> is now Incident Commander of INC-1")));
    assert!(elsewhere.text().contains("not an incident channel"));
    assert!(named.text().contains("*INC-1* P1"));
    app.finish().await;
}

#[tokio::test]
async fn the_post_update_button_opens_the_modal_and_monitoring_sets_mitigated_at() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.clock.advance(minutes(7));

    app.slack.click(BOB, &channel, &ts, "incident.post_update").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the update modal opened");
    let values = [("status", "monitoring"), ("cause", "bad deploy"), ("action", "rolled back to v1.2.2")];
    let reply = app.slack.submit_view(BOB, &view.id, &values).await.unwrap();
    app.drain().await;

    assert_eq!(reply.json()["response_action"], "clear", "{}", reply.body);
    let incident = app.only_incident().await;
    assert_eq!(incident.status, "monitoring");
    assert_eq!(incident.mitigated_at, Some(start_time() + minutes(7)));
    assert!(app.timeline(&incident).await.contains(&"mitigated".to_string()));
    let posted = status_updates(&app, &channel).pop().unwrap();
    assert!(posted.contains("*Action:* rolled back to v1.2.2") && posted.contains("posted by <@U0BOB>"), "{posted}");
    app.finish().await;
}

#[tokio::test]
async fn a_resolved_incident_can_be_reopened_and_its_updates_resume() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P1 api Everything 500s").await;
    let incident = app.only_incident().await;
    let fields = Default::default();
    app.resolve_directly(&incident, ALICE, &fields, Some("fixed")).await;
    app.drain().await;

    let reply = in_channel(&app, ALICE, &channel, "reopen").await;

    assert!(reply.contains("INC-1 is open again"), "{reply}");
    let incident = app.only_incident().await;
    assert_eq!((incident.status.as_str(), incident.resolved_at), ("investigating", None));
    assert_eq!(incident.next_update_at, Some(start_time() + minutes(15)));
    assert!(texts(&app, "incidents").iter().any(|t| t.contains("INC-1 was reopened by <@U0ALICE>")));
    app.finish().await;
}

#[tokio::test]
async fn timeline_shows_the_last_entries_in_order() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    app.clock.advance(minutes(1));
    in_channel(&app, BOB, &channel, "note <!channel> rolled back v1.2.3").await;

    let timeline = in_channel(&app, ALICE, &channel, "timeline").await;

    assert!(timeline.starts_with("*INC-1 timeline* (last 9 entries):"), "{timeline}");
    assert!(timeline.contains("`15:00:00` · warroom · status page open: investigating"), "{timeline}");
    assert!(timeline.contains("`15:00:00` · <@U0ALICE> · declared INC-1 P0 (api): Everything 500s"), "{timeline}");
    let last = timeline.lines().last().unwrap();
    assert_eq!(last, "`15:01:00` · <@U0BOB> · note: &lt;!channel&gt; rolled back v1.2.3");
    app.finish().await;
}

#[tokio::test]
async fn the_channel_topic_follows_status_and_severity() {
    let app = spawn_app().await;
    let channel = declare(&app, "declare P1 api Everything 500s").await;
    let topic = || app.slack.channel(&channel).unwrap().topic;
    assert_eq!(topic(), "INC-1 P1 · api · investigating — Everything 500s");

    app.clock.advance(minutes(1));
    in_channel(&app, ALICE, &channel, "update status=identified cause=\"bad deploy\"").await;
    assert_eq!(topic(), "INC-1 P1 · api · identified — Everything 500s");
    app.clock.advance(minutes(1));
    in_channel(&app, ALICE, &channel, "sev P0").await;
    assert_eq!(topic(), "INC-1 P0 · api · identified — Everything 500s");
    // A new commander changes nothing the topic shows: it is not set again.
    app.clock.advance(minutes(1));
    in_channel(&app, ALICE, &channel, "ic <@U0BOB|bob>").await;
    let incident = app.only_incident().await;
    let topics = app.timeline(&incident).await.iter().filter(|k| *k == "topic_set").count();
    assert_eq!(topics, 3, "set at declaration, then once per change");

    app.clock.advance(minutes(1));
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.slack.click(BOB, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    app.slack.submit_view(BOB, &view.id, &[("cause", "bad deploy"), ("resolution", "rolled back")]).await.unwrap();
    app.drain().await;
    assert_eq!(topic(), "INC-1 P0 · api · resolved — Everything 500s");
    app.finish().await;
}
