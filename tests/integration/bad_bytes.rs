//! Bad bytes are bad input: NUL and other control characters, and bytes that are not UTF-8, in
//! every place a person's text comes in over HTTP — slash commands, buttons, modal fields,
//! events, the API, the alert webhooks — get a clear answer and change nothing. Never "warroom
//! cannot reach its database".

use serde_json::{json, Value};

use crate::api::{post, send};
use crate::harness::*;

const FORM: &str = "application/x-www-form-urlencoded";

/// INC-1's channel, with bob (a responder) in it.
async fn incident(app: &TestApp) -> String {
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    channel
}

/// Rows the test's requests could have added: timeline events, jobs, incidents.
async fn rows(app: &TestApp) -> (i64, i64, i64) {
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    (count("timeline_events").await, count("jobs").await, count("incidents").await)
}

/// A signed interaction whose form-encoded payload is `payload`, with `%FF` (a byte that is not
/// UTF-8) in place of the text `INVALID` and a lone surrogate escape (`\udc80`, no Unicode) in
/// place of `SURROGATE`.
async fn interaction(app: &TestApp, payload: &Value) -> warroom::sandbox::actor::Reply {
    let json = payload.to_string().replace("SURROGATE", "\\udc80");
    let body = serde_urlencoded::to_string([("payload", json)]).unwrap().replace("INVALID", "%FF");
    app.slack.send_signed("/slack/interactions", FORM, body.into_bytes()).await.unwrap()
}

#[tokio::test]
async fn a_nul_or_invalid_utf8_in_a_slash_command_gets_an_ephemeral_error_and_changes_nothing() {
    let app = spawn_app().await;
    let channel = incident(&app).await;
    let before = rows(&app).await;

    let note = app.slack.slash(BOB, &channel, "note before\u{0}after").await.unwrap();
    let declare = app.slash(ALICE, "declare P1 api down\u{1b}[31m").await;
    let form = serde_urlencoded::to_string([
        ("user_id", BOB),
        ("channel_id", channel.as_str()),
        ("text", "note caf\u{e9} MARK"),
        ("trigger_id", "1.2.t-invalid"),
    ])
    .unwrap()
    .replace("MARK", "%C3%28");
    let invalid = app.slack.send_signed("/slack/commands", FORM, form.into_bytes()).await.unwrap();

    for (reply, says) in [(&note, "U+0000"), (&declare, "U+001B"), (&invalid, "not valid UTF-8")] {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["response_type"], "ephemeral", "{}", reply.body);
        assert!(reply.text().contains(says), "{}", reply.body);
        assert!(reply.text().contains("nothing was done"), "{}", reply.body);
    }
    app.drain().await;
    assert_eq!(rows(&app).await, before, "nothing recorded, queued or declared");
    app.finish().await;
}

#[tokio::test]
async fn a_nul_in_a_button_or_invalid_utf8_in_a_click_changes_nothing() {
    let app = spawn_app().await;
    let channel = incident(&app).await;
    let id = app.only_incident().await.id.to_string();
    let before = rows(&app).await;
    let click = |action: &str, value: String, response_url: &str| {
        json!({ "type": "block_actions", "user": { "id": BOB }, "trigger_id": "1.2.t-click",
                "channel": { "id": channel }, "response_url": response_url,
                "actions": [{ "action_id": action, "value": value }] })
    };

    // A NUL in the value, in the response_url (which would be queued in a job's jsonb), and a
    // payload that is not UTF-8 (a byte, an escape).
    let replies = [
        interaction(&app, &click("incident.acknowledge", format!("{id}\u{0}"), "")).await,
        interaction(&app, &click("incident.diagnostics", id.clone(), "http://x/\u{0}")).await,
        interaction(&app, &click("incident.acknowledge", id.clone(), "http://x/INVALID")).await,
        interaction(&app, &click("incident.diagnostics", id.clone(), "http://x/SURROGATE")).await,
    ];

    for reply in &replies {
        assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    }
    app.drain().await;
    assert_eq!(rows(&app).await, before);
    assert!(app.only_incident().await.acknowledged_at.is_none());
    app.finish().await;
}

#[tokio::test]
async fn a_nul_or_invalid_utf8_in_a_modal_field_keeps_the_modal_open_with_the_error_under_it() {
    let app = spawn_app().await;
    let channel = incident(&app).await;
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(BOB, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal");
    let before = rows(&app).await;

    let nul = app.slack.submit_view(BOB, &view.id, &[("cause", "OOM\u{0}kill"), ("resolution", "4G")]).await.unwrap();
    let submission = json!({ "type": "view_submission", "user": { "id": BOB }, "trigger_id": "1.2.t-view",
        "view": { "id": view.id, "callback_id": view.view["callback_id"], "private_metadata": view.view["private_metadata"],
                  "state": { "values": { "resolution": { "value": { "type": "plain_text_input", "value": "INVALID" } } } } } });
    let invalid = interaction(&app, &submission).await;

    assert_eq!(nul.json()["response_action"], "errors", "{}", nul.body);
    assert!(nul.json()["errors"]["cause"].as_str().unwrap().contains("U+0000"), "{}", nul.body);
    assert_eq!(invalid.json()["response_action"], "errors", "{}", invalid.body);
    assert!(invalid.json()["errors"]["resolution"].as_str().unwrap().contains("not valid UTF-8"), "{}", invalid.body);
    app.drain().await;
    assert_eq!(rows(&app).await, before);
    assert!(!app.only_incident().await.is_resolved());
    app.finish().await;
}

#[tokio::test]
async fn pinned_text_is_captured_without_control_characters_and_bad_events_change_nothing() {
    let app = spawn_app().await;
    let channel = incident(&app).await;
    let pinned = app.slack.say(CAROL, &channel, "Root cause\u{0}: the 2G limit").unwrap();
    let marked = app.slack.say(CAROL, &channel, "Raised\u{7} it to 4G").unwrap();

    // pin_added carries the message; reaction_added does not, so it is read from Slack.
    let (_, pin) = app.slack.pin_by(CAROL, &channel, &pinned).await.unwrap();
    let (_, reaction) = app.slack.react(CAROL, &channel, &marked, "pushpin").await.unwrap();
    assert_eq!((pin.status, reaction.status), (200, 200), "{} {}", pin.body, reaction.body);
    app.drain().await;
    let incident = app.only_incident().await;
    let captured: Vec<String> = warroom::timeline::list(&app.db, incident.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "message_captured")
        .map(|e| e.payload["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(captured, ["Root cause: the 2G limit", "Raised it to 4G"]);

    // A control character where warroom would store it, and a body that is not UTF-8.
    let before = rows(&app).await;
    let joined = json!({ "type": "member_joined_channel", "user": "U0\u{0}EVE", "channel": channel });
    let member = app.slack.deliver_event(&joined, "Ev0NUL").await.unwrap();
    let envelope = json!({ "type": "event_callback", "event_id": "Ev0INVALID", "event": { "type": "pin_added",
        "user": CAROL, "channel_id": channel, "item": { "type": "message", "message": { "ts": "1.2", "text": "INVALID" } } } });
    let (head, tail) = envelope.to_string().split_once("INVALID").map(|(h, t)| (h.to_string(), t.to_string())).unwrap();
    let body = [head.as_bytes(), &[0xFF], tail.as_bytes()].concat();
    let invalid = app.slack.send_signed("/slack/events", "application/json", body).await.unwrap();
    let escaped = envelope.to_string().replace("INVALID", "\\udc80").into_bytes();
    let surrogate = app.slack.send_signed("/slack/events", "application/json", escaped).await.unwrap();

    assert_eq!(member.status, 200, "{}", member.body);
    for reply in [&invalid, &surrogate] {
        assert_eq!(reply.status, 400);
        assert!(reply.body.contains("not valid UTF-8"), "{}", reply.body);
    }
    app.drain().await;
    assert_eq!(rows(&app).await, before);
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM channel_members WHERE user_id LIKE 'U0%EVE'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(members, 0);
    app.finish().await;
}

#[tokio::test]
async fn the_api_and_the_alert_webhooks_answer_422_to_a_nul_and_declare_nothing() {
    let app = spawn_app().await;

    let nul = post(&app, "/api/v1/incidents", &json!({ "service": "api", "summary": "down\u{0}" }), &[]).await;
    let invalid =
        send(&app, "POST", "/api/v1/incidents", Some(API_TOKEN), &[], b"{\"service\":\"api\xff\"}".to_vec()).await;
    let alert = json!({ "version": "4", "groupKey": "{}:{alertname=\"Down\"}", "status": "firing", "alerts": [{
        "status": "firing", "labels": { "alertname": "Down", "job": "api\u{0}" }, "annotations": {},
        "startsAt": "2026-11-23T14:58:30Z", "fingerprint": "fp1" }] });
    let webhook = post(&app, "/webhooks/alertmanager", &alert, &[]).await;

    assert_eq!(nul.status, 422, "{}", nul.json);
    assert!(nul.json["error"].as_str().unwrap().contains("`summary` contains the control character U+0000"));
    assert_eq!(invalid.status, 422, "{}", invalid.json);
    assert_eq!(webhook.status, 422, "{}", webhook.json);
    assert!(webhook.json["error"].as_str().unwrap().contains("`alerts.0.labels.job`"), "{}", webhook.json);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_database_that_refuses_the_data_itself_is_bad_input_not_an_outage() {
    let app = spawn_app().await;
    let db = &app.db;
    let refused = |sql: &'static str| async move { sqlx::query(sql).execute(db).await.unwrap_err() };
    use warroom::error::AppError;

    let nul = AppError::from(refused("SELECT convert_from('\\x6100'::bytea, 'UTF8')").await);
    let jsonb = AppError::from(refused("SELECT '\"\\u0000\"'::jsonb").await);
    let long = AppError::from(refused("DO $$ DECLARE v varchar(2); BEGIN v := 'abc'; END $$").await);
    let unique = AppError::from(
        refused("INSERT INTO idempotency_keys (key, created_at) VALUES ('k', now()), ('k', now())").await,
    );
    let outage = AppError::from(sqlx::Error::PoolTimedOut);

    for e in [&nul, &jsonb, &long, &unique] {
        assert!(matches!(e, AppError::Unprocessable(_)), "{e:?}");
    }
    assert!(long.to_string().contains("too long"), "{long}");
    assert!(matches!(outage, AppError::Database(_)));
    app.finish().await;
}
