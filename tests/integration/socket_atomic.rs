//! Socket Mode repeats and bad bytes: the handler's effect and the delivery's key commit
//! together, so a repeat after a lost acknowledgement acts once and a failure leaves nothing
//! (the repeat does the work); bad input is acknowledged and changes nothing, so Slack never
//! delivers it forever.

use serde_json::json;
use warroom::sandbox::socket::APP_TOKEN;
use warroom::secret::Secret;

use crate::atomic::fail_next_insert;
use crate::harness::*;

/// A Socket Mode app with INC-1 declared; its channel, with bob (a responder) in it.
async fn socket_incident() -> (TestApp, String) {
    let app = spawn_app_with(|s| s.slack_app_token = Some(Secret::new(APP_TOKEN))).await;
    app.slack.await_socket_connections(2).await.expect("warroom connects");
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

async fn kinds(app: &TestApp, kind: &str) -> usize {
    app.timeline(&app.only_incident().await).await.iter().filter(|k| *k == kind).count()
}

async fn rows(app: &TestApp) -> (i64, i64) {
    let timeline = sqlx::query_scalar("SELECT count(*) FROM timeline_events").fetch_one(&app.db).await.unwrap();
    let jobs = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&app.db).await.unwrap();
    (timeline, jobs)
}

#[tokio::test]
async fn a_repeat_after_a_lost_ack_acts_once_on_whichever_replica_it_reaches() {
    let (app, channel) = socket_incident().await;
    let _replica = app.running_replica().await;
    app.slack.await_socket_connections(4).await.expect("both replicas connect");

    let sent = app.slack.envelopes_sent();
    app.slack.lose_next_ack();
    let reply =
        app.slack.slash(CAROL, &channel, &format!("followup Alert on memory at 80% <@{CAROL}> short")).await.unwrap();
    app.drain().await;

    assert_eq!(app.slack.envelopes_sent() - sent, 2, "delivered, then repeated");
    assert!(reply.text().contains("Action item added to the INC-1 report"), "{}", reply.body);
    assert_eq!(kinds(&app, "followup_added").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_failure_after_the_work_leaves_nothing_and_the_repeat_does_it_once() {
    let (app, channel) = socket_incident().await;
    // The work commits nothing on its own: the key's insert failing takes the note with it.
    fail_next_insert(&app, "idempotency_keys", "NEW.key LIKE 'socket:%'").await;
    let failed = r#"warroom_slack_socket_envelopes_total{type="slash_commands",outcome="failed"} 1"#;

    let slack = app.slack.clone();
    let (channel_id, text) = (channel.clone(), "note Rolled back the config");
    let typed = tokio::spawn(async move { slack.slash(BOB, &channel_id, text).await });
    // Wait for the envelope to be counted as failed (no sleep: woken by each count).
    let counted_failed = async {
        loop {
            let next = app.state.metrics.envelope_counted();
            let mut metrics = String::new();
            app.state.metrics.render(&mut metrics);
            if metrics.contains(failed) {
                return;
            }
            next.await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), counted_failed)
        .await
        .expect("the first delivery failed within 10 s");
    assert_eq!(kinds(&app, "note").await, 0, "the failed delivery left no note");

    // Slack repeats an unacknowledged envelope on another connection.
    app.slack.drop_sockets();
    let reply = typed.await.unwrap().unwrap();
    app.drain().await;
    assert_eq!(reply.text(), ":memo: Noted in the INC-1 timeline.", "{}", reply.body);
    assert_eq!(kinds(&app, "note").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn bad_bytes_over_socket_mode_are_acknowledged_and_change_nothing() {
    let (app, channel) = socket_incident().await;
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(BOB, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal");
    let before = rows(&app).await;

    let note = app.slack.slash(BOB, &channel, "note before\u{0}after").await.unwrap();
    let field = app.slack.submit_view(BOB, &view.id, &[("resolution", "Rolled\u{0}back")]).await.unwrap();
    let click = json!({ "type": "block_actions", "user": { "id": BOB }, "trigger_id": "1.2.sock-click",
        "channel": { "id": channel }, "response_url": "http://x/\u{0}",
        "actions": [{ "action_id": "incident.diagnostics", "value": app.only_incident().await.id }] });
    let button = app.slack.deliver_envelope("interactive", click).await.unwrap();
    // A string escape that is no Unicode: the frame is not JSON warroom can read.
    let raw = format!(r#"{{"user_id":"{BOB}","channel_id":"{channel}","text":"note \udc80","trigger_id":"1.2.raw"}}"#);
    let unreadable = app.slack.deliver_raw_envelope("slash_commands", &raw).await.unwrap();
    let joined = json!({ "type": "member_joined_channel", "user": "U0\u{0}EVE", "channel": channel });
    let event = app.slack.deliver_event(&joined, "Ev0SOCKNUL").await.unwrap();

    assert!(note.text().contains("U+0000") && note.text().contains("nothing was done"), "{}", note.body);
    assert!(field.json()["errors"]["resolution"].as_str().unwrap().contains("U+0000"), "{}", field.body);
    assert!(unreadable.text().contains("not valid UTF-8"), "{}", unreadable.body);
    for acked in [&button, &event] {
        assert_eq!((acked.status, acked.body.as_str()), (200, ""), "acknowledged, nothing answered");
    }
    app.drain().await;
    assert_eq!(rows(&app).await, before, "nothing recorded or queued");
    assert!(!app.only_incident().await.is_resolved());
    // Nothing is left for Slack to repeat, and the connection still answers.
    assert!(app.slash(ALICE, "list").await.text().contains("INC-1"));
    app.finish().await;
}
