//! The HTTP API over real HTTP: declare (idempotent with `Idempotency-Key`), list, show; the
//! bearer token; bad input refused with a message and nothing changed.

use crate::harness::*;
use serde_json::{json, Value};
use warroom::sandbox::BOT_USER;

/// What warroom answered: status and JSON body (`null` when not JSON).
pub struct Answer {
    pub status: u16,
    pub json: Value,
}

/// Sends `body` to `path` with `Authorization: Bearer <token>` (none when `token` is `None`).
pub async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let client = warroom::tls::http_client();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{}{path}", app.address)).body(body);
    request = request.header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Answer { status, json: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// A POST with the test app's token.
pub async fn post(app: &TestApp, path: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
    send(app, "POST", path, Some(API_TOKEN), headers, body.to_string().into_bytes()).await
}

pub async fn get(app: &TestApp, path: &str) -> Answer {
    send(app, "GET", path, Some(API_TOKEN), &[], Vec::new()).await
}

fn declare_body() -> Value {
    json!({ "service": "payments-api", "severity": "P1", "summary": "Checkout returns 502", "commander": BOB,
            "impact": "40% of checkouts failing", "detected_at": "2026-11-23T14:55:00Z" })
}

#[tokio::test]
async fn declaring_twice_with_the_same_idempotency_key_opens_one_incident() {
    let app = spawn_app().await;
    let key = [("idempotency-key", "deploy-7f3a-rollback")];

    let first = post(&app, "/api/v1/incidents", &declare_body(), &key).await;
    let second = post(&app, "/api/v1/incidents", &declare_body(), &key).await;

    assert_eq!(first.status, 201, "{}", first.json);
    assert_eq!(first.json["created"], true);
    assert_eq!(first.json["incident"]["number"], "INC-1");
    assert_eq!(second.status, 200, "{}", second.json);
    assert_eq!(second.json["created"], false);
    assert_eq!(second.json["incident"]["number"], "INC-1");
    let incident = app.only_incident().await;
    assert_eq!((incident.severity.as_str(), incident.commander.as_str()), ("P1", BOB));
    assert_eq!(incident.declared_by, "api");
    assert_eq!(incident.detected_at.unwrap().to_rfc3339(), "2026-11-23T14:55:00+00:00");
    app.drain().await;
    let channel = app.slack.channel("inc-1-payments-api").expect("the incident channel exists");
    assert!(channel.members.iter().any(|m| m == BOB), "the commander is invited");
    let context = channel.messages[0].blocks[2]["elements"][0]["text"].as_str().unwrap();
    assert_eq!(context, "INC-1 · declared by api");
    assert!(!app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn without_an_idempotency_key_every_call_declares_and_nobody_named_reads_unassigned() {
    let app = spawn_app().await;
    let body = json!({ "service": "search" });

    let first = post(&app, "/api/v1/incidents", &body, &[]).await;
    let second = post(&app, "/api/v1/incidents", &body, &[]).await;

    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(second.json["incident"]["number"], "INC-2");
    assert_eq!(first.json["incident"]["severity"], "P0", "P0 unless said otherwise");
    assert_eq!(first.json["incident"]["title"], "search is down");
    assert_eq!(first.json["incident"]["commander"], BOT_USER);
    app.drain().await;
    let text =
        app.slack.channel("inc-1-search").unwrap().messages[0].blocks[0]["text"]["text"].as_str().unwrap().to_string();
    assert!(text.contains("*Incident Commander:* unassigned — take it with `/incident ic @you`"), "{text}");
    app.finish().await;
}

#[tokio::test]
async fn bad_fields_are_refused_with_422_and_a_message_and_nothing_is_declared() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "service": "api", "severity": "P9" }), "unknown severity `P9`"),
        (json!({ "service": "not a service" }), "service: `not a service` is not a service name"),
        (json!({ "service": "api", "commander": "@bob" }), "commander:"),
        (json!({ "service": "api", "detected_at": "yesterday" }), "detected_at: `yesterday` is not an RFC 3339 time"),
        (json!({ "service": "api", "sevrity": "P1" }), "unknown field `sevrity`"),
        (json!({ "severity": "P1" }), "missing field `service`"),
        (json!({ "service": "api", "summary": "x".repeat(201) }), "summary: at most 200 characters"),
    ];
    for (body, expected) in cases {
        let answer = post(&app, "/api/v1/incidents", &body, &[]).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.json);
        let error = answer.json["error"].as_str().unwrap();
        assert!(error.contains(expected), "{body}: {error}");
    }
    let malformed = send(&app, "POST", "/api/v1/incidents", Some(API_TOKEN), &[], b"{\"service\": ".to_vec()).await;
    assert_eq!(malformed.status, 422);
    assert!(malformed.json["error"].as_str().unwrap().starts_with("malformed JSON"), "{}", malformed.json);
    let bad_key =
        post(&app, "/api/v1/incidents", &json!({ "service": "api" }), &[("idempotency-key", "has space")]).await;
    assert_eq!(bad_key.status, 422);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_with_401_and_nothing_is_declared() {
    let app = spawn_app().await;
    let body = json!({ "service": "api" }).to_string().into_bytes();

    let missing = send(&app, "POST", "/api/v1/incidents", None, &[], body.clone()).await;
    let wrong = send(&app, "POST", "/api/v1/incidents", Some("not-the-token"), &[], body.clone()).await;
    let basic =
        send(&app, "POST", "/api/v1/incidents", None, &[("authorization", &format!("Basic {API_TOKEN}"))], body).await;
    let listing = send(&app, "GET", "/api/v1/incidents", Some("nope"), &[], Vec::new()).await;

    for answer in [&missing, &wrong, &basic, &listing] {
        assert_eq!(answer.status, 401, "{}", answer.json);
        assert!(answer.json["error"].as_str().unwrap().contains("bearer token"));
    }
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn without_an_api_token_configured_the_api_is_off() {
    let app = spawn_app_with(|s| s.api_token = None).await;

    let answer = post(&app, "/api/v1/incidents", &json!({ "service": "api" }), &[]).await;

    assert_eq!(answer.status, 404);
    assert!(answer.json["error"].as_str().unwrap().contains("WARROOM_API_TOKEN is unset"));
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn incidents_are_listed_newest_first_open_ones_unless_all_and_shown_by_number() {
    let app = spawn_app().await;
    for service in ["api", "search", "billing"] {
        post(&app, "/api/v1/incidents", &json!({ "service": service, "commander": ALICE }), &[]).await;
    }
    app.drain().await;
    let second = app.incidents().await.remove(1);
    let fields = Default::default();
    app.resolve_directly(&second, ALICE, &fields, Some("fixed")).await;
    app.settle().await;

    let open = get(&app, "/api/v1/incidents").await;
    let all = get(&app, "/api/v1/incidents?all=true&limit=10").await;
    let numbers = |a: &Answer| -> Vec<String> {
        a.json["incidents"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(numbers(&open), ["INC-3", "INC-1"]);
    assert_eq!(numbers(&all), ["INC-3", "INC-2", "INC-1"]);

    let shown = get(&app, "/api/v1/incidents/INC-2").await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json, get(&app, "/api/v1/incidents/2").await.json);
    let i = &shown.json;
    assert_eq!((i["service"].as_str(), i["status"].as_str()), (Some("search"), Some("resolved")));
    assert_eq!(i["resolved_by"], ALICE);
    assert_eq!(i["declared_at"], "2026-11-23T15:00:00Z");
    assert_eq!(i["channel"]["name"], "inc-2-search");
    assert_eq!(i["links"]["self"], "/api/v1/incidents/2");
    for path in ["/api/v1/incidents/INC-99", "/api/v1/incidents/abc"] {
        assert_eq!(get(&app, path).await.status, 404, "{path}");
    }
    for path in ["/api/v1/incidents?limit=0", "/api/v1/incidents?all=yes", "/api/v1/incidents?color=red"] {
        let answer = get(&app, path).await;
        assert_eq!(answer.status, 422, "{path}");
        assert!(answer.json["error"].is_string());
    }
    app.finish().await;
}
