//! Posts exactly once against a Slack that loses answers: delivered then 500, delivered then no
//! answer past the client's timeout, delivered then the connection dropped. The next attempt
//! finds the post in the channel's history by its metadata and does not post again; a post that
//! did not arrive is posted after the look-up. Final errors are told where a person sees them.

use warroom::sandbox::Fault;

use crate::harness::*;

/// Messages in `channel` whose text contains `needle`.
pub fn count(app: &TestApp, channel: &str, needle: &str) -> usize {
    let messages = app.slack.channel(channel).map(|c| c.messages).unwrap_or_default();
    messages.iter().filter(|m| m.text.contains(needle) || m.blocks.to_string().contains(needle)).count()
}

/// Declares with `fault` injected into the first `chat.postMessage`, settles, and checks the
/// declaration and the announcement are each in their channel once, the pinned one with the
/// job's metadata.
async fn declared_once_despite(app: TestApp, fault: Fault) {
    app.slack.inject("chat.postMessage", fault, 1);
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;

    let incident = app.only_incident().await;
    let channel = app.slack.channel("inc-1-api").unwrap();
    assert_eq!(channel.messages.len(), 1, "the declaration is in its channel once");
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1, "the announcement once");
    let declaration = &channel.messages[0];
    assert_eq!(incident.declaration_ts.as_deref(), Some(declaration.ts.as_str()), "the found post is the one recorded");
    assert!(declaration.pinned, "and the one pinned");
    assert_eq!(declaration.metadata["event_type"], "warroom_post");
    assert!(declaration.metadata["event_payload"]["job"].as_str().is_some_and(|j| j.parse::<i64>().is_ok()));
    assert_eq!(app.slack.call_count("chat.postMessage"), 2, "the lost answer's post was found, not sent again");
    assert_eq!(app.slack.call_count("conversations.history"), 1, "one look-up, by the attempt after the lost answer");
    let history = app.slack.call_log().into_iter().find(|c| c.method == "conversations.history").unwrap();
    assert_eq!(history.status, 200);
    assert!(!app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn a_post_delivered_then_answered_500_is_in_the_channel_once() {
    declared_once_despite(spawn_app().await, Fault::DeliveredThenStatus(500)).await;
}

#[tokio::test]
async fn a_post_delivered_then_answered_after_the_client_timeout_is_in_the_channel_once() {
    // The sandbox holds the answer far longer than this; the test itself never sleeps.
    let app = spawn_app_with(|s| s.slack_timeout = std::time::Duration::from_millis(300)).await;
    declared_once_despite(app, Fault::DeliveredThenTimeout).await;
}

#[tokio::test]
async fn a_post_delivered_then_cut_off_by_a_dropped_connection_is_in_the_channel_once() {
    declared_once_despite(spawn_app().await, Fault::DeliveredThenReset).await;
}

/// A job's claim commits without waiting for the disk, and a crash (of the worker or of
/// Postgres) can come after the post reached Slack and before its answer, or the job's
/// completion, was recorded. Played here by putting both back as they were before the answer,
/// with what the job recorded after it; the job runs again, finds its post in the history, and
/// neither the declaration nor the announcement is sent twice.
#[tokio::test]
async fn a_post_whose_settled_answer_and_completion_a_crash_lost_is_found_not_sent_again() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;
    let posts_before = app.slack.call_count("chat.postMessage");

    let lost = sqlx::query(
        "WITH job AS (UPDATE jobs SET state = 'queued', finished_at = NULL, locked_until = NULL
                      WHERE kind = 'incident.post_declaration' RETURNING id)
         UPDATE slack_posts SET uncertain = true, posted_channel = NULL, ts = NULL
         WHERE job_id IN (SELECT id FROM job)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(lost.rows_affected(), 1, "the declaration's post and its job were put back");
    // What the job recorded after the answer is later in the WAL, so it was lost too.
    sqlx::query("UPDATE incidents SET declaration_ts = NULL").execute(&app.db).await.unwrap();
    app.settle().await;

    let incident = app.only_incident().await;
    let channel = app.slack.channel("inc-1-api").unwrap();
    assert_eq!(channel.messages.len(), 1, "the declaration is in its channel once");
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1, "the announcement once");
    assert_eq!(incident.declaration_ts.as_deref(), Some(channel.messages[0].ts.as_str()));
    assert_eq!(app.slack.call_count("chat.postMessage"), posts_before, "found in the history, not posted again");
    assert_eq!(app.slack.call_count("conversations.history"), 1, "one look-up, by the attempt after the crash");
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE kind = 'incident.post_declaration'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(state, "done", "the job ran again");
    app.finish().await;
}

#[tokio::test]
async fn a_post_lost_in_an_outage_is_posted_after_the_look_up_finds_nothing() {
    let app = spawn_app().await;
    app.slack.inject("chat.postMessage", Fault::Status(503), 1);
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;

    assert_eq!(app.slack.channel("inc-1-api").unwrap().messages.len(), 1);
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1);
    assert_eq!(app.slack.call_count("chat.postMessage"), 3, "the 503'd post was sent again");
    assert_eq!(app.slack.call_count("conversations.history"), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_post_answered_not_in_channel_joins_and_posts_once() {
    let app = spawn_app().await;
    app.slack.inject("chat.postMessage", Fault::Error("not_in_channel".into()), 1);
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;

    assert_eq!(app.slack.channel("inc-1-api").unwrap().messages.len(), 1);
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1);
    assert_eq!(app.slack.call_count("conversations.join"), 1);
    assert_eq!(app.slack.call_count("conversations.history"), 0, "a sure refusal needs no look-up");
    app.finish().await;
}

#[tokio::test]
async fn a_post_the_incident_channel_refuses_for_good_is_told_in_the_announcement_channel() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.inject("chat.postMessage", Fault::Error("channel_not_found".into()), 1);

    app.slack.slash(ALICE, &channel, "update eta=\"10 min\"").await.unwrap();
    app.settle().await;

    assert_eq!(count(&app, &channel, "10 min"), 0, "the update was refused");
    let told = count(&app, "incidents", "could not finish a step (incident.post_update)");
    assert_eq!(told, 1, "the failure is told where a person sees it");
    assert!(count(&app, "incidents", "channel_not_found") >= 1);
    let incident = app.only_incident().await;
    assert!(app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed' AND kind = 'incident.post_update'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(failed, 1);
    assert_eq!(
        app.slack.call_count("chat.postMessage"),
        4,
        "declaration, announcement, the refused update, the notice"
    );
    app.finish().await;
}

#[tokio::test]
async fn invalid_blocks_fail_the_post_for_good_and_the_incident_channel_hears_of_it() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.inject("chat.postMessage", Fault::Error("invalid_blocks".into()), 1);

    app.slack.slash(ALICE, &channel, "update eta=\"10 min\"").await.unwrap();
    app.settle().await;

    assert_eq!(count(&app, &channel, "could not finish a step (incident.post_update)"), 1);
    assert_eq!(count(&app, "incidents", "could not finish a step"), 0);
    app.finish().await;
}
