//! The hand-over at a shift's end: an alert at 02:59 makes alice (on call until 03:00)
//! commander; at 03:00 bob, on call next, is asked in the channel and by DM to take command.
//! The button is refused to carol (no permission, not on call) with the reason and nothing
//! changed; bob's click makes him commander once, however often he clicks; the outgoing
//! commander may hand over with it too.

use warroom::sandbox::BOT_USER;

use crate::harness::*;
use crate::oncall::{alert, assert_no_token, channel_of, night, oncall_app};
use crate::statuspage::texts;

const TAKE: &str = "oncall.take_command";

/// The newest message in `channel` with the "Take command" button: its ts and text.
fn offer(app: &TestApp, channel: &str) -> Option<(String, String)> {
    let channel = app.slack.channel(channel)?;
    let found = channel.messages.iter().rev().find(|m| m.blocks.to_string().contains(TAKE))?;
    Some((found.ts.clone(), found.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string()))
}

/// Alert at 02:59: alice commands until 03:00. Returns the incident channel.
async fn alice_until_three(app: &TestApp) -> String {
    app.clock.set(night(2, 59));
    alert(app).await;
    let channel = channel_of(app).await;
    assert_eq!(app.only_incident().await.commander, ALICE);
    let said = texts(app, &channel);
    assert!(said.iter().any(|t| t.contains("<@U0ALICE> is commander: on call for Primary on-call until 03:00 UTC")));
    channel
}

fn last_ephemeral(app: &TestApp, user: &str) -> String {
    app.slack.ephemerals(user).pop().map(|e| e.text).unwrap_or_default()
}

async fn commander_changes(app: &TestApp) -> usize {
    let incident = app.only_incident().await;
    app.timeline(&incident).await.iter().filter(|k| *k == "commander_changed").count()
}

#[tokio::test]
async fn at_the_shift_change_the_next_on_call_is_offered_command_in_the_channel_and_by_dm() {
    let app = oncall_app(|_| {}).await;
    let channel = alice_until_three(&app).await;
    assert!(offer(&app, &channel).is_none(), "not before the shift ends");

    app.clock.set(night(3, 0));
    app.drain().await;

    let (_, text) = offer(&app, &channel).expect("an offer in the channel");
    assert_eq!(
        text,
        ":hourglass: <@U0ALICE>'s on-call shift for Primary on-call ended at 03:00 UTC. <@U0BOB> is on call now until 15:00 UTC: <@U0BOB>, will you take command of INC-1?"
    );
    assert!(offer(&app, "dm-u0bob").is_some(), "and by DM to bob");
    assert_eq!(app.only_incident().await.commander, ALICE, "nothing changes until someone clicks");
    assert_no_token(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn carol_is_refused_and_bob_takes_command_once_however_often_he_clicks() {
    let app = oncall_app(|_| {}).await;
    let channel = alice_until_three(&app).await;
    app.clock.set(night(3, 0));
    app.drain().await;
    let (ts, _) = offer(&app, &channel).unwrap();

    app.slack.click(CAROL, &channel, &ts, TAKE).await.unwrap();
    app.drain().await;
    let refusal = last_ephemeral(&app, CAROL);
    assert!(refusal.contains("may change the Incident Commander of INC-1; nothing changed"), "{refusal}");
    assert!(refusal.contains("This button is for <@U0BOB>, on call now."), "{refusal}");
    assert_eq!(app.only_incident().await.commander, ALICE);

    let (dm_ts, _) = offer(&app, "dm-u0bob").unwrap();
    // Two clicks before the offers are edited (a double click, or one in the DM and one in the channel).
    app.slack.click(BOB, "dm-u0bob", &dm_ts, TAKE).await.unwrap();
    app.slack.click(BOB, &channel, &ts, TAKE).await.unwrap();
    app.drain().await;

    assert_eq!(app.only_incident().await.commander, BOB);
    assert_eq!(commander_changes(&app).await, 2, "warroom → alice, alice → bob: one change for two clicks");
    assert!(
        last_ephemeral(&app, BOB).contains("<@U0BOB> already took command of INC-1"),
        "{}",
        last_ephemeral(&app, BOB)
    );
    let took: Vec<String> = texts(&app, &channel).into_iter().filter(|t| t.starts_with(":busts")).collect();
    let expected =
        ":busts_in_silhouette: <@U0BOB> took command of INC-1: on call for Primary on-call (was <@U0ALICE>).";
    assert_eq!(took.last().map(String::as_str), Some(expected));
    // Both offers now say who took command, without their button.
    assert!(offer(&app, &channel).is_none() && offer(&app, "dm-u0bob").is_none(), "the buttons are gone");
    let settled = texts(&app, "dm-u0bob").pop().unwrap();
    let expected = ":white_check_mark: <@U0BOB> took command of INC-1 (on call for Primary on-call; <@U0BOB> clicked Take command at 03:00 UTC).";
    assert_eq!(settled, expected);
    app.finish().await;
}

#[tokio::test]
async fn the_outgoing_commander_may_hand_over_and_a_resolved_incident_offers_nothing() {
    let app = oncall_app(|_| {}).await;
    let channel = alice_until_three(&app).await;
    app.clock.set(night(3, 0));
    app.drain().await;
    let (ts, _) = offer(&app, &channel).unwrap();

    app.slack.click(ALICE, &channel, &ts, TAKE).await.unwrap();
    app.drain().await;
    assert_eq!(app.only_incident().await.commander, BOB);
    let took = texts(&app, &channel).into_iter().any(|t| t.contains("(was <@U0ALICE>, handed over by <@U0ALICE>)"));
    assert!(took);
    app.finish().await;

    // A resolved incident's shift end is cancelled with its other timers.
    let app = oncall_app(|_| {}).await;
    let channel = alice_until_three(&app).await;
    assert_ne!(app.only_incident().await.commander, BOT_USER);
    let incident = app.only_incident().await;
    app.resolve_directly(&incident, ALICE, &Default::default(), None).await;
    app.clock.set(night(3, 0));
    app.settle().await;
    assert!(offer(&app, &channel).is_none());
    app.finish().await;
}
