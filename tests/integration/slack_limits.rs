//! Slack's limits, checked on everything warroom sends: each template, each diagnostics output
//! size, the longest runbook checklists, a 200-event timeline, a declare modal of 100 and 150
//! services. The sandbox refuses what Slack refuses (`invalid_blocks`, `msg_too_long`); every
//! test here asserts it refused nothing, and that what did not fit was split or shared with a
//! marker rather than cut.

use std::path::PathBuf;

use serde_json::{json, Value};
use warroom::config::{FileConfig, ServiceConfig, Settings};
use warroom::sandbox::block_kit;

use crate::harness::*;
use crate::runbook_checklist::{declared, AWS, GATEWAY};

/// The example config's services and escalation ladders (what a real deployment starts from).
fn example(s: &mut Settings) {
    let file =
        FileConfig::parse(std::path::Path::new("warroom.example.toml"), include_str!("../../warroom.example.toml"))
            .unwrap();
    s.file.services.extend(file.services);
    s.file.escalation = file.escalation;
}

/// Nothing warroom sent was refused for Slack's limits, and what the sandbox holds (messages,
/// ephemerals, modals) is within them by the sandbox's own check.
fn assert_all_accepted(app: &TestApp) {
    let refused: Vec<_> = app
        .slack
        .call_log()
        .into_iter()
        .filter(|c| matches!(c.error.as_deref(), Some("invalid_blocks" | "msg_too_long")))
        .map(|c| (c.method, c.error, c.errors))
        .collect();
    assert!(refused.is_empty(), "the sandbox refused: {refused:?}");
    for channel in app.slack.channels() {
        for m in &channel.messages {
            assert!(block_kit::problems(&m.blocks).is_empty(), "{:?}", m.blocks);
            assert!(block_kit::text_problem(&json!(m.text)).is_none());
        }
    }
    for view in app.slack.views() {
        assert!(block_kit::view_problems(&view.view).is_empty(), "{:?}", view.view);
    }
}

fn all_text(app: &TestApp, channel: &str) -> String {
    app.slack.channel(channel).unwrap().messages.iter().map(|m| m.blocks.to_string()).collect()
}

#[tokio::test]
async fn every_lifecycle_message_and_modal_is_accepted() {
    let app = spawn_app_with(example).await;
    let long = "x".repeat(190);
    app.slash(ALICE, &format!("declare P0 inference-gateway {long}")).await;
    app.drain().await;
    let incident = app.only_incident().await;
    let channel = incident.channel_id.clone().unwrap();
    app.slack.join(BOB, &channel).await.unwrap();

    // The update modal, filled to each field's bound, then the scheduled update and status.
    app.slack.slash(ALICE, &channel, "update").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().unwrap();
    let field = "é&<".repeat(166);
    let values = [
        ("status", "identified"),
        ("status_text", &field[..]),
        ("cause", &field),
        ("action", &field),
        ("eta", &field),
        ("impact", &field),
    ];
    let reply = app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    assert!(reply.json().is_null() || reply.json()["response_action"] != "errors", "{:?}", reply.json());
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(16));
    app.drain().await;
    for command in ["status", "summary", "diagnostics", "escalate the gateway is still down", "timeline"] {
        let reply = app.slack.slash(ALICE, &channel, command).await.unwrap();
        assert!(block_kit::text_problem(&json!(reply.text())).is_none(), "{command}");
        assert!(block_kit::problems(&reply.json()["blocks"]).is_empty(), "{command}");
        app.drain().await;
    }
    // The resolve modal, the resolution, the validation checklist.
    app.slack.slash(ALICE, &channel, "resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().unwrap();
    app.slack.submit_view(ALICE, &view.id, &[("cause", &field), ("resolution", &field)]).await.unwrap();
    app.drain().await;

    // The declare modal, with the example's services to pick from.
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let declare = app.slack.views().pop().unwrap().view;
    assert!(options(&declare) >= 5, "the example's services are listed");

    let text = all_text(&app, &channel);
    assert!(text.contains("RESOLVED"), "the resolution was posted");
    assert!(app.slack.views().len() >= 3, "declare/update/resolve modals opened");
    assert_all_accepted(&app);
    app.finish().await;
}

/// A shim directory whose `journalctl` prints `output` (a shell command).
fn journal_shim(name: &str, output: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-limits-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journalctl");
    std::fs::write(&path, format!("#!/bin/sh\n{output}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn diagnostics_output_of_every_size_is_accepted() {
    let sizes = [
        ("empty", "true", 0),
        ("one-line", "echo 'api[811]: connection refused'", 1),
        ("over-3000", "yes 'api[811]: error: connection to db:5432 refused & <retrying>' | head -c 3500", 3500),
        ("64k", "head -c 65536 /dev/zero | tr '\\0' 'x'", 65536),
    ];
    for (name, output, bytes) in sizes {
        let dir = journal_shim(name, output);
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
        let service = ServiceConfig {
            packs: vec!["systemd".into()],
            params: [("unit".to_string(), "api".to_string())].into(),
            ..Default::default()
        };
        let app = spawn_app_with(move |s| {
            s.file.services.insert("api".into(), service);
            s.diagnostics_path = Some(path);
        })
        .await;
        app.slash(ALICE, "declare P0 api Everything 500s").await;
        app.drain().await;
        let channel = app.only_incident().await.channel_id.unwrap();
        app.slack.join(BOB, &channel).await.unwrap();
        app.slack.slash(BOB, &channel, "run systemd.journal").await.unwrap();
        app.drain().await;

        let messages = app.slack.channel(&channel).unwrap().messages;
        let post = messages.iter().rev().find(|m| m.blocks.to_string().contains("systemd.journal")).unwrap();
        let shared = messages.iter().find(|m| !m.files.is_empty());
        if bytes > 2800 {
            assert!(post.blocks.to_string().contains("it follows as a file"), "{name}: marked");
            let file = &shared.expect("the long output is shared as a file").files[0];
            assert!(file.content.len() >= 2800, "{name}: {} bytes shared", file.content.len());
        } else {
            assert!(shared.is_none(), "{name}: short output stays in the message");
        }
        assert_all_accepted(&app);
        app.finish().await;
    }
}

#[tokio::test]
async fn the_longest_runbook_checklists_are_accepted() {
    for seed in [&AWS, &GATEWAY] {
        let (app, channel) = declared(seed, |_| {}).await;
        app.slack.slash(ALICE, &channel, "runbook").await.unwrap();
        app.drain().await;
        let messages = app.slack.channel(&channel).unwrap().messages;
        assert!(messages.len() >= 3, "declaration and the checklist, twice");
        assert_all_accepted(&app);
        app.finish().await;
    }
}

#[tokio::test]
async fn a_200_event_timeline_is_accepted_and_marks_what_it_leaves_out() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    for n in 0..200 {
        // Notes at their 2,000-character bound: 20 of them are over Slack's 40,000.
        let note = format!("note {n} {}", "é".repeat(1990));
        app.slack.slash(ALICE, &channel, &format!("note {note}")).await.unwrap();
    }
    app.drain().await;
    let reply = app.slack.slash(ALICE, &channel, "timeline").await.unwrap();
    let text = reply.text();
    assert!(text.chars().count() <= 40_000, "{} characters", text.chars().count());
    assert!(text.contains("older entries not shown"), "what is left out is marked");
    assert!(text.contains("note 199 "), "the newest entries are kept");
    assert_all_accepted(&app);
    app.finish().await;
}

async fn declare_modal_with(services: usize) -> (TestApp, Value) {
    let app = spawn_app_with(move |s| {
        for n in 0..services {
            s.file.services.insert(format!("svc-{n:03}"), ServiceConfig::default());
        }
    })
    .await;
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let view = app.slack.views().pop().expect("the modal opened").view;
    (app, view)
}

fn options(view: &Value) -> usize {
    view["blocks"][0]["element"]["options"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_declare_modal_of_100_services_lists_them_all() {
    let (app, view) = declare_modal_with(100).await;
    assert_eq!(options(&view), 100);
    assert_eq!(view["blocks"][1]["hint"]["text"], "A service not in the list above");
    let id = view["id"].as_str().unwrap();
    app.slack.submit_view(ALICE, id, &[("service", "svc-099"), ("summary", "down")]).await.unwrap();
    app.drain().await;
    assert_eq!(app.only_incident().await.service, "svc-099");
    assert_all_accepted(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_declare_modal_of_150_services_lists_100_and_says_so() {
    let (app, view) = declare_modal_with(150).await;
    assert_eq!(options(&view), 100, "Slack's limit");
    let hint = view["blocks"][1]["hint"]["text"].as_str().unwrap();
    assert!(hint.contains("… and 50 more services"), "{hint}");
    let id = view["id"].as_str().unwrap();
    // A service beyond the list is typed; a bad one is refused under the field it came from.
    let bad = app.slack.submit_view(ALICE, id, &[("service_other", "not a service!"), ("summary", "down")]).await;
    assert!(bad.unwrap().json()["errors"]["service_other"].is_string());
    let none = app.slack.submit_view(ALICE, id, &[("summary", "down")]).await.unwrap();
    assert!(none.json()["errors"]["service"].is_string(), "no service, picked or typed: {:?}", none.json());
    assert!(app.incidents().await.is_empty());
    app.slack.submit_view(ALICE, id, &[("service_other", "svc-149"), ("summary", "down")]).await.unwrap();
    app.drain().await;
    assert_eq!(app.only_incident().await.service, "svc-149");
    assert_all_accepted(&app);
    app.finish().await;
}

#[tokio::test]
async fn a_post_beyond_one_message_is_shared_whole_as_a_file() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let incident = app.only_incident().await;
    let channel = incident.channel_id.clone().unwrap();
    let text: String = (0..6000).map(|n| format!("line {n}: the gateway answered 503\n")).collect();
    let payload = json!({ "text": text, "to": "channel", "what": "notice" });
    let now = warroom::clock::Clock::now(&*app.clock);
    warroom::jobs::queue::enqueue(&app.db, Some(incident.id), warroom::jobs::kind::POST, "big", payload, now)
        .await
        .unwrap();
    app.drain().await;

    let messages = app.slack.channel(&channel).unwrap().messages;
    let post = messages.iter().find(|m| m.blocks.to_string().contains("line 0:")).unwrap();
    let blocks = post.blocks.as_array().unwrap();
    assert_eq!(blocks.len(), 50);
    assert!(blocks[1]["text"]["text"].as_str().unwrap().starts_with("_(continued)_"));
    assert!(blocks[49].to_string().contains("the whole text is shared as the file `notice.txt`"));
    let shared = messages.iter().find(|m| !m.files.is_empty()).expect("the whole text as a file");
    assert_eq!(shared.files[0].content, text.as_bytes(), "nothing lost");
    assert_all_accepted(&app);
    app.finish().await;
}

#[tokio::test]
async fn the_sandbox_answers_like_slack_for_what_breaks_a_limit() {
    let app = spawn_app().await;
    let http = warroom::tls::http_client();
    let call = |method: &str, body: Value| {
        let request =
            http.post(format!("{}/{method}", app.slack_api_url())).bearer_auth(warroom::sandbox::BOT_TOKEN).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let general = app.slack.create_bot_channel("limits");
    let many: Vec<Value> = (0..51).map(|_| json!({ "type": "divider" })).collect();
    let answer = call("chat.postMessage", json!({ "channel": general, "text": "x", "blocks": many })).await;
    assert_eq!(answer["error"], "invalid_blocks");
    assert_eq!(answer["errors"][0], "51 blocks: a message holds at most 50");
    assert_eq!(answer["response_metadata"]["messages"][0], "[ERROR] 51 blocks: a message holds at most 50");
    let unknown = json!([{ "type": "sektion", "text": { "type": "mrkdwn", "text": "hi" } }]);
    let answer = call("chat.postMessage", json!({ "channel": general, "text": "x", "blocks": unknown })).await;
    assert_eq!(answer["errors"][0], "block 0: unknown block type `sektion`");
    let answer = call("chat.postMessage", json!({ "channel": general, "text": "x".repeat(40_001) })).await;
    assert_eq!(answer, json!({ "ok": false, "error": "msg_too_long" }));
    let answer = call(
        "views.update",
        json!({ "view_id": "V1", "view": { "type": "modal",
        "title": { "type": "plain_text", "text": "a title longer than 24 characters" }, "blocks": [] } }),
    )
    .await;
    assert_eq!(answer["errors"][0], "the title is 33 characters, over 24");
    assert!(app.slack.channel(&general).unwrap().messages.is_empty(), "nothing refused was posted");
    let log = app.slack.call_log();
    assert_eq!(log.iter().filter(|c| c.error.as_deref() == Some("invalid_blocks")).count(), 3);
    app.finish().await;
}

#[tokio::test]
async fn a_diagnostics_menu_beyond_one_message_shows_48_buttons_and_names_the_rest() {
    let dir = std::env::temp_dir().join(format!("warroom-limits-pack-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let actions: String = (0..60)
        .map(|n| {
            format!(
                "[[action]]\nid = \"big.check{n:02}\"\ntitle = \"Check {n}\"\nkind = \"read\"\nargv = [\"true\"]\n\n"
            )
        })
        .collect();
    std::fs::write(dir.join("big.toml"), actions).unwrap();
    let app = spawn_app_with(move |s| {
        s.file.diagnostics.dirs = vec![warroom::config::PackDir { path: dir, file: "warroom.toml".into(), line: 2 }];
        s.file.services.insert("api".into(), ServiceConfig { packs: vec!["big".into()], ..Default::default() });
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();

    let reply = app.slack.slash(ALICE, &channel, "diagnostics").await.unwrap();
    let blocks = reply.json()["blocks"].as_array().cloned().unwrap();
    assert_eq!(blocks.len(), 50, "the title, 48 actions, the marker");
    assert!(block_kit::problems(&Value::Array(blocks.clone())).is_empty());
    let marker = blocks[49]["text"]["text"].as_str().unwrap();
    assert!(marker.starts_with("… and 12 more diagnostics") && marker.contains("`big.check59`"), "{marker}");
    assert!(reply.text().contains("/incident run big.check59"), "the fallback lists them all");
    // The same menu behind the declaration's Run diagnostics button, through the job queue.
    let declaration = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.slack.click(ALICE, &channel, &declaration, "incident.diagnostics").await.unwrap();
    app.drain().await;
    assert!(app.slack.ephemerals(ALICE).iter().any(|e| e.blocks.as_array().is_some_and(|b| b.len() == 50)));
    assert_all_accepted(&app);
    app.finish().await;
}
