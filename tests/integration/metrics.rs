//! `GET /metrics`: a real incident driven through Slack, then the exposition read over HTTP.

use chrono::Duration;
use warroom::jobs::kind;
use warroom::sandbox::Fault;

use crate::harness::*;

/// The exposition, as Prometheus would scrape it.
pub async fn scrape(app: &TestApp) -> String {
    let response = warroom::tls::http_client().get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

/// Asserts that `sample` (name, labels and value) is one line of `exposition`.
pub fn assert_sample(exposition: &str, sample: &str) {
    assert!(exposition.lines().any(|l| l == sample), "no `{sample}` in:\n{exposition}");
}

#[tokio::test]
async fn an_incident_from_declaration_to_resolution_is_counted() {
    let app = spawn_app().await;
    app.slack.inject("chat.postMessage", Fault::RateLimited { retry_after_secs: 7 }, 1);

    app.slash(ALICE, "declare P0 api Everything 500s").await;
    let declared = scrape(&app).await;
    app.drain().await;
    app.clock.advance(Duration::seconds(7));
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    let ts = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.clock.advance(Duration::seconds(128));
    app.slack.click(BOB, &channel, &ts, "incident.acknowledge").await.unwrap();
    app.drain().await;
    app.clock.set(start_time() + Duration::minutes(8));
    app.slack.click(ALICE, &channel, &ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    let values = [("cause", "OOM kill"), ("resolution", "Raised the limit"), ("impact", "errors")];
    app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    app.settle().await;
    let resolved = scrape(&app).await;

    assert_sample(&declared, "warroom_incidents_open{severity=\"P0\"} 1");
    assert_sample(&declared, &format!("warroom_job_queue_depth{{kind=\"{}\"}} 1", kind::CREATE_CHANNEL));
    assert_sample(&resolved, "warroom_declarations_total{severity=\"P0\",via=\"slash_command\"} 1");
    assert_sample(&resolved, "warroom_incidents_open{severity=\"P0\"} 0");
    // Acknowledged after 2m 15s: not within 2 minutes, within 5.
    assert_sample(&resolved, "warroom_time_to_acknowledge_seconds_bucket{severity=\"P0\",le=\"120\"} 0");
    assert_sample(&resolved, "warroom_time_to_acknowledge_seconds_bucket{severity=\"P0\",le=\"300\"} 1");
    assert_sample(&resolved, "warroom_time_to_acknowledge_seconds_sum{severity=\"P0\"} 135");
    assert_sample(&resolved, "warroom_time_to_acknowledge_seconds_count{severity=\"P0\"} 1");
    assert_sample(&resolved, "warroom_time_to_resolve_seconds_bucket{severity=\"P0\",le=\"600\"} 1");
    assert_sample(&resolved, "warroom_time_to_resolve_seconds_count{severity=\"P0\"} 1");
    assert_sample(&resolved, "warroom_slack_api_calls_total{method=\"chat.postMessage\",outcome=\"ratelimited\"} 1");
    assert_sample(&resolved, "warroom_slack_api_calls_total{method=\"conversations.create\",outcome=\"ok\"} 1");
    assert_sample(&resolved, &format!("warroom_jobs_total{{kind=\"{}\",outcome=\"done\"}} 1", kind::CREATE_CHANNEL));
    let retried =
        |l: &str| l.starts_with("warroom_jobs_total{kind=\"incident.") && l.ends_with("outcome=\"throttled\"} 1");
    assert_eq!(
        resolved.lines().filter(|l| retried(l)).count(),
        1,
        "the throttled post was put back once (no attempt used)"
    );
    // Two clicks and the modal's submission.
    let interactions = "warroom_http_request_duration_seconds_count{method=\"POST\",route=\"/slack/interactions\",\
                        status=\"2xx\"} 3";
    assert_sample(&resolved, interactions);
    app.finish().await;
}

#[tokio::test]
async fn queue_lag_is_how_long_the_oldest_due_job_has_waited() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P1 api Slow pages").await;
    app.clock.advance(Duration::seconds(90));

    let exposition = scrape(&app).await;

    assert_sample(&exposition, &format!("warroom_job_queue_lag_seconds{{kind=\"{}\"}} 90", kind::CREATE_CHANNEL));
    assert_sample(&exposition, "warroom_incidents_open{severity=\"P1\"} 1");
    assert_sample(&exposition, "warroom_database_up 1");
    app.settle().await;
    app.finish().await;
}

#[tokio::test]
async fn unmatched_paths_share_one_route_label() {
    let app = spawn_app().await;
    for path in ["/no/such/page", "/another/one"] {
        let response = warroom::tls::http_client().get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }

    let exposition = scrape(&app).await;

    let line = "warroom_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"4xx\"} 2";
    assert_sample(&exposition, line);
    assert!(!exposition.contains("/no/such/page"));
    app.finish().await;
}

#[tokio::test]
async fn a_throttled_status_page_push_is_counted_then_its_retry() {
    let app = crate::statuspage::gateway_app(|_| {}).await;
    app.statuspage.fail_next(1, warroom::sandbox::statuspage::Fault::RateLimited { retry_after_secs: 5 });

    crate::statuspage::declared(&app).await;
    app.settle().await;
    let exposition = scrape(&app).await;

    assert_sample(&exposition, "warroom_statuspage_requests_total{operation=\"create\",outcome=\"ratelimited\"} 1");
    assert_sample(&exposition, "warroom_statuspage_requests_total{operation=\"create\",outcome=\"ok\"} 1");
    assert_sample(&exposition, "warroom_declarations_total{severity=\"P0\",via=\"slash_command\"} 1");
    app.finish().await;
}
