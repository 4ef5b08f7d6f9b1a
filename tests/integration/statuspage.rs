//! The status page follows the incident: opened at declaration, updated, resolved; manual mode
//! waits for a person; drift is repaired. Every request is checked against the API's shapes.

use chrono::Duration;
use warroom::config::{ServiceConfig, Settings, StatuspageMode};
use warroom::incident::Severity;
use warroom::sandbox::statuspage::Incident as PageIncident;

use crate::harness::*;

/// An app whose `inference-gateway` service shows as "ML Inference API" on the status page.
pub async fn gateway_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        let service = ServiceConfig {
            display_name: Some("ML Inference API".into()),
            statuspage_components: vec![GATEWAY_COMPONENT.into()],
            ..Default::default()
        };
        s.file.services.insert("inference-gateway".into(), service);
        configure(s);
    })
    .await
}

/// Declares a P0 on the gateway; returns the incident channel.
pub async fn declared(app: &TestApp) -> String {
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.drain().await;
    app.only_incident().await.channel_id.unwrap()
}

/// `/incident <text>` in the incident channel, then the queue drained.
pub async fn in_channel(app: &TestApp, user: &str, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(user, channel, text).await.unwrap().text();
    app.drain().await;
    reply
}

/// The only incident on the sandbox status page.
pub fn page_incident(app: &TestApp) -> PageIncident {
    let mut all = app.statuspage.incidents();
    assert_eq!(all.len(), 1, "expected exactly one status page incident: {all:#?}");
    all.remove(0)
}

/// The bodies of its updates, oldest first.
pub fn bodies(app: &TestApp) -> Vec<String> {
    page_incident(app).updates.into_iter().map(|u| u.body).collect()
}

/// Every request warroom sent has the shape the Statuspage API documents.
pub fn assert_conforming(app: &TestApp) {
    for request in app.statuspage.requests() {
        assert!(request.violations.is_empty(), "{} {}: {:?}", request.method, request.path, request.violations);
        assert!(request.status != 401, "{} {} was not authenticated", request.method, request.path);
    }
}

/// The channel's message texts (first block), oldest first.
pub fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    let channel = app.slack.channel(channel).unwrap();
    channel.messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or(&m.text).to_string()).collect()
}

#[tokio::test]
async fn declaring_a_p0_opens_the_incident_on_the_status_page() {
    let app = gateway_app(|_| {}).await;

    let channel = declared(&app).await;

    let page = page_incident(&app);
    assert_eq!(page.name, "Major Outage - ML Inference API");
    assert_eq!((page.status.as_str(), page.impact.as_str()), ("investigating", "critical"));
    assert_eq!(page.components[GATEWAY_COMPONENT], "major_outage");
    assert_eq!(app.statuspage.component_status(GATEWAY_COMPONENT).as_deref(), Some("major_outage"));
    let incident = app.only_incident().await;
    assert_eq!(page.metadata["warroom"]["incident_id"], incident.id.to_string());
    assert_eq!(page.metadata["warroom"]["number"], "INC-1");
    let body = &page.updates[0].body;
    assert!(body.starts_with("We are currently experiencing a complete outage of the ML Inference API."), "{body}");
    assert!(body.ends_with("We will provide updates every 5 minutes.\n\nLast Updated: 15:00 UTC"), "{body}");
    // The first push of an incident needs no lookup: one request.
    let requests = app.statuspage.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].method.as_str(), requests[0].status), ("POST", 201));
    let declaration = &texts(&app, &channel)[0];
    let link = format!("<{0}|{1}>", page.shortlink, page.shortlink.trim_start_matches("https://"));
    assert!(declaration.contains(&format!("*Status page:* {link} · synced 15:00 UTC")), "{declaration}");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn updates_and_the_resolution_reach_the_status_page_in_seed_words() {
    let app = gateway_app(|_| {}).await;
    let channel = declared(&app).await;
    app.clock.advance(Duration::minutes(5));

    in_channel(&app, BOB, &channel, r#"update status=identified cause="Memory exhaustion" eta="5-10 minutes""#).await;
    app.clock.advance(Duration::minutes(3));
    let incident = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields {
        root_cause: Some("Memory resource exhaustion".into()),
        ..Default::default()
    };
    let resolution = Some("Increased memory allocation");
    app.resolve_directly(&incident, ALICE, &fields, resolution).await;
    app.drain().await;

    let page = page_incident(&app);
    let statuses: Vec<&str> = page.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["investigating", "identified", "resolved"]);
    let identified = &page.updates[1].body;
    assert!(identified.contains("Status: Identified - Memory exhaustion\nETA: 5-10 minutes\n"), "{identified}");
    assert!(identified.ends_with("Last Updated: 15:05 UTC"), "{identified}");
    let resolved = &page.updates[2].body;
    assert!(
        resolved.starts_with("Resolved - ML Inference API Restored\n\nThe ML Inference API has been fully restored")
    );
    assert!(resolved.contains("Root Cause: Memory resource exhaustion\nResolution: Increased memory allocation\n"));
    assert!(resolved.contains("Duration: 8 minutes (15:00-15:08 UTC)"), "{resolved}");
    assert_eq!(page.status, "resolved");
    assert!(page.resolved_at.is_some());
    assert_eq!(page.components[GATEWAY_COMPONENT], "operational");
    assert_eq!(app.statuspage.component_status(GATEWAY_COMPONENT).as_deref(), Some("operational"));
    let status = in_channel(&app, ALICE, &channel, "status").await;
    assert!(status.contains("*Status page:* <https://stspg.io/") && status.contains("synced 15:08 UTC"), "{status}");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_severity_configured_off_never_reaches_the_status_page() {
    let app = gateway_app(|_| {}).await;

    app.slash(ALICE, "declare P2 inference-gateway Slow predictions").await;
    app.settle().await;

    assert!(app.statuspage.requests().is_empty());
    let incident = app.only_incident().await;
    assert!(!app.timeline(&incident).await.iter().any(|k| k.starts_with("statuspage")));
    app.finish().await;
}

#[tokio::test]
async fn raising_the_severity_to_a_shown_one_opens_the_incident_there() {
    let app = gateway_app(|_| {}).await;
    app.slash(ALICE, "declare P2 inference-gateway Slow predictions").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();

    in_channel(&app, ALICE, &channel, "sev P1").await;

    let page = page_incident(&app);
    assert_eq!((page.status.as_str(), page.impact.as_str()), ("investigating", "major"));
    assert_eq!(page.components[GATEWAY_COMPONENT], "partial_outage");
    assert_eq!(page.name, "Partial Outage - ML Inference API");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn manual_mode_shows_a_preview_and_posts_only_what_a_person_confirms() {
    let app =
        gateway_app(|s| s.file.severity.get_mut(&Severity::P0).unwrap().statuspage = StatuspageMode::Manual).await;
    let channel = declared(&app).await;
    app.clock.advance(Duration::minutes(2));

    in_channel(&app, ALICE, &channel, "update status=identified cause=\"Memory exhaustion\"").await;

    assert_eq!(bodies(&app).len(), 1, "nothing is pushed before someone confirms");
    let preview = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    let shown = preview.blocks[1]["text"]["text"].as_str().unwrap();
    assert!(shown.contains(">Status: Identified - Memory exhaustion"), "{shown}");
    let button = &preview.blocks[2]["elements"][0];
    assert_eq!(button["confirm"]["title"]["text"], "Post to the status page?");

    app.slack.click(BOB, &channel, &preview.ts, "statuspage_post").await.unwrap();
    app.drain().await;
    app.slack.click(ALICE, &channel, &preview.ts, "statuspage_post").await.unwrap();
    app.drain().await;

    let posted = bodies(&app);
    assert_eq!(posted.len(), 2, "posted once, however many clicks");
    assert!(posted[1].contains("Status: Identified - Memory exhaustion"));
    assert_eq!(page_incident(&app).status, "identified");
    let alice = app.slack.ephemerals(ALICE).pop().unwrap().text;
    assert!(alice.contains("<@U0BOB> already posted this update at 15:02 UTC"), "{alice}");

    // The next update is edited before it goes out.
    app.clock.advance(Duration::minutes(1));
    in_channel(&app, ALICE, &channel, "update status=monitoring").await;
    let preview = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    app.slack.click(ALICE, &channel, &preview.ts, "statuspage_edit").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().unwrap();
    assert!(view.view["blocks"][0]["element"]["initial_value"].as_str().unwrap().contains("Status: Monitoring"));
    let edited = [("body", "A fix is in place; we are watching it closely.")];
    app.slack.submit_view(ALICE, &view.id, &edited).await.unwrap();
    app.drain().await;

    let page = page_incident(&app);
    assert_eq!(page.updates.last().unwrap().body, "A fix is in place; we are watching it closely.");
    assert_eq!(page.status, "monitoring");
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let pushed: Vec<&str> =
        events.iter().filter(|e| e.kind == "statuspage_pushed").filter_map(|e| e.payload["by"].as_str()).collect();
    assert_eq!(pushed, [ALICE, BOB, ALICE], "who confirmed each push is recorded");
    assert_conforming(&app);
    app.finish().await;
}

#[tokio::test]
async fn without_a_key_pushes_go_to_the_sandbox_status_page_and_the_timeline_says_so() {
    let app = gateway_app(|s| s.statuspage_api_key = None).await;

    let channel = declared(&app).await;

    assert!(app.statuspage.requests().is_empty(), "the test's status page is not configured");
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let pushed = events.iter().find(|e| e.kind == "statuspage_pushed").expect("pushed to the sandbox");
    assert_eq!(pushed.payload["sandbox"], true);
    let declaration = &texts(&app, &channel)[0];
    assert!(declaration.contains("synced 15:00 UTC (sandbox status page)"), "{declaration}");
    app.finish().await;
}

#[tokio::test]
async fn drift_on_the_status_page_is_repaired_and_told() {
    let app = gateway_app(|_| {}).await;
    let channel = declared(&app).await;
    let id = page_incident(&app).id;

    // Someone resolves it by hand on the status page while it is still open here.
    app.statuspage.set_status_by_hand(&id, "resolved");
    warroom::statuspage::reconcile::schedule(&app.state).await.unwrap();
    app.clock.advance(Duration::seconds(15));
    app.drain().await;
    // The repair waits for the request budget (the reconciliation just spent it).
    app.clock.advance(Duration::seconds(1));
    app.drain().await;

    assert_eq!(page_incident(&app).status, "investigating");
    assert!(texts(&app, &channel).iter().any(|t| t.contains("Status page drift on INC-1: resolved or removed")));

    // Resolved here, then reopened by hand there: resolved again.
    let incident = app.only_incident().await;
    let fields = Default::default();
    app.resolve_directly(&incident, ALICE, &fields, None).await;
    app.clock.advance(Duration::seconds(1));
    app.drain().await;
    assert_eq!(page_incident(&app).status, "resolved");
    app.statuspage.set_status_by_hand(&id, "investigating");
    app.clock.advance(Duration::minutes(5));
    app.drain().await;
    app.clock.advance(Duration::seconds(1));
    app.drain().await;

    assert_eq!(page_incident(&app).status, "resolved");
    assert!(texts(&app, &channel).iter().any(|t| t.contains("open on the status page but resolved in warroom")));
    assert_eq!(app.timeline(&incident).await.iter().filter(|k| *k == "statuspage_drift").count(), 2);
    assert_conforming(&app);
    app.finish().await;
}
