//! Slack misbehaving: rate limits are waited out, failures for good are recorded and told.

use crate::harness::*;
use warroom::sandbox::Fault;

#[tokio::test]
async fn a_429_is_waited_out_and_the_message_is_posted_once() {
    let app = spawn_app().await;
    app.slack.inject("chat.postMessage", Fault::RateLimited { retry_after_secs: 7 }, 1);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let posted = |app: &TestApp| {
        app.slack.channel("inc-1-api").unwrap().messages.len() + app.slack.channel("incidents").unwrap().messages.len()
    };
    assert_eq!(posted(&app), 1, "one of the two posts waits for Retry-After");

    app.clock.advance(chrono::Duration::seconds(6));
    app.drain().await;
    assert_eq!(posted(&app), 1, "not before Retry-After has passed");

    app.clock.advance(chrono::Duration::seconds(1));
    app.drain().await;
    assert_eq!(app.slack.channel("inc-1-api").unwrap().messages.len(), 1);
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1);
    assert_eq!(app.slack.call_count("chat.postMessage"), 3, "two posts and one throttled attempt");
    let incident = app.only_incident().await;
    assert!(!app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn a_final_slack_error_lands_in_the_timeline_and_is_told_to_the_declarer() {
    let app = spawn_app().await;
    app.slack.inject("conversations.create", Fault::Error("restricted_action".into()), 1);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;

    let incident = app.only_incident().await;
    assert!(incident.channel_id.is_none());
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let failure = events.iter().find(|e| e.kind == "slack_api_failed").expect("the failure is in the timeline");
    assert_eq!(failure.payload["error"], "conversations.create failed: restricted_action");
    let told = app.slack.ephemerals(ALICE);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].via, "response_url");
    assert!(told[0].text.contains("restricted_action"), "{}", told[0].text);
    assert_eq!(app.slack.call_count("conversations.create"), 1, "a final error is not retried");
    app.finish().await;
}

#[tokio::test]
async fn a_slack_outage_is_waited_out_with_backoff_capped_at_a_minute_and_never_given_up() {
    let app = spawn_app().await;
    app.slack.inject("conversations.setTopic", Fault::Error("service_unavailable".into()), 20);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.settle().await;

    assert_eq!(app.slack.call_count("conversations.setTopic"), 21, "twenty failures, then the topic is set");
    let waited = app.clock.now_utc() - start_time();
    assert!(waited >= chrono::Duration::seconds(2 + 4 + 8 + 16 + 32 + 15 * 60), "backoff grew to a minute: {waited}");
    assert!(waited <= chrono::Duration::seconds(2 + 4 + 8 + 16 + 32 + 15 * 60 + 5), "and no further: {waited}");
    let incident = app.only_incident().await;
    let kinds = app.timeline(&incident).await;
    assert!(kinds.contains(&"topic_set".to_string()));
    assert!(!kinds.contains(&"slack_api_failed".to_string()), "an outage is not a failure for good");
    app.finish().await;
}

#[tokio::test]
async fn a_burst_beyond_slacks_channel_limit_is_throttled_and_every_post_lands_once() {
    let app = spawn_app().await;
    app.slack.enforce_rate_limits();
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();

    // Six updates at the same instant: six posts to one channel (the declaration was the first).
    for i in 0..6 {
        app.slack.slash(ALICE, &channel, &format!("update eta=\"{i} min\"")).await.unwrap();
    }
    app.settle().await;

    let posted: Vec<String> =
        app.slack.channel(&channel).unwrap().messages.iter().map(|m| m.blocks.to_string()).collect();
    for i in 0..6 {
        let count = posted.iter().filter(|b| b.contains(&format!("*ETA:* {i} min"))).count();
        assert_eq!(count, 1, "update {i} posted once");
    }
    assert!(app.slack.call_count("chat.postMessage") > 8, "some posts were answered 429 and retried");
    let incident = app.only_incident().await;
    assert!(!app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}
