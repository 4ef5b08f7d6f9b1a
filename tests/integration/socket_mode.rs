//! Socket Mode: warroom holds WebSocket connections to the sandbox (`apps.connections.open`)
//! and gets commands, clicks, modal submissions and events as envelopes over them. A whole
//! incident runs that way through a dropped network, a lost acknowledgement and a refresh.

use serde_json::json;
use warroom::sandbox::socket::APP_TOKEN;
use warroom::sandbox::Fault;
use warroom::secret::Secret;

use crate::harness::*;

async fn spawn_socket_app() -> TestApp {
    let app = spawn_app_with(|s| s.slack_app_token = Some(Secret::new(APP_TOKEN))).await;
    app.slack.await_socket_connections(2).await.expect("warroom connects");
    app
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

#[tokio::test]
async fn an_incident_runs_over_socket_mode_through_drops_a_lost_ack_and_a_refresh() {
    let app = spawn_socket_app().await;

    // Slack reaches warroom only over the sockets: the HTTP endpoints are not served.
    let http = warroom::tls::http_client().post(format!("{}/slack/commands", app.address)).body("text=list").send();
    assert_eq!(http.await.unwrap().status(), 404);

    let declared = app.slash(ALICE, "declare P0 api Everything 500s").await;
    assert!(declared.text().contains("Declared *INC-1*"), "{}", declared.body);
    app.drain().await;
    let channel = app.slack.channel("inc-1-api").expect("the incident channel").id;
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();

    let acked = app.slack.click(BOB, &channel, &ts, "incident.acknowledge").await.unwrap();
    assert_eq!(acked.status, 200);

    // The network drops every connection; the next command waits for warroom to reconnect.
    app.slack.drop_sockets();
    let update = app.slack.slash(ALICE, &channel, r#"update status="Still down" cause="OOM kill""#).await.unwrap();
    app.drain().await;
    assert!(!update.text().contains(":x:"), "{}", update.body);

    // warroom acts on a note, but its acknowledgement is lost with the connection: Slack sends
    // the envelope again, and the repeat is answered the same way without a second note.
    let sent_before = app.slack.envelopes_sent();
    app.slack.lose_next_ack();
    let note = app.slack.slash(BOB, &channel, "note Rolled back the config").await.unwrap();
    app.drain().await;
    assert_eq!(app.slack.envelopes_sent() - sent_before, 2, "the note's envelope went out twice");
    let plain = app.slack.slash(BOB, &channel, "note Watching the error rate").await.unwrap();
    assert_eq!(note.text(), ":memo: Noted in the INC-1 timeline.", "the repeat got the first answer");
    assert_eq!(plain.text(), note.text());

    // Slack recycles the connections; warroom replaces them and carries on.
    app.slack.refresh_sockets();
    app.slack.await_socket_connections(2).await.expect("warroom replaced its connections");
    let message = app.slack.say(CAROL, &channel, "Root cause: the 2G memory limit").unwrap();
    let (event_id, _) = app.slack.pin_by(CAROL, &channel, &message).await.unwrap();
    let pinned = app.slack.channel(&channel).unwrap().messages.into_iter().find(|m| m.ts == message).unwrap();
    assert!(pinned.pinned);
    let event = json!({ "type": "pin_added", "user": CAROL, "channel_id": channel,
        "item": { "type": "message", "channel": channel, "message": { "ts": message, "user": CAROL,
        "text": "Root cause: the 2G memory limit" } }, "event_ts": "1.2" });
    app.slack.deliver_event(&event, &event_id).await.unwrap();

    app.slack.click(ALICE, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    let values = [("cause", "OOM kill"), ("resolution", "Raised the limit to 4G"), ("impact", "All requests")];
    let resolved = app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    assert_eq!(resolved.json()["response_action"], "clear", "{}", resolved.body);
    app.drain().await;

    // Nothing lost, nothing doubled.
    let incident = app.only_incident().await;
    assert_eq!(incident.acknowledged_by.as_deref(), Some(BOB));
    assert!(incident.is_resolved());
    let kinds = app.timeline(&incident).await;
    for (kind, n) in
        [("declared", 1), ("acknowledged", 1), ("updated", 1), ("note", 2), ("message_captured", 1), ("resolved", 1)]
    {
        assert_eq!(count(&kinds, kind), n, "{kind} in {kinds:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn replicas_each_hold_connections_and_share_the_envelopes() {
    let app = spawn_socket_app().await;
    let replica = app.running_replica().await;
    app.slack.await_socket_connections(4).await.expect("both replicas connect");

    for _ in 0..8 {
        let reply = app.slash(CAROL, "list").await;
        assert!(reply.text().contains("No active incidents"), "{}", reply.body);
    }
    for state in [&app.state, &replica] {
        let mut metrics = String::new();
        state.metrics.render(&mut metrics);
        let handled = r#"warroom_slack_socket_envelopes_total{type="slash_commands",outcome="acknowledged"} 4"#;
        assert!(metrics.contains(handled), "each replica handled half: {metrics}");
        assert!(metrics.contains("warroom_slack_socket_connections 2"), "{metrics}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_envelope_is_acknowledged_and_changes_nothing() {
    let app = spawn_socket_app().await;
    let reply = app.slack.deliver_envelope("slash_commands", json!({ "text": ["not", "a", "command"] })).await.unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    let reply = app.slack.deliver_envelope("interactive", json!({ "type": "block_actions" })).await.unwrap();
    assert_eq!(reply.body, "");
    assert!(app.incidents().await.is_empty());
    // The connection survived: the next command is answered.
    assert!(app.slash(ALICE, "list").await.text().contains("No active incidents"));
    app.finish().await;
}

#[tokio::test]
async fn a_rate_limited_reconnection_waits_and_gets_through() {
    let app = spawn_socket_app().await;
    let opened = app.slack.call_count("apps.connections.open");
    app.slack.inject("apps.connections.open", Fault::RateLimited { retry_after_secs: 1 }, 2);
    app.slack.drop_sockets();

    // Both connections are refused once with 429 and `Retry-After: 1`, then come back.
    let reply = app.slash(ALICE, "list").await;
    assert!(reply.text().contains("No active incidents"), "{}", reply.body);
    app.slack.await_socket_connections(2).await.expect("warroom reconnected after the wait");
    assert_eq!(app.slack.call_count("apps.connections.open") - opened, 4, "two refused, two accepted");
    app.finish().await;
}
