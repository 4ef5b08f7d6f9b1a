//! Alertmanager (webhook version 4) and Grafana (unified alerting, version 1) notifications
//! over real HTTP: one incident per alert group however often it is resent, new alerts in the
//! timeline, the resolved prompt, and bad input refused.

use crate::api::{post, send, Answer};
use crate::harness::*;
use serde_json::{json, Value};
use warroom::sandbox::BOT_USER;

const GROUP: &str = "{}/{severity=\"page\"}:{alertname=\"ServiceDown\"}";
const RUNBOOK: &str = "https://runbooks.example.com/inference-gateway?section=down&v=2";

/// One alert as Alertmanager sends it.
fn alert(fingerprint: &str, job: &str, status: &str) -> Value {
    json!({
        "status": status,
        "labels": { "alertname": "ServiceDown", "job": job, "instance": format!("{job}:8000"), "severity": "page" },
        "annotations": { "summary": format!("{job} is down"), "description": format!("up{{job=\"{job}\"}} == 0 for 1m"),
                         "runbook_url": RUNBOOK },
        "startsAt": "2026-11-23T14:58:30.512Z",
        "endsAt": if status == "resolved" { "2026-11-23T15:20:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": format!("http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22{job}%22%7D+%3D%3D+0"),
        "fingerprint": fingerprint,
    })
}

/// Alertmanager's webhook body (version 4) for the group `GROUP`.
fn alertmanager(status: &str, alerts: Vec<Value>) -> Value {
    json!({
        "version": "4",
        "groupKey": GROUP,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "warroom",
        "groupLabels": { "alertname": "ServiceDown" },
        "commonLabels": { "alertname": "ServiceDown", "severity": "page" },
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    })
}

async fn notify(app: &TestApp, body: &Value) -> Answer {
    post(app, "/webhooks/alertmanager", body, &[]).await
}

async fn events(app: &TestApp, kind: &str) -> Vec<warroom::timeline::Event> {
    let incident = app.only_incident().await;
    let all = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).collect()
}

#[tokio::test]
async fn a_firing_alertmanager_group_declares_one_incident_with_its_runbook() {
    let app = spawn_app().await;

    let answer = notify(&app, &alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")])).await;

    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!((answer.json["incident"].as_str(), answer.json["created"].as_bool()), (Some("INC-1"), Some(true)));
    assert_eq!(answer.json["new_alerts"], 1);
    let incident = app.only_incident().await;
    assert_eq!((incident.service.as_str(), incident.severity.as_str()), ("inference-gateway", "P0"));
    assert_eq!(incident.title, "inference-gateway is down");
    assert_eq!(incident.detected_at.unwrap().to_rfc3339(), "2026-11-23T14:58:30.512+00:00");
    assert_eq!(incident.declared_by, "alertmanager");
    assert_eq!(incident.commander, BOT_USER, "no commander configured: warroom holds it");
    assert_eq!(incident.runbook_url.as_deref(), Some(RUNBOOK));

    app.drain().await;
    let channel = app.slack.channel("inc-1-inference-gateway").expect("the incident channel exists");
    let text = channel.messages[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("*Runbook:* https://runbooks.example.com/inference-gateway?section=down&amp;v=2"), "{text}");
    assert!(text.contains("*Incident Commander:* unassigned"), "{text}");
    assert_eq!(channel.messages[0].blocks[2]["elements"][0]["text"], "INC-1 · declared by alertmanager");
    assert_eq!(app.slack.channel("incidents").unwrap().messages.len(), 1, "announced");
    let received = events(&app, "alert_received").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].actor, "alertmanager");
    assert_eq!(received[0].payload["labels"]["job"], "inference-gateway");
    assert_eq!(received[0].payload["starts_at"], "2026-11-23T14:58:30.512Z");
    assert!(received[0].payload["generator_url"].as_str().unwrap().starts_with("http://prometheus:9090/graph"));
    assert!(events(&app, "slack_api_failed").await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn the_same_group_resent_five_times_is_still_one_incident() {
    let app = spawn_app().await;
    let body = alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")]);
    notify(&app, &body).await;
    app.drain().await;

    for _ in 0..5 {
        app.clock.advance(chrono::Duration::hours(4)); // Alertmanager's repeat_interval
        let answer = notify(&app, &body).await;
        assert_eq!(answer.status, 200);
        assert_eq!((answer.json["created"].as_bool(), answer.json["new_alerts"].as_u64()), (Some(false), Some(0)));
        assert_eq!(answer.json["incident"], "INC-1");
    }
    app.drain().await;

    assert_eq!(app.incidents().await.len(), 1);
    assert_eq!(events(&app, "alert_received").await.len(), 1, "a resend adds nothing");
    let channel = app.slack.channel("inc-1-inference-gateway").unwrap();
    assert_eq!(channel.messages.iter().filter(|m| m.text.contains("more alert")).count(), 0);
    app.finish().await;
}

#[tokio::test]
async fn a_new_alert_in_the_group_goes_to_the_timeline_and_the_channel() {
    let app = spawn_app().await;
    notify(&app, &alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")])).await;
    app.drain().await;

    let both = vec![alert("fp-gw", "inference-gateway", "firing"), alert("fp-redis", "redis", "firing")];
    let answer = notify(&app, &alertmanager("firing", both)).await;
    app.drain().await;

    assert_eq!((answer.json["created"].as_bool(), answer.json["new_alerts"].as_u64()), (Some(false), Some(1)));
    let received = events(&app, "alert_received").await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].payload["fingerprint"], "fp-redis");
    assert_eq!(received[1].payload["labels"]["job"], "redis");
    let channel = app.slack.channel("inc-1-inference-gateway").unwrap();
    let post = channel.messages.iter().find(|m| m.text.contains("more alert")).expect("the channel hears of it");
    let text = post.blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("1 more alert firing in INC-1's Alertmanager group"), "{text}");
    assert!(text.contains("`ServiceDown` instance=redis:8000, job=redis, severity=page — redis is down"), "{text}");
    let line = warroom::timeline::describe::line(&received[1]);
    assert!(line.contains("alertmanager · alert firing: `ServiceDown`"), "{line}");
    app.finish().await;
}

#[tokio::test]
async fn a_resolved_group_asks_once_whether_to_resolve_and_the_button_opens_the_resolve_modal() {
    let app = spawn_app_with(|s| s.file.alerts.commander = Some(ALICE.into())).await;
    notify(&app, &alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")])).await;
    app.drain().await;

    let resolved = alertmanager("resolved", vec![alert("fp-gw", "inference-gateway", "resolved")]);
    let first = notify(&app, &resolved).await;
    let again = notify(&app, &resolved).await;
    app.drain().await;

    assert_eq!(first.json["resolution"], "prompted", "{}", first.json);
    assert_eq!((first.json["resolved_alerts"].as_u64(), first.json["group"].as_str()), (Some(1), Some("resolved")));
    assert_eq!(again.json["resolution"], Value::Null, "the same resolution is acted on once");
    let incident = app.only_incident().await;
    assert!(!incident.is_resolved(), "a person decides");
    assert_eq!(incident.commander, ALICE);
    let resolved_events = events(&app, "alert_resolved").await;
    assert_eq!(resolved_events.len(), 1);
    assert_eq!(resolved_events[0].payload["group_resolved"], true);
    let channel = app.slack.channel("inc-1-inference-gateway").unwrap();
    let prompts: Vec<_> = channel.messages.iter().filter(|m| m.text.contains("Alert resolved")).collect();
    assert_eq!(prompts.len(), 1);
    let text = prompts[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("*Alert resolved — resolve the incident?*"), "{text}");
    assert_eq!(prompts[0].blocks[1]["elements"][0]["value"], incident.id.to_string());

    app.slack.click(ALICE, &channel.id, &prompts[0].ts, "incident.resolve").await.unwrap();
    app.drain().await;
    let views = app.slack.views();
    assert_eq!(views.len(), 1, "the resolve modal opened");
    assert_eq!(views[0].view["callback_id"], "incident.resolve");
    app.finish().await;
}

#[tokio::test]
async fn with_auto_resolve_a_resolved_group_resolves_the_incident() {
    let app = spawn_app_with(|s| s.file.alerts.auto_resolve = true).await;
    notify(&app, &alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")])).await;
    app.drain().await;

    let answer = notify(&app, &alertmanager("resolved", vec![alert("fp-gw", "inference-gateway", "resolved")])).await;
    app.settle().await;

    assert_eq!(answer.json["resolution"], "auto_resolved");
    let incident = app.only_incident().await;
    assert!(incident.is_resolved());
    assert_eq!(incident.resolved_by.as_deref(), Some("alertmanager"));
    let channel = app.slack.channel("inc-1-inference-gateway").unwrap();
    let posted = channel.messages.iter().find(|m| m.text.contains("RESOLVED")).expect("the resolution is posted");
    let text = posted.blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("*Resolved by:* alertmanager"), "{text}");
    app.finish().await;
}

#[tokio::test]
async fn a_group_no_rule_matches_is_accepted_and_declares_nothing() {
    let app = spawn_app().await;
    let mut disk = alert("fp-disk", "node", "firing");
    disk["labels"]["alertname"] = json!("DiskAlmostFull");

    let answer = notify(&app, &alertmanager("firing", vec![disk])).await;
    let unknown_resolved = notify(&app, &alertmanager("resolved", vec![alert("fp-x", "api", "resolved")])).await;

    assert_eq!(answer.status, 202);
    assert_eq!(answer.json, json!({ "declared": false, "reason": "no rule matches" }));
    assert_eq!(unknown_resolved.status, 202);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_grafana_notification_declares_once_and_resolves_by_state() {
    let app = spawn_app().await;
    let grafana = |status: &str, state: &str| {
        json!({
            "receiver": "warroom", "status": status, "orgId": 1,
            "alerts": [{
                "status": status,
                "labels": { "alertname": "ServiceDown", "job": "pynomaly", "grafana_folder": "SRE" },
                "annotations": { "summary": "Pynomaly API is down", "runbook_url": "https://wiki.example.com/pynomaly" },
                "startsAt": "2026-11-23T16:58:00+02:00", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.com/alerting/grafana/abc123/view",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana",
                "dashboardURL": "", "panelURL": "", "values": { "B": 0, "C": 1 },
                "valueString": "[ var='B' labels={job=pynomaly} value=0 ]"
            }],
            "groupLabels": { "alertname": "ServiceDown" }, "commonLabels": { "alertname": "ServiceDown" },
            "commonAnnotations": {}, "externalURL": "https://grafana.example.com/", "version": "1",
            "groupKey": "{}/{__grafana_autogenerated__=\"true\"}:{alertname=\"ServiceDown\"}",
            "truncatedAlerts": 0, "title": "[FIRING:1] ServiceDown (pynomaly)", "state": state,
            "message": "**Firing**\n\nValue: B=0\nLabels:\n - alertname = ServiceDown\n"
        })
    };

    let first = post(&app, "/webhooks/grafana", &grafana("firing", "alerting"), &[]).await;
    let resent = post(&app, "/webhooks/grafana", &grafana("firing", "alerting"), &[]).await;
    let resolved = post(&app, "/webhooks/grafana", &grafana("resolved", "ok"), &[]).await;
    app.drain().await;

    assert_eq!((first.status, first.json["created"].as_bool()), (200, Some(true)), "{}", first.json);
    assert_eq!((resent.json["created"].as_bool(), resent.json["new_alerts"].as_u64()), (Some(false), Some(0)));
    assert_eq!(resolved.json["resolution"], "prompted");
    let incident = app.only_incident().await;
    assert_eq!((incident.service.as_str(), incident.declared_by.as_str()), ("pynomaly", "grafana"));
    assert_eq!(incident.detected_at.unwrap().to_rfc3339(), "2026-11-23T14:58:00+00:00");
    assert_eq!(incident.runbook_url.as_deref(), Some("https://wiki.example.com/pynomaly"));
    let channel = app.slack.channel("inc-1-pynomaly").unwrap();
    assert!(channel.messages.iter().any(|m| m.text.contains("Alert resolved")));
    app.finish().await;
}

#[tokio::test]
async fn bad_tokens_bad_json_and_unusable_alerts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let body = alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")]).to_string().into_bytes();

    let missing = send(&app, "POST", "/webhooks/alertmanager", None, &[], body.clone()).await;
    let wrong = send(&app, "POST", "/webhooks/grafana", Some("guess"), &[], body.clone()).await;
    let malformed =
        send(&app, "POST", "/webhooks/alertmanager", Some(API_TOKEN), &[], b"{\"version\": \"4\",".to_vec()).await;
    let mut no_job = alert("fp-nojob", "x", "firing");
    no_job["labels"].as_object_mut().unwrap().remove("job");
    let unusable = notify(&app, &alertmanager("firing", vec![no_job])).await;
    let mut old = alertmanager("firing", vec![alert("fp-gw", "inference-gateway", "firing")]);
    old["version"] = json!("3");
    let old_version = notify(&app, &old).await;
    let huge = send(&app, "POST", "/webhooks/alertmanager", Some(API_TOKEN), &[], vec![b' '; 1024 * 1024 + 1]).await;

    assert_eq!((missing.status, wrong.status), (401, 401));
    assert_eq!(malformed.status, 422);
    assert!(malformed.json["error"].as_str().unwrap().starts_with("malformed JSON"), "{}", malformed.json);
    assert_eq!(unusable.status, 422);
    assert!(unusable.json["error"].as_str().unwrap().contains("no `job` label"), "{}", unusable.json);
    assert_eq!(old_version.status, 422);
    assert_eq!(huge.status, 413);
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}
