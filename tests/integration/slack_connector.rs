//! warroom's connector under slack-morphism, against a loopback stand-in for Slack that answers
//! whatever a test needs (the sandbox answers only what Slack would): what goes out (the
//! configured base URL, the bot token, reads as GET with their arguments in the query, writes
//! as JSON with a charset), and what an answer slack-morphism's types cannot read, an `ok:
//! false` with `errors`, a refused connection or a lost answer become.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use warroom::secret::Secret;
use warroom::slack::api::{SlackClient, SlackError};

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Seen {
    http_method: Method,
    method: String,
    query: String,
    content_type: String,
    authorization: String,
    body: String,
}

#[derive(Default)]
struct Slack {
    seen: Mutex<Vec<Seen>>,
    /// The answer (status, body) to every call; `None`: never answer.
    answer: Mutex<Option<(u16, String)>>,
}

async fn handle(
    State(slack): State<Arc<Slack>>,
    http_method: Method,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    slack.seen.lock().unwrap().push(Seen {
        http_method,
        method,
        query: query.unwrap_or_default(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let answer = slack.answer.lock().unwrap().clone();
    match answer {
        Some((status, body)) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        None => std::future::pending().await,
    }
}

/// The stand-in, answering every call `status` and `body`; returns it and its API base URL.
async fn stand_in(status: u16, body: Value) -> (Arc<Slack>, String) {
    let slack = Arc::new(Slack::default());
    *slack.answer.lock().unwrap() = Some((status, body.to_string()));
    let router = axum::Router::new().route("/api/{method}", axum::routing::any(handle)).with_state(slack.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (slack, base)
}

fn client(base: &str, timeout: Duration) -> SlackClient {
    let http = warroom::tls::http_client_builder().timeout(timeout).build().unwrap();
    SlackClient::new(http, base, Secret::new("xoxb-test-token"))
}

fn seen(slack: &Slack) -> Vec<Seen> {
    slack.seen.lock().unwrap().clone()
}

#[tokio::test]
async fn reads_go_as_get_with_their_arguments_in_the_query_and_writes_as_json_with_the_token() {
    let channel = json!({ "id": "C1", "name": "inc-1", "created": 1_700_000_000, "creator": "U1" });
    let (slack, base) = stand_in(
        200,
        json!({ "ok": true, "channels": [channel], "channel": "C1",
                                              "ts": "1.000001", "message": { "ts": "1.000001" } }),
    )
    .await;
    // A trailing slash on SLACK_API_URL reaches the same methods.
    let client = client(&format!("{base}/"), Duration::from_secs(5));

    let found = client.find_channel("inc-1").await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.creator.as_deref()), ("C1", Some("U1")));
    let posted = client.post_message("C1", "SEV1 api down", &[], 42).await.unwrap();
    assert_eq!(posted, ("C1".to_string(), "1.000001".to_string()));

    let seen = seen(&slack);
    let (list, post) = (&seen[0], &seen[1]);
    assert_eq!((&list.http_method, list.method.as_str()), (&Method::GET, "conversations.list"));
    for argument in ["limit=1000", "exclude_archived=true", "types=public_channel"] {
        assert!(list.query.split('&').any(|a| a == argument), "{argument} not in {}", list.query);
    }
    assert!(list.body.is_empty(), "a read sends no body");
    assert_eq!((&post.http_method, post.method.as_str()), (&Method::POST, "chat.postMessage"));
    assert_eq!(post.content_type, "application/json; charset=utf-8");
    for request in [list, post] {
        assert_eq!(request.authorization, "Bearer xoxb-test-token");
    }
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body["channel"], "C1");
    assert_eq!(body["unfurl_links"], false);
    assert_eq!(body["metadata"], json!({ "event_type": "warroom_post", "event_payload": { "job": "42" } }));
}

#[tokio::test]
async fn an_answer_slack_morphisms_types_cannot_read_is_a_final_http_error_of_unknown_outcome() {
    // `ok: true` but no `ts`: the post may have been made, and nothing says where.
    let (slack, base) = stand_in(200, json!({ "ok": true, "channel": "C1" })).await;
    let failed = client(&base, Duration::from_secs(5)).post_message("C1", "hi", &[], 7).await.unwrap_err();
    assert!(matches!(failed, SlackError::Http { status: 200, .. }), "{failed:?}");
    assert!(!failed.is_retryable(), "sending it again would not read any better");
    assert!(failed.outcome_unknown(), "Slack may have posted it: post_once looks for it first");
    assert_eq!(seen(&slack).len(), 1);

    // A body that is not JSON at all is the same.
    *slack.answer.lock().unwrap() = Some((200, "<html>gateway</html>".into()));
    let failed = client(&base, Duration::from_secs(5)).bot_user_id().await.unwrap_err();
    assert!(matches!(failed, SlackError::Http { status: 200, .. }), "{failed:?}");
}

#[tokio::test]
async fn ok_false_keeps_the_code_and_names_slacks_errors_string_or_object() {
    let errors = json!(["must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
                        { "code": "invalid_type", "pointer": "/blocks/1" }]);
    let (_slack, base) = stand_in(
        200,
        json!({ "ok": false, "error": "invalid_blocks", "errors": errors,
                                               "warnings": ["missing_charset"] }),
    )
    .await;
    let failed = client(&base, Duration::from_secs(5)).update_message("C1", "1.1", "t", &[]).await.unwrap_err();
    assert_eq!(failed.code(), Some("invalid_blocks"));
    assert!(!failed.is_retryable() && !failed.outcome_unknown());
    let text = failed.to_string();
    assert!(text.starts_with("chat.update failed: invalid_blocks (must be less than 3001 characters"), "{text}");
    assert!(text.contains(r#"{"code":"invalid_type","pointer":"/blocks/1"}"#), "{text}");

    // Slack's own "try again" codes stay retried and of unknown outcome.
    let (_slack, base) = stand_in(200, json!({ "ok": false, "error": "internal_error" })).await;
    let failed = client(&base, Duration::from_secs(5)).pin("C1", "1.1").await.unwrap_err();
    assert!(failed.is_retryable() && failed.outcome_unknown(), "{failed:?}");
}

#[tokio::test]
async fn blocks_or_a_modal_that_are_not_block_kit_are_refused_before_anything_is_sent() {
    let (slack, base) = stand_in(200, json!({ "ok": true })).await;
    let client = client(&base, Duration::from_secs(5));
    let refused = client.post_ephemeral("C1", "U1", "hi", &json!("not a list")).await.unwrap_err();
    assert!(matches!(refused, SlackError::Invalid { .. }), "{refused:?}");
    // A modal without its title.
    let refused = client.open_view("T1", &json!({ "type": "modal", "blocks": [] })).await.unwrap_err();
    assert!(matches!(refused, SlackError::Invalid { .. }), "{refused:?}");
    assert!(refused.to_string().starts_with("views.open not sent: the modal is not a Block Kit view"), "{refused}");
    assert!(!refused.is_retryable() && !refused.outcome_unknown());
    assert!(seen(&slack).is_empty(), "nothing went to Slack");
}

#[tokio::test]
async fn a_refused_connection_was_never_sent_and_a_lost_answer_may_have_been_carried_out() {
    // A port nothing listens on any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let base = format!("http://{closed}/api");
    let failed = client(&base, Duration::from_secs(5)).set_topic("C1", "topic").await.unwrap_err();
    assert!(matches!(failed, SlackError::Transport { .. }), "{failed:?}");
    assert!(failed.is_retryable() && !failed.outcome_unknown());
    assert!(!failed.to_string().contains(&closed.port().to_string()), "no URL in {failed}");

    let (slack, base) = stand_in(200, json!({ "ok": true })).await;
    *slack.answer.lock().unwrap() = None;
    let failed = client(&base, Duration::from_millis(300)).invite("C1", "U1").await.unwrap_err();
    assert!(matches!(failed, SlackError::Unanswered { .. }), "{failed:?}");
    assert!(failed.is_retryable() && failed.outcome_unknown());
    assert_eq!(seen(&slack).len(), 1, "sent once: the connector never retries");
}

#[tokio::test]
async fn a_429_carries_slacks_retry_after_and_is_counted_by_method() {
    let (slack, base) = stand_in(429, json!({ "ok": false, "error": "ratelimited" })).await;
    let metrics = Arc::new(warroom::metrics::Metrics::default());
    let client = client(&base, Duration::from_secs(5)).with_metrics(metrics.clone());
    let failed = client.channel_members("C1").await.unwrap_err();
    assert!(matches!(failed, SlackError::RateLimited { .. }), "{failed:?}");
    // No Retry-After header: Slack's floor of one second.
    assert_eq!(failed.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(seen(&slack).len(), 1, "the connector never waits and never retries");
    let mut text = String::new();
    metrics.render(&mut text);
    assert!(
        text.contains(r#"warroom_slack_api_calls_total{method="conversations.members",outcome="ratelimited"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_base_url_that_is_no_url_is_a_final_error_not_a_panic() {
    let failed = client("no scheme here", Duration::from_secs(5)).bot_user_id().await.unwrap_err();
    assert!(matches!(failed, SlackError::Invalid { .. }), "{failed:?}");
    assert_eq!(failed.method(), "auth.test");
    assert!(!failed.is_retryable() && !failed.outcome_unknown());
}

/// Why `conversations.history` is read into a type of ours: with `include_all_metadata` Slack
/// returns every app's metadata, whose payload may hold any JSON; slack-morphism's history
/// answer reads payloads as string-to-string and refuses the whole page.
#[tokio::test]
async fn a_post_is_found_again_beside_another_apps_metadata_of_any_shape() {
    let app = crate::harness::spawn_app().await;
    let slack = &app.state.slack;
    let foreign = json!({ "channel": "C0INCIDENTS", "text": "deployed",
                          "metadata": { "event_type": "deploy", "event_payload": { "build": 42, "tags": ["a"] } } });
    slack.call("chat.postMessage", &foreign).await.unwrap();
    let (_, ts) = slack.post_message("C0INCIDENTS", "ours", &[], 77).await.unwrap();
    slack.call("chat.postMessage", &foreign).await.unwrap();

    assert_eq!(slack.find_post("C0INCIDENTS", 77, crate::harness::start_time()).await.unwrap(), Some(ts.clone()));
    assert_eq!(slack.find_post("C0INCIDENTS", 78, crate::harness::start_time()).await.unwrap(), None);
    assert_eq!(slack.message("C0INCIDENTS", &ts).await.unwrap().unwrap()["text"], "ours");

    let page = slack
        .call_form("conversations.history", &[("channel", "C0INCIDENTS"), ("include_all_metadata", "true")])
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);
    let strict = serde_json::from_value::<slack_morphism::api::SlackApiConversationsHistoryResponse>(page);
    assert!(strict.is_err(), "slack-morphism's type would have refused the page");
    app.finish().await;
}
