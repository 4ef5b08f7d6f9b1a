//! What Slack (or an attacker) can send: signatures, malformed and oversized bodies, duplicates,
//! bad commands. Each bad input gets a clear error and creates nothing.

use crate::harness::*;
use serde_json::json;
use warroom::slack::verify::sign;

pub fn command_body(trigger_id: &str, text: &str) -> Vec<u8> {
    serde_urlencoded::to_string([
        ("team_id", "T0SANDBOX"),
        ("channel_id", "C0INCIDENTS"),
        ("user_id", ALICE),
        ("command", "/incident"),
        ("text", text),
        ("response_url", ""),
        ("trigger_id", trigger_id),
    ])
    .unwrap()
    .into_bytes()
}

pub const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn the_same_slash_command_delivered_twice_declares_one_incident() {
    let app = spawn_app().await;
    let body = command_body("1234.5678.abcdef", "declare P0 api down");

    let first = app.slack.send_signed("/slack/commands", FORM, body.clone()).await.unwrap();
    let second = app.slack.send_signed("/slack/commands", FORM, body).await.unwrap();

    assert!(first.text().contains("Declared *INC-1*"), "{}", first.body);
    assert!(second.text().contains("*INC-1* was already declared"), "{}", second.body);
    assert_eq!(app.incidents().await.len(), 1);
    app.drain().await;
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1, "announced once");
    app.finish().await;
}

#[tokio::test]
async fn a_forged_signature_is_refused_with_401() {
    let app = spawn_app().await;
    let body = command_body("t-forged", "declare P0 api down");
    let timestamp = app.clock.now_utc().timestamp().to_string();
    let forged = sign("not-the-secret", &timestamp, &body);

    let reply = app.slack.send_raw("/slack/commands", FORM, body.clone(), Some((&timestamp, &forged))).await.unwrap();
    let unsigned = app.slack.send_raw("/slack/commands", FORM, body, None).await.unwrap();

    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("signature does not match"), "{}", reply.body);
    assert_eq!(unsigned.status, 401);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_stale_timestamp_is_refused_with_401() {
    let app = spawn_app().await;
    let body = command_body("t-stale", "declare P0 api down");
    let timestamp = (app.clock.now_utc().timestamp() - 301).to_string();
    let signature = sign(SIGNING_SECRET, &timestamp, &body);

    let reply = app.slack.send_raw("/slack/commands", FORM, body, Some((&timestamp, &signature))).await.unwrap();

    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("more than 5 minutes"), "{}", reply.body);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_body_is_refused_with_400() {
    let app = spawn_app().await;

    let command = app.slack.send_signed("/slack/commands", FORM, b"text=declare+P0+api&%%%".to_vec()).await.unwrap();
    let interaction =
        app.slack.send_signed("/slack/interactions", FORM, b"payload=%7Bnot-json".to_vec()).await.unwrap();
    let event = app.slack.send_signed("/slack/events", "application/json", b"[1,2".to_vec()).await.unwrap();

    assert_eq!(command.status, 400);
    assert!(command.body.contains("malformed slash command payload"), "{}", command.body);
    assert_eq!(interaction.status, 400);
    assert!(interaction.body.contains("malformed interaction payload"), "{}", interaction.body);
    assert_eq!(event.status, 400);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = spawn_app().await;
    let mut body = command_body("t-big", "declare P0 api ");
    body.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 1));

    let reply = app.slack.send_signed("/slack/commands", FORM, body).await.unwrap();

    assert_eq!(reply.status, 413);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_subcommand_gets_the_usage_and_creates_nothing() {
    let app = spawn_app().await;

    let reply = app.slash(ALICE, "frobnicate the database").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["response_type"], "ephemeral");
    assert!(reply.text().contains("Unknown subcommand `frobnicate`"), "{}", reply.body);
    assert!(reply.text().contains("*Usage:*"));
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_severity_or_missing_service_is_explained_and_creates_nothing() {
    let app = spawn_app().await;

    let severity = app.slash(ALICE, "declare P7 api down").await;
    let service = app.slash(ALICE, "declare P1").await;

    assert!(severity.text().contains("Unknown severity `P7`: use P0, P1, P2 or P3"), "{}", severity.body);
    assert!(service.text().contains("Missing service"), "{}", service.body);
    assert!(service.text().contains("*Usage:*"));
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn events_answer_url_verification_and_ignore_retried_deliveries() {
    let app = spawn_app().await;
    let challenge = json!({ "type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    let event = json!({ "type": "event_callback", "event_id": "Ev0PV52K21", "team_id": "T0SANDBOX",
                        "event": { "type": "reaction_added", "user": ALICE, "reaction": "pushpin" } });

    let verified =
        app.slack.send_signed("/slack/events", "application/json", challenge.to_string().into_bytes()).await.unwrap();
    let first =
        app.slack.send_signed("/slack/events", "application/json", event.to_string().into_bytes()).await.unwrap();
    let retry =
        app.slack.send_signed("/slack/events", "application/json", event.to_string().into_bytes()).await.unwrap();

    assert_eq!(verified.json()["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    assert_eq!((first.status, retry.status), (200, 200));
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = 'event:Ev0PV52K21'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    app.finish().await;
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let get = |path: &str| warroom::tls::http_client().get(format!("{}{path}", app.address)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    app.finish().await;
}
