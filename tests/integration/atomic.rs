//! Deliveries and their effects commit together: an Events API event whose work could not be
//! queued is done when Slack retries it (the dedupe key went with the failure), and a
//! `view_submission` for a view warroom never opened is refused and changes nothing.

use serde_json::{json, Value};

use crate::harness::*;

/// Makes the first INSERT into `table` for which `when` holds fail, as a database fault would
/// (a sequence counts, since it is not rolled back with the failed transaction).
pub(crate) async fn fail_next_insert(app: &TestApp, table: &str, when: &str) {
    let name = format!("injected_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SEQUENCE {name};
         CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('{name}') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}();"
    )))
    .execute(&app.db)
    .await
    .unwrap();
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&app.db).await.unwrap()
}

/// INC-1's channel, with bob (a responder) in it.
async fn incident(app: &TestApp, text: &str) -> String {
    app.slash(ALICE, text).await;
    app.drain().await;
    let channel = app.incidents().await.last().unwrap().channel_id.clone().unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    channel
}

#[tokio::test]
async fn an_event_whose_capture_could_not_be_queued_is_captured_when_slack_retries_it() {
    let app = spawn_app().await;
    let channel = incident(&app, "declare P0 api Everything 500s").await;
    let ts = app.slack.say(CAROL, &channel, "Root cause: the 2G memory limit").unwrap();
    let pin = json!({ "type": "pin_added", "user": CAROL, "channel_id": channel,
        "item": { "type": "message", "channel": channel, "message": { "ts": ts, "user": CAROL,
        "text": "Root cause: the 2G memory limit" } }, "event_ts": "1.2" });
    fail_next_insert(&app, "jobs", "NEW.kind = 'timeline.capture'").await;

    let first = app.slack.deliver_event(&pin, "Ev0RETRIED").await.unwrap();
    let keys = "SELECT count(*) FROM idempotency_keys WHERE key = 'event:Ev0RETRIED'";
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(count(&app, keys).await, 0, "the key went with the failure");

    // Slack's retry, then a duplicate: captured once.
    let retry = app.slack.deliver_event(&pin, "Ev0RETRIED").await.unwrap();
    let duplicate = app.slack.deliver_event(&pin, "Ev0RETRIED").await.unwrap();
    assert_eq!((retry.status, duplicate.status), (200, 200));
    app.drain().await;
    let kinds = app.timeline(&app.only_incident().await).await;
    assert_eq!(kinds.iter().filter(|k| *k == "message_captured").count(), 1, "{kinds:?}");
    assert_eq!(count(&app, keys).await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_join_that_could_not_be_recorded_is_recorded_when_slack_retries_it() {
    let app = spawn_app().await;
    let channel = incident(&app, "declare P0 api Everything 500s").await;
    let joined = json!({ "type": "member_joined_channel", "user": CAROL, "channel": channel, "channel_type": "C" });
    fail_next_insert(&app, "channel_members", &format!("NEW.user_id = '{CAROL}'")).await;
    let carol = format!("SELECT count(*) FROM channel_members WHERE user_id = '{CAROL}'");

    let first = app.slack.deliver_event(&joined, "Ev0JOINED").await.unwrap();
    assert_eq!((first.status, count(&app, &carol).await), (503, 0));
    let retry = app.slack.deliver_event(&joined, "Ev0JOINED").await.unwrap();
    assert_eq!((retry.status, count(&app, &carol).await), (200, 1));
    app.drain().await; // her catch-up card
    app.finish().await;
}

/// A `view_submission` warroom did not open: `view` with `callback` and `metadata`.
fn submission(view: &str, callback: &Value, metadata: &Value) -> Value {
    json!({ "type": "view_submission", "user": { "id": BOB }, "trigger_id": format!("1.2.{view}"),
        "view": { "id": view, "type": "modal", "callback_id": callback, "private_metadata": metadata,
                  "state": { "values": { "resolution": { "value": { "type": "plain_text_input", "value": "forged" } } } } } })
}

async fn submit(app: &TestApp, payload: &Value) -> warroom::sandbox::actor::Reply {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    app.slack.send_signed("/slack/interactions", "application/x-www-form-urlencoded", body.into_bytes()).await.unwrap()
}

#[tokio::test]
async fn a_view_warroom_never_opened_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let channel = incident(&app, "declare P0 api Everything 500s").await;
    incident(&app, "declare P1 web Slow pages").await;
    let (first, second) = (app.incidents().await[0].clone(), app.incidents().await[1].clone());
    app.slack.click(BOB, &channel, first.declaration_ts.as_deref().unwrap(), "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal for INC-1");
    let (callback, metadata) = (view.view["callback_id"].clone(), view.view["private_metadata"].clone());
    assert_eq!(metadata, json!(first.id.to_string()));

    // A made-up view id; the real one with another incident in it; the real one as another form.
    let forgeries = [
        submission("V0FORGED", &callback, &metadata),
        submission(&view.id, &callback, &json!(second.id.to_string())),
        submission(&view.id, &json!("incident.update"), &metadata),
    ];
    for forged in &forgeries {
        let reply = submit(&app, forged).await;
        assert_eq!(reply.json()["response_action"], "errors", "{}", reply.body);
        assert!(reply.body.contains("warroom did not open this form"), "{}", reply.body);
    }
    app.drain().await;
    assert!(app.incidents().await.iter().all(|i| !i.is_resolved()), "nothing resolved");

    let done = app.slack.submit_view(BOB, &view.id, &[("resolution", "Rolled back")]).await.unwrap();
    assert_eq!(done.json()["response_action"], "clear", "{}", done.body);
    app.drain().await;
    let resolved: Vec<bool> = app.incidents().await.iter().map(|i| i.is_resolved()).collect();
    assert_eq!(resolved, [true, false], "the modal warroom opened resolved its own incident");
    app.finish().await;
}
