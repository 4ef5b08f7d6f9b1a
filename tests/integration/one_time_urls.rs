//! A `response_url` or an upload URL is a credential good for one use: when it fails, the error
//! recorded (`jobs.last_error`, which is also what the log line says), the timeline and the
//! channel say what failed, never where.

use warroom::sandbox::Fault;

use crate::harness::*;

/// A loopback server standing in for Slack's one-time URLs: it answers every request 500, or
/// closes every connection before answering. Returns its base URL (with a path that looks like
/// a webhook's secret part, so that a leak is easy to see).
async fn broken_hooks(answer_500: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/hooks/T0SECRET/B0SECRET", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            if answer_500 {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n").await;
            }
            // Dropped: the connection closes (at once, when not answering).
        }
    });
    base
}

/// Nothing that was recorded or said mentions the URL (its address, port or path).
async fn assert_no_trace(app: &TestApp, base: &str) {
    let address = base.split("/hooks").next().unwrap().trim_start_matches("http://").to_string();
    let port = address.rsplit(':').next().unwrap().to_string();
    let errors: Vec<Option<String>> =
        sqlx::query_scalar("SELECT last_error FROM jobs").fetch_all(&app.db).await.unwrap();
    let events: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT payload FROM timeline_events").fetch_all(&app.db).await.unwrap();
    let posted: Vec<String> = app
        .slack
        .channels()
        .iter()
        .flat_map(|c| c.messages.iter().map(|m| format!("{} {}", m.text, m.blocks)))
        .collect();
    let told: Vec<String> = app.slack.ephemerals(ALICE).into_iter().map(|e| e.text).collect();
    let everything = format!("{errors:?}\n{events:?}\n{posted:?}\n{told:?}");
    for trace in [address.as_str(), &format!(":{port}"), "T0SECRET", "/hooks/", "/response/", "/upload/", "for url"] {
        assert!(!everything.contains(trace), "{trace} is in what warroom recorded:\n{everything}");
    }
}

#[tokio::test]
async fn a_response_url_that_cannot_be_reached_leaves_no_trace_of_it() {
    let app = spawn_app().await;
    let hooks = broken_hooks(false).await;
    app.slack.connect(&app.address, &hooks);
    // The channel cannot be created: warroom tells the declarer through the command's response_url.
    app.slack.inject("conversations.create", Fault::Error("restricted_action".into()), 1);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    // Retried while the response_url lives (30 minutes), each error recorded as it came...
    app.clock.advance(chrono::Duration::minutes(10));
    app.drain().await;
    let errors: Vec<String> =
        sqlx::query_scalar("SELECT last_error FROM jobs WHERE kind = 'slack.respond' AND last_error IS NOT NULL")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(!errors.is_empty(), "the answer is being retried");
    assert!(
        errors.iter().all(|e| e.starts_with("response_url failed: error sending request")),
        "it still says what failed: {errors:?}"
    );
    assert_no_trace(&app, &hooks).await;
    // ... then, the URL dead, the declarer is told with chat.postEphemeral instead.
    app.settle().await;
    let told = app.slack.ephemerals(ALICE);
    assert!(told.iter().any(|e| e.via == "chat.postEphemeral" && e.text.contains("could not finish")), "{told:?}");
    assert_no_trace(&app, &hooks).await;
    app.finish().await;
}

#[tokio::test]
async fn a_response_url_answering_500_leaves_no_trace_of_it() {
    let app = spawn_app().await;
    let hooks = broken_hooks(true).await;
    app.slack.connect(&app.address, &hooks);
    app.slack.inject("conversations.create", Fault::Error("restricted_action".into()), 1);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.drain().await;
    let errors: Vec<String> =
        sqlx::query_scalar("SELECT last_error FROM jobs WHERE kind = 'slack.respond' AND last_error IS NOT NULL")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(!errors.is_empty() && errors.iter().all(|e| e == "response_url failed: HTTP 500"), "{errors:?}");
    app.settle().await;
    assert_no_trace(&app, &hooks).await;
    app.finish().await;
}

#[tokio::test]
async fn an_upload_url_that_fails_leaves_no_trace_of_it_in_the_channel_or_the_timeline() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    let hooks = broken_hooks(false).await;
    app.slack.connect(&app.address, &hooks);

    app.slack.slash(ALICE, &channel, "export md").await.unwrap();
    app.settle().await;

    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let failure = events.iter().find(|e| e.kind == "slack_api_failed").expect("the failed export is in the timeline");
    let error = failure.payload["error"].as_str().unwrap();
    assert!(error.starts_with("file upload failed: error sending request"), "{error}");
    let told =
        app.slack.channel(&channel).unwrap().messages.iter().any(|m| m.blocks.to_string().contains("incident.export"));
    assert!(told, "the channel hears that the export failed");
    assert_no_trace(&app, &hooks).await;
    app.finish().await;
}
