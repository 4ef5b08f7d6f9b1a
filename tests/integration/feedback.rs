//! Feedback on resolve (`[feedback] ask`): each participant (a person in the incident channel,
//! the commander included, never warroom) gets one DM with a button; the modal's answer goes
//! into the timeline and the report (the latest per person); a bad rating, a person who was not
//! asked and a forged view are refused with nothing written; a reopen and a second resolve ask
//! nobody twice; off by default.

use serde_json::{json, Value};
use warroom::incident::store::{Incident, UpdateFields};
use warroom::sandbox::actor::Reply;
use warroom::sandbox::Fault;
use warroom::timeline::export::Format;

use crate::export::report;
use crate::harness::*;

const OPEN: &str = "feedback.open";

/// An incident declared by alice, bob joined to its channel, resolved and drained.
async fn resolved(ask: bool) -> (TestApp, Incident) {
    let app = spawn_app_with(|s| s.file.feedback.ask = ask).await;
    app.slash(ALICE, "declare P2 api Checkout errors").await;
    app.drain().await;
    let incident = app.only_incident().await;
    app.slack.join(BOB, incident.channel_id.as_deref().unwrap()).await.unwrap();
    app.drain().await;
    let incident = app.resolve_directly(&incident, ALICE, &UpdateFields::default(), Some("rolled back")).await;
    app.drain().await;
    (app, incident)
}

/// The feedback DMs `user` was sent: (DM channel id, ts).
fn asks(app: &TestApp, user: &str) -> Vec<(String, String)> {
    let Some(dm) = app.slack.channel(&format!("dm-{}", user.to_lowercase())) else { return Vec::new() };
    let has_button = |blocks: &Value| blocks.to_string().contains(OPEN);
    dm.messages.iter().filter(|m| has_button(&m.blocks)).map(|m| (dm.id.clone(), m.ts.clone())).collect()
}

/// `user` clicks their DM's button; returns the modal opened for them (its view id).
async fn open_modal(app: &TestApp, user: &str) -> String {
    let (dm, ts) = asks(app, user).pop().expect("a feedback DM");
    app.slack.click(user, &dm, &ts, OPEN).await.unwrap();
    app.drain().await;
    let view = app.slack.views().into_iter().rev().find(|v| v.view["callback_id"] == "feedback").expect("the modal");
    assert_eq!(view.user, user);
    view.id
}

async fn feedback_events(app: &TestApp, incident: &Incident) -> Vec<(String, Value)> {
    warroom::timeline::list(&app.db, incident.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "feedback_given")
        .map(|e| (e.actor, e.payload))
        .collect()
}

fn refused(reply: &Reply, block: &str, words: &str) {
    let json = reply.json();
    assert_eq!(json["response_action"], "errors", "{}", reply.body);
    let message = json["errors"][block].as_str().unwrap_or_default();
    assert!(message.contains(words), "{}", reply.body);
}

#[tokio::test]
async fn feedback_dms_each_participant_once_and_never_again() {
    let (app, incident) = resolved(true).await;
    assert_eq!(asks(&app, ALICE).len(), 1, "the commander is asked");
    assert_eq!(asks(&app, BOB).len(), 1, "a member of the channel is asked");
    assert!(asks(&app, CAROL).is_empty(), "carol was never in the channel");
    assert!(asks(&app, warroom::sandbox::BOT_USER).is_empty(), "warroom asks itself nothing");
    let dm = app.slack.channel("dm-u0bob").unwrap();
    let text = &dm.messages[0].text;
    assert!(text.contains("INC-1") && text.contains("is resolved"), "{text}");

    // Drained again, reopened and resolved again: nobody asked twice.
    app.drain().await;
    warroom::incident::lifecycle::reopen(&app.db, app.state.reactions(), app.clock.now_utc(), &incident, BOB)
        .await
        .unwrap();
    app.drain().await;
    let reopened = app.only_incident().await;
    app.resolve_directly(&reopened, BOB, &UpdateFields::default(), Some("rolled back again")).await;
    app.settle().await;
    assert_eq!((asks(&app, ALICE).len(), asks(&app, BOB).len()), (1, 1));
    let asked: i64 = sqlx::query_scalar("SELECT count(*) FROM feedback_asks").fetch_one(&app.db).await.unwrap();
    assert_eq!(asked, 2);
    app.finish().await;
}

#[tokio::test]
async fn feedback_submission_is_recorded_and_the_report_shows_the_latest_per_person() {
    let (app, incident) = resolved(true).await;
    let view = open_modal(&app, BOB).await;
    let reply =
        app.slack.submit_view(BOB, &view, &[("rating", "4"), ("comment", "Runbook was spot on")]).await.unwrap();
    assert_eq!(reply.json()["response_action"], "clear", "{}", reply.body);
    let view = open_modal(&app, ALICE).await;
    app.slack.submit_view(ALICE, &view, &[("rating", "5")]).await.unwrap();
    // Bob thinks again: his latest answer is the one the report shows.
    let view = open_modal(&app, BOB).await;
    app.slack.submit_view(BOB, &view, &[("rating", "2"), ("comment", "Paging was slow")]).await.unwrap();
    app.drain().await;

    let events = feedback_events(&app, &incident).await;
    assert_eq!(events.len(), 3, "every answer is in the timeline: {events:?}");
    assert_eq!(events[0], (BOB.to_string(), json!({ "rating": 4, "comment": "Runbook was spot on" })));
    assert_eq!(events[1].1, json!({ "rating": 5, "comment": null }));

    let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    let section = md.split("## Feedback").nth(1).unwrap().split("\n## ").next().unwrap();
    assert!(section.contains("Average rating: **3.5 / 5** from 2 participant(s)"), "{section}");
    assert!(section.contains("**@U0BOB** rated 2/5: Paging was slow"), "{section}");
    assert!(section.contains("**@U0ALICE** rated 5/5\n"), "{section}");
    assert!(!section.contains("rated 4/5"), "the earlier answer is replaced: {section}");

    let json: Value = serde_json::from_slice(&report(&app, Format::Json).await).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string("specs/incident-report.v1.schema.json").unwrap()).unwrap();
    warroom::statuspage::schema::check_against(&schema, &json).expect("the report follows its schema");
    let ratings: Vec<(&str, i64)> = json["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["user"].as_str().unwrap(), a["rating"].as_i64().unwrap()))
        .collect();
    assert_eq!(ratings, [(ALICE, 5), (BOB, 2)]);

    let csv = String::from_utf8(report(&app, Format::Csv).await).unwrap();
    assert!(csv.contains("feedback_given") && csv.contains("feedback: 2/5"), "{csv}");
    app.finish().await;
}

#[tokio::test]
async fn feedback_refuses_a_bad_rating_someone_not_asked_and_a_forged_view() {
    let (app, incident) = resolved(true).await;
    let view = open_modal(&app, BOB).await;
    for bad in ["6", "0", "", "five"] {
        let reply = app.slack.submit_view(BOB, &view, &[("rating", bad), ("comment", "x")]).await.unwrap();
        refused(&reply, "rating", "from 1 to 5");
    }
    // Carol was never in the channel: her click opens nothing, her submission of bob's modal
    // is refused.
    let (dm, ts) = asks(&app, BOB).pop().unwrap();
    let views = app.slack.views().len();
    app.slack.click(CAROL, &dm, &ts, OPEN).await.unwrap();
    app.drain().await;
    assert_eq!(app.slack.views().len(), views, "no modal for carol");
    let told = app.slack.ephemerals(CAROL);
    assert!(told.iter().any(|e| e.text.contains("not asked for feedback")), "{told:?}");
    let reply = app.slack.submit_view(CAROL, &view, &[("rating", "5")]).await.unwrap();
    refused(&reply, "rating", "not asked for feedback");

    // A view warroom never opened, with a real incident in it.
    let forged = json!({ "type": "view_submission", "user": { "id": BOB }, "trigger_id": "1.2.forged",
        "view": { "id": "V0FORGED", "type": "modal", "callback_id": "feedback",
                  "private_metadata": incident.id.to_string(),
                  "state": { "values": { "rating": { "value": { "type": "static_select",
                      "selected_option": { "value": "5" } } } } } } });
    let body = serde_urlencoded::to_string([("payload", forged.to_string())]).unwrap();
    let reply =
        app.slack.send_signed("/slack/interactions", "application/x-www-form-urlencoded", body.into_bytes()).await;
    let reply = reply.unwrap();
    assert!(reply.body.contains("warroom did not open this form"), "{}", reply.body);

    app.drain().await;
    assert!(feedback_events(&app, &incident).await.is_empty(), "nothing written");
    app.finish().await;
}

#[tokio::test]
async fn feedback_is_off_by_default() {
    assert!(!warroom::config::FileConfig::default().feedback.ask);
    let (app, _) = resolved(false).await;
    app.settle().await;
    assert!(asks(&app, ALICE).is_empty() && asks(&app, BOB).is_empty());
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'feedback.%'").fetch_one(&app.db).await.unwrap();
    assert_eq!(jobs, 0);
    app.finish().await;
}

#[tokio::test]
async fn feedback_dms_once_through_throttling_errors_and_lost_answers() {
    let app = spawn_app_with(|s| s.file.feedback.ask = true).await;
    app.slash(ALICE, "declare P2 api Checkout errors").await;
    app.drain().await;
    let incident = app.only_incident().await;
    app.slack.join(BOB, incident.channel_id.as_deref().unwrap()).await.unwrap();
    app.drain().await;
    app.slack.inject("users.info", Fault::RateLimited { retry_after_secs: 3 }, 1);
    app.slack.inject("conversations.open", Fault::Status(500), 1);
    // The resolution's post and both DMs: each delivered, its answer lost.
    app.slack.inject("chat.postMessage", Fault::DeliveredThenTimeout, 3);
    app.resolve_directly(&incident, ALICE, &UpdateFields::default(), Some("rolled back")).await;
    app.settle().await;
    assert_eq!((asks(&app, ALICE).len(), asks(&app, BOB).len()), (1, 1), "one DM each");
    assert!(app.slack.call_count("users.info") >= 3, "the 429 was met and waited out");
    assert!(app.slack.call_count("conversations.open") >= 3, "the 500 was met and retried");
    assert!(app.slack.call_count("conversations.history") >= 2, "lost answers were looked for");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'feedback.%' AND state <> 'done'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failed, 0, "no feedback job used up or left behind");
    app.finish().await;
}
