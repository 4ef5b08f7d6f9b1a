//! The post-incident report: a whole incident — declare, updates, a pinned message, a
//! diagnostic, an approved restart, an escalation with a page, a status page push, action items,
//! resolve — exported as Markdown (against a committed expected file), JSON (against its schema)
//! and CSV (RFC 4180), the same bytes through Slack, the API's writer and the CLI.

use chrono::Duration;
use warroom::config::EscalationTier;
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::timeline::export::{self, Format, Source};

use crate::diagnostics::app_with_service_and;
use crate::harness::*;

const EXPECTED: &str = "tests/expected/postmortem.md";

async fn at(app: &TestApp, minutes: i64) {
    app.clock.set(start_time() + Duration::minutes(minutes));
    app.drain().await;
}

async fn say(app: &TestApp, user: &str, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(user, channel, text).await.unwrap().text();
    app.drain().await;
    reply
}

/// The report of the only incident, written directly.
pub async fn report(app: &TestApp, format: Format) -> Vec<u8> {
    let incident = app.only_incident().await;
    let statuspage = warroom::statuspage::link(&app.db, incident.id).await.unwrap();
    let state = &app.state;
    let source = Source {
        db: &app.db,
        templates: &state.templates,
        config: &state.settings.file,
        incident: &incident,
        statuspage,
    };
    let mut out = Vec::new();
    export::write(&source, format, &mut out).await.unwrap();
    out
}

/// Walks a whole incident; returns the app and its channel.
async fn whole_incident() -> (TestApp, String) {
    let (app, channel) = app_with_service_and(&[("container", "ctr-export")], |s| {
        s.file.approvals.approvers = vec![CAROL.into()];
        let tier = EscalationTier {
            after: HumanDuration(std::time::Duration::from_secs(15 * 60)),
            notify: vec![BOB.into()],
            pagerduty: true,
        };
        s.file.escalation.insert(Severity::P0, vec![tier]);
        let api = s.file.services.get_mut("api").unwrap();
        api.statuspage_components = vec![GATEWAY_COMPONENT.into()];
        api.display_name = Some("Public API".into());
        api.owner = Some(BOB.into());
    })
    .await;
    let incident = app.only_incident().await;
    at(&app, 1).await;
    app.slack.click(BOB, &channel, incident.declaration_ts.as_deref().unwrap(), "incident.acknowledge").await.unwrap();
    app.drain().await;

    at(&app, 2).await;
    say(
        &app,
        ALICE,
        &channel,
        r#"update status=identified cause="OOM kill (exit 137)" action="Raising memory to 4G" eta="3 min""#,
    )
    .await;

    at(&app, 3).await;
    let ts = app.slack.say(BOB, &channel, "Memory graph: a leak since v1.2.3, deployed 14:40 | heap x3").unwrap();
    let (event_id, _) = app.slack.react(CAROL, &channel, &ts, "pushpin").await.unwrap();
    app.slack.pin_by(ALICE, &channel, &ts).await.unwrap();
    let retry = serde_json::json!({ "type": "reaction_added", "user": CAROL, "reaction": "pushpin",
                                    "item": { "type": "message", "channel": channel, "ts": ts } });
    app.slack.deliver_event(&retry, &event_id).await.unwrap();
    app.drain().await;
    app.slack.edit(&channel, &ts, "(edited away)").unwrap();
    say(&app, BOB, &channel, "note He said \"it's fine\", then\nit wasn't").await;

    at(&app, 4).await;
    say(&app, BOB, &channel, "run docker.exit_code").await;
    at(&app, 5).await;
    say(&app, BOB, &channel, r#"run docker.restart reason="crash loop after the deploy""#).await;
    let approval = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    app.slack.click(CAROL, &channel, &approval.ts, "approval.approve").await.unwrap();
    app.drain().await;

    at(&app, 15).await;
    at(&app, 20).await;
    say(&app, ALICE, &channel, "followup Add a memory alert at 85% <@U0BOB|bob> immediate").await;
    say(&app, ALICE, &channel, "followup Fix the leak in v1.2.3 @U0CAROL short").await;
    say(&app, ALICE, &channel, "followup Multi-region failover long").await;

    at(&app, 25).await;
    let incident = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields {
        root_cause: Some("Memory leak in v1.2.3, OOM-killed at the 2G limit".into()),
        impact: Some("All API requests failed for 25 minutes".into()),
        ..Default::default()
    };
    let resolution = Some("Raised the limit to 4G and restarted; v1.2.4 fixes the leak");
    app.resolve_directly(&incident, ALICE, &fields, resolution).await;
    app.settle().await;
    (app, channel)
}

#[tokio::test]
async fn a_whole_incident_exports_as_the_expected_markdown() {
    let (app, _) = whole_incident().await;

    let markdown = String::from_utf8(report(&app, Format::Markdown).await).unwrap();

    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::write(EXPECTED, &markdown).unwrap();
    }
    let expected = std::fs::read_to_string(EXPECTED).expect("the expected report (UPDATE_EXPECTED=1 writes it)");
    for (n, (got, want)) in markdown.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the report differs from {EXPECTED}", n + 1);
    }
    assert_eq!(markdown.lines().count(), expected.lines().count(), "the report's length differs from {EXPECTED}");
    app.finish().await;
}

#[tokio::test]
async fn the_json_report_follows_its_schema_and_holds_the_whole_record() {
    let (app, _) = whole_incident().await;

    let json: serde_json::Value = serde_json::from_slice(&report(&app, Format::Json).await).expect("valid JSON");

    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("specs/incident-report.v1.schema.json").unwrap()).unwrap();
    warroom::statuspage::schema::check_against(&schema, &json).expect("the report follows its schema");
    assert_eq!(json["schema"], "warroom.incident-report/v1");
    assert_eq!(json["incident"]["number"], "INC-1");
    assert_eq!(json["incident"]["in_progress"], false);
    assert_eq!(json["incident"]["statuspage"], "https://stspg.io/sbx000000001");
    assert_eq!(json["metrics"]["time_to_acknowledge_secs"], 60);
    assert_eq!(json["metrics"]["time_to_resolve_secs"], 1500);
    let timeline = json["timeline"].as_array().unwrap();
    let incident = app.only_incident().await;
    assert_eq!(timeline.len(), warroom::timeline::list(&app.db, incident.id).await.unwrap().len());
    let kinds: Vec<&str> = timeline.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "declared",
        "acknowledged",
        "updated",
        "message_captured",
        "diagnostic_finished",
        "approval_granted",
        "escalated",
        "paged",
        "statuspage_pushed",
        "followup_added",
        "resolved",
    ] {
        assert!(kinds.contains(&kind), "the timeline has {kind}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "message_captured").count(), 1, "pinned and 📌: captured once");
    let captured = timeline.iter().find(|e| e["kind"] == "message_captured").unwrap();
    assert_eq!(captured["payload"]["text"], "Memory graph: a leak since v1.2.3, deployed 14:40 | heap x3");
    assert_eq!((captured["actor"].as_str(), captured["at"].as_str()), (Some(BOB), Some("2026-11-23T15:03:00.000001Z")));
    app.finish().await;
}

#[tokio::test]
async fn the_csv_report_is_the_timeline_one_event_a_row_with_rfc_4180_quoting() {
    let (app, _) = whole_incident().await;

    let csv = String::from_utf8(report(&app, Format::Csv).await).unwrap();

    let rows = parse_csv(&csv);
    assert_eq!(rows[0], ["time_utc", "minutes_since_declared", "actor", "kind", "description", "details"]);
    let incident = app.only_incident().await;
    assert_eq!(rows.len() - 1, warroom::timeline::list(&app.db, incident.id).await.unwrap().len());
    assert!(rows.iter().all(|r| r.len() == 6), "every row has six fields");
    let note = rows.iter().find(|r| r[3] == "note").unwrap();
    assert_eq!(note[4], "note: He said \"it's fine\", then\nit wasn't");
    assert_eq!((note[0].as_str(), note[1].as_str(), note[2].as_str()), ("2026-11-23T15:03:00Z", "3", BOB));
    assert!(csv.contains("\"note: He said \"\"it's fine\"\", then\nit wasn't\""), "quotes doubled, the field quoted");
    app.finish().await;
}

#[tokio::test]
async fn export_uploads_the_same_bytes_to_the_channel_and_the_cli_prints_them() {
    let (app, channel) = whole_incident().await;
    let direct = report(&app, Format::Csv).await;

    let reply = say(&app, BOB, &channel, "export csv").await;

    assert!(reply.contains("Writing the csv report of INC-1"), "{reply}");
    let shared = app.slack.channel(&channel).unwrap().messages.into_iter().flat_map(|m| m.files).last().unwrap();
    assert_eq!(shared.name, "INC-1-api-postmortem.csv");
    assert!(shared.completed, "uploaded in three steps");
    assert_eq!(shared.content, direct, "the file holds the report");
    // The export itself is now on the timeline; the CLI shows it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["export", "INC-1", "--format", "md"])
        .env_clear()
        .env("DATABASE_URL", app.database_url())
        .env("WARROOM_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, report(&app, Format::Markdown).await, "the CLI prints the same bytes");
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["export", "INC-99", "--format", "pdf"])
        .env_clear()
        .env("DATABASE_URL", app.database_url())
        .env("WARROOM_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("unknown format `pdf`: use md, json or csv"));
    app.finish().await;
}

#[tokio::test]
async fn an_open_incident_exports_marked_in_progress_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();

    let markdown = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    assert!(markdown.starts_with("# INC-1: Everything 500s (in progress)\n"), "{markdown}");
    assert!(markdown.contains("| Status | investigating (in progress) |"));

    let reply = say(&app, ALICE, &channel, "export pdf").await;
    assert!(reply.contains("unknown format `pdf`: use md, json or csv"), "{reply}");
    let reply = app.slash(ALICE, "export INC-7").await.text();
    assert!(reply.contains("There is no incident INC-7"), "{reply}");
    app.finish().await;
}

/// RFC 4180: fields separated by commas, rows by CRLF, quoted fields with doubled quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn the_api_serves_the_same_report_and_the_timeline() {
    let (app, _) = whole_incident().await;
    let client = warroom::tls::http_client();
    let get = |path: &str| client.get(format!("{}{path}", app.address)).bearer_auth(API_TOKEN).send();

    for format in [Format::Markdown, Format::Json, Format::Csv] {
        let answer = get(&format!("/api/v1/incidents/INC-1/export?format={}", format.extension())).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], format.content_type());
        assert_eq!(answer.bytes().await.unwrap().to_vec(), report(&app, format).await, "{format:?}: the same bytes");
    }
    let timeline: serde_json::Value = get("/api/v1/incidents/1/timeline?limit=3").await.unwrap().json().await.unwrap();
    assert_eq!(timeline["count"], 3);
    assert_eq!(timeline["events"][0]["kind"], "declared");

    assert_eq!(get("/api/v1/incidents/INC-1/export?format=pdf").await.unwrap().status(), 422);
    assert_eq!(get("/api/v1/incidents/INC-9/export").await.unwrap().status(), 404);
    let anonymous = client.get(format!("{}/api/v1/incidents/INC-1/export", app.address)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    app.finish().await;
}
