//! Archiving (`[slack] archive_after`): a resolve plans a warning with "Keep open" (a day before,
//! or at half the time when `archive_after` is under two days), then `conversations.archive`.
//! Keep open is `[permissions] reopen`'s (carol is refused, nothing changes), extends once by
//! the same period from the click; a reopen unarchives the channel before anything is posted.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use warroom::config::Settings;
use warroom::duration::HumanDuration;
use warroom::sandbox::Fault;

use crate::harness::*;

const KEEP_OPEN: &str = "archive.keep_open";

async fn app_archiving(after: Option<&str>) -> TestApp {
    let after = after.map(|a| HumanDuration::parse(a).unwrap());
    spawn_app_with(move |s: &mut Settings| s.file.archive_after = after).await
}

/// Declares (as alice, `text` after `/incident`), resolves at once; returns the channel and when.
async fn resolved(app: &TestApp, text: &str) -> (String, DateTime<Utc>) {
    app.slash(ALICE, text).await;
    app.drain().await;
    let incident = app.only_incident().await;
    app.resolve_directly(&incident, ALICE, &Default::default(), Some("fixed")).await;
    app.drain().await;
    (incident.channel_id.unwrap(), app.clock.now_utc())
}

async fn at(app: &TestApp, when: DateTime<Utc>) {
    app.clock.set(when);
    app.drain().await;
}

/// The warnings posted in `channel`: (ts, text, whether it has Keep open).
fn warnings(app: &TestApp, channel: &str) -> Vec<(String, String, bool)> {
    let channel = app.slack.channel(channel).unwrap();
    channel
        .messages
        .iter()
        .filter(|m| m.blocks.to_string().contains("This channel will be archived on"))
        .map(|m| {
            let text = m.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string();
            (m.ts.clone(), text, m.blocks.to_string().contains(KEEP_OPEN))
        })
        .collect()
}

fn archived(app: &TestApp, channel: &str) -> bool {
    app.slack.channel(channel).unwrap().is_archived
}

async fn count(app: &TestApp, kind: &str) -> usize {
    let incident = app.only_incident().await;
    app.timeline(&incident).await.iter().filter(|k| *k == kind).count()
}

fn last_ephemeral(app: &TestApp, user: &str) -> String {
    app.slack.ephemerals(user).pop().map(|e| e.text).unwrap_or_default()
}

#[tokio::test]
async fn archiving_warns_a_day_before_then_archives_and_a_post_after_it_fails_for_good() {
    let app = app_archiving(Some("7d")).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;

    at(&app, t0 + Duration::days(6) - Duration::seconds(1)).await;
    assert!(warnings(&app, &channel).is_empty(), "not before a day ahead");
    at(&app, t0 + Duration::days(6)).await;
    let warned = warnings(&app, &channel);
    assert_eq!(warned.len(), 1, "{warned:?}");
    let expected = format!(
        ":file_cabinet: This channel will be archived on {} UTC, 7 days after INC-1 was resolved. *Keep open* keeps it one more 7 days from the click (once). Reopening INC-1 keeps it open too.",
        (t0 + Duration::days(7)).format("%Y-%m-%d %H:%M")
    );
    assert_eq!(warned[0].1, expected);
    assert!(warned[0].2, "with its Keep open button");
    assert_eq!(count(&app, "archive_warned").await, 1);
    assert!(!archived(&app, &channel));

    at(&app, t0 + Duration::days(7)).await;
    assert!(archived(&app, &channel), "archived at archive_after");
    assert_eq!(count(&app, "channel_archived").await, 1);
    assert_eq!(warnings(&app, &channel).len(), 1, "warned once");
    let events = warroom::timeline::list(&app.db, app.only_incident().await.id).await.unwrap();
    let lines: Vec<String> = events.iter().map(warroom::timeline::describe::what).collect();
    let planned = (t0 + Duration::days(7)).format("%Y-%m-%d %H:%M");
    assert!(lines.contains(&format!("warned the channel it will be archived at {planned} UTC")), "{lines:?}");
    assert!(lines.contains(&format!("archived <#{channel}>")), "{lines:?}");

    // A post queued into the archived channel: `is_archived` is final, not retried forever.
    let incident = app.only_incident().await;
    let post = json!({ "text": "late note", "to": "channel", "what": "notice" });
    let now = app.clock.now_utc();
    warroom::jobs::queue::enqueue(&app.db, Some(incident.id), "incident.post", "late", post, now).await.unwrap();
    app.settle().await;
    let state: String =
        sqlx::query_scalar("SELECT state FROM jobs WHERE slot = 'late'").fetch_one(&app.db).await.unwrap();
    assert_eq!(state, "failed");
    assert!(!app.slack.channel(&channel).unwrap().messages.iter().any(|m| m.text.contains("late note")));
    app.finish().await;
}

#[tokio::test]
async fn archiving_keep_open_refuses_carol_and_extends_once_from_the_click() {
    let app = app_archiving(Some("7d")).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;
    at(&app, t0 + Duration::days(6)).await;
    let (ts, _, _) = warnings(&app, &channel).pop().unwrap();

    app.slack.click(CAROL, &channel, &ts, KEEP_OPEN).await.unwrap();
    app.drain().await;
    let refused = last_ephemeral(&app, CAROL);
    assert!(refused.starts_with(":no_entry: Only") && refused.contains("may reopen INC-1"), "{refused}");
    assert!(refused.contains("Keep open takes the same permission as reopening"), "{refused}");
    assert_eq!(count(&app, "archive_kept_open").await, 0, "nothing written");

    let click = t0 + Duration::days(6) + Duration::hours(1);
    app.clock.set(click);
    app.slack.click(BOB, &channel, &ts, KEEP_OPEN).await.unwrap();
    app.drain().await;
    let new_at = (click + Duration::days(7)).format("%Y-%m-%d %H:%M").to_string();
    let told = last_ephemeral(&app, BOB);
    assert!(told.contains(&format!("will be archived on {new_at} UTC instead")), "{told}");
    let texts: Vec<String> = app.slack.channel(&channel).unwrap().messages.into_iter().map(|m| m.text).collect();
    assert!(texts.iter().any(|t| t.contains("<@U0BOB> kept this channel open")), "{texts:?}");

    app.slack.click(ALICE, &channel, &ts, KEEP_OPEN).await.unwrap();
    app.drain().await;
    assert!(last_ephemeral(&app, ALICE).contains("was kept open once already"), "{}", last_ephemeral(&app, ALICE));
    assert_eq!(count(&app, "archive_kept_open").await, 1, "extended once");

    at(&app, t0 + Duration::days(7)).await;
    assert!(!archived(&app, &channel), "the first plan is gone");
    at(&app, click + Duration::days(6)).await;
    let warned = warnings(&app, &channel);
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(!warned[1].2 && warned[1].1.contains("will not be extended again"), "{warned:?}");
    at(&app, click + Duration::days(7)).await;
    assert!(archived(&app, &channel));
    assert_eq!(count(&app, "channel_archived").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn archiving_short_archive_after_warns_at_half_time_and_reopen_unarchives_before_posting() {
    let app = app_archiving(Some("1d")).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;
    at(&app, t0 + Duration::hours(12) - Duration::seconds(1)).await;
    assert!(warnings(&app, &channel).is_empty());
    at(&app, t0 + Duration::hours(12)).await;
    assert_eq!(warnings(&app, &channel).len(), 1, "at half of a day");
    at(&app, t0 + Duration::days(1)).await;
    assert!(archived(&app, &channel));

    let calls_before = app.slack.call_log().len();
    let reply = app.slack.slash(ALICE, &channel, "reopen").await.unwrap().text();
    app.drain().await;
    assert!(reply.contains("INC-1 is open again"), "{reply}");
    let jobs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, state, last_error FROM jobs ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert!(!archived(&app, &channel), "unarchived: {jobs:?} {:?}", app.timeline(&app.only_incident().await).await);
    let calls: Vec<_> = app.slack.call_log().into_iter().skip(calls_before).collect();
    let unarchive = calls.iter().position(|c| c.method == "conversations.unarchive").expect("unarchived");
    let first_write = calls
        .iter()
        .position(|c| c.channel.as_deref() == Some(channel.as_str()) && c.method.starts_with("chat."))
        .expect("the reopen posted");
    assert!(unarchive < first_write, "{calls:?}");
    assert!(calls.iter().all(|c| c.error.as_deref() != Some("is_archived")), "{calls:?}");
    let texts: Vec<String> = app.slack.channel(&channel).unwrap().messages.into_iter().map(|m| m.text).collect();
    assert!(texts.iter().any(|t| t.contains("was reopened by <@U0ALICE>")), "{texts:?}");
    assert_eq!(count(&app, "channel_unarchived").await, 1);

    // Reopened: the old plan is gone; nothing is archived while it is open.
    at(&app, t0 + Duration::days(30)).await;
    assert!(!archived(&app, &channel));
    app.finish().await;
}

#[tokio::test]
async fn archiving_without_archive_after_plans_nothing() {
    let app = app_archiving(None).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;
    let planned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'archive.%'").fetch_one(&app.db).await.unwrap();
    assert_eq!(planned, 0);
    at(&app, t0 + Duration::days(60)).await;
    assert!(!archived(&app, &channel) && warnings(&app, &channel).is_empty());
    assert_eq!(app.slack.call_count("conversations.archive"), 0);
    app.finish().await;
}

#[tokio::test]
async fn archiving_retries_a_429_and_a_500_and_archives_once() {
    let app = app_archiving(Some("7d")).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;
    app.slack.inject("conversations.archive", Fault::RateLimited { retry_after_secs: 30 }, 1);
    app.slack.inject("conversations.archive", Fault::DeliveredThenStatus(500), 1);
    at(&app, t0 + Duration::days(7)).await;
    app.settle().await;
    assert!(archived(&app, &channel));
    // The 429, the 500 after archiving, and `already_archived` taken as done.
    assert_eq!(app.slack.call_count("conversations.archive"), 3);
    assert_eq!(count(&app, "channel_archived").await, 1);
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed'").fetch_one(&app.db).await.unwrap();
    assert_eq!(failed, 0);
    app.finish().await;
}

#[tokio::test]
async fn archiving_archives_a_private_channel_too() {
    let app = app_archiving(Some("2d")).await;
    let (channel, t0) =
        resolved(&app, "declare --private P1 inference-gateway Signing keys leaked in build logs").await;
    assert!(app.slack.channel(&channel).unwrap().is_private);
    at(&app, t0 + Duration::days(1)).await;
    assert_eq!(warnings(&app, &channel).len(), 1);
    at(&app, t0 + Duration::days(2)).await;
    assert!(archived(&app, &channel));
    app.finish().await;
}

#[tokio::test]
async fn archiving_a_private_channel_without_groups_write_fails_with_missing_scope_and_says_so() {
    let app = app_archiving(Some("2d")).await;
    let (channel, t0) =
        resolved(&app, "declare --private P1 inference-gateway Signing keys leaked in build logs").await;
    app.slack.revoke_scope("groups:write");
    at(&app, t0 + Duration::days(2)).await;
    app.settle().await;
    assert!(!archived(&app, &channel));
    let refused = app.slack.call_log().into_iter().filter(|c| c.method == "conversations.archive").collect::<Vec<_>>();
    assert_eq!(refused.len(), 1, "final, not retried: {refused:?}");
    assert_eq!(refused[0].error.as_deref(), Some("missing_scope"));
    assert_eq!(count(&app, "channel_archived").await, 0);
    assert_eq!(count(&app, "slack_api_failed").await, 1, "recorded");
    app.finish().await;
}

#[tokio::test]
async fn archiving_a_post_that_meets_is_archived_waits_for_an_unarchive_on_its_way() {
    let app = app_archiving(Some("2h")).await;
    let (channel, t0) = resolved(&app, "declare P1 api Everything 500s").await;
    at(&app, t0 + Duration::hours(2)).await;
    assert!(archived(&app, &channel));
    // A post due before the unarchive that makes room for it (as a second worker might claim it).
    let incident = app.only_incident().await;
    let now = app.clock.now_utc();
    let post = json!({ "text": "after the unarchive", "to": "channel", "what": "notice" });
    warroom::jobs::queue::enqueue(&app.db, Some(incident.id), "incident.post", "early", post, now).await.unwrap();
    let later = now + Duration::seconds(10);
    warroom::jobs::queue::enqueue(&app.db, Some(incident.id), "archive.unarchive", "late", json!({}), later)
        .await
        .unwrap();
    app.drain().await;
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE slot = 'early'").fetch_one(&app.db).await.unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0), "waiting, no attempt used");
    app.clock.set(later);
    app.settle().await;
    assert!(!archived(&app, &channel));
    let texts: Vec<String> = app.slack.channel(&channel).unwrap().messages.into_iter().map(|m| m.text).collect();
    assert!(texts.iter().any(|t| t.contains("after the unarchive")), "{texts:?}");
    app.finish().await;
}

#[tokio::test]
async fn archiving_sandbox_answers_as_slack_does() {
    let app = app_archiving(None).await;
    let slack = &app.state.slack;
    let code = |r: Result<(), warroom::slack::api::SlackError>| r.err().and_then(|e| e.code().map(str::to_string));
    assert_eq!(code(slack.archive("C0GENERAL").await).as_deref(), Some("cant_archive_general"));
    assert_eq!(code(slack.archive("C0NOSUCH").await).as_deref(), Some("channel_not_found"));
    assert_eq!(code(slack.unarchive("C0NOSUCH").await).as_deref(), Some("channel_not_found"));
    let channel = app.slack.create_bot_channel("inc-99-test");
    slack.archive(&channel).await.unwrap();
    slack.archive(&channel).await.expect("already_archived is done");
    assert_eq!(app.slack.call_log().last().unwrap().error.as_deref(), Some("already_archived"));
    assert!(app.slack.channel(&channel).unwrap().is_archived);
    let posted = slack.post_message(&channel, "hello", &[], 1).await.unwrap_err();
    assert_eq!(posted.code(), Some("is_archived"));
    slack.unarchive(&channel).await.unwrap();
    slack.unarchive(&channel).await.expect("not_archived is done");
    assert_eq!(app.slack.call_log().last().unwrap().error.as_deref(), Some("not_archived"));
    assert!(!app.slack.channel(&channel).unwrap().is_archived);
    app.slack.revoke_scope("channels:manage");
    assert_eq!(code(slack.archive(&channel).await).as_deref(), Some("missing_scope"));
    app.finish().await;
}
