//! The runbook checklist as the channel sees it: posted after the declaration for each of the
//! five seed runbooks (against a committed outline of what Slack received), within Block Kit's
//! limits over several messages, posted again by `/incident runbook`, and in the report.

use std::collections::BTreeMap;

use serde_json::Value;
use warroom::config::ServiceConfig;
use warroom::sandbox::Message;
use warroom::timeline::export::{self, Format, Source};

use crate::diagnostics::shims;
use crate::harness::*;

/// A seed runbook as it ships (`runbooks/<service>.md`), for its service configured exactly as
/// `warroom.example.toml` configures it (packs, params, runbook).
pub struct Seed {
    /// The seed's number, naming its committed outline (`tests/expected/checklists/<file>.txt`).
    pub file: &'static str,
    pub service: &'static str,
}

pub const SYSTEMD: Seed = Seed { file: "000-systemd", service: "microdiff-matdesign" };
pub const KUBERNETES: Seed = Seed { file: "001-kubernetes", service: "web3-marketplace-backend" };
pub const GATEWAY: Seed = Seed { file: "002-inference-gateway", service: "inference-gateway" };
pub const COMPOSE: Seed = Seed { file: "003-compose", service: "dmarc-dashboard" };
pub const AWS: Seed = Seed { file: "004-aws", service: "pynomaly" };

impl Seed {
    pub fn path(&self) -> String {
        format!("runbooks/{}.md", self.service)
    }

    pub fn config(&self) -> ServiceConfig {
        let example = std::path::Path::new("warroom.example.toml");
        let file = warroom::config::FileConfig::parse(example, include_str!("../../warroom.example.toml")).unwrap();
        let config = file.services[self.service].clone();
        assert_eq!(config.runbook.as_deref(), Some(std::path::Path::new(&self.path())), "the example's runbook");
        config
    }
}

/// An app whose service of `seed` has its runbook, with an incident declared for it by alice
/// and bob in its channel; returns the app and the channel.
pub async fn declared(
    seed: &Seed,
    configure: impl FnOnce(&mut warroom::config::Settings) + Send + 'static,
) -> (TestApp, String) {
    let (service, config) = (seed.service.to_string(), seed.config());
    let path = format!("{}:{}", shims().display(), std::env::var("PATH").unwrap_or_default());
    let app = spawn_app_with(move |s| {
        s.file.services.insert(service, config);
        s.diagnostics_path = Some(path);
        configure(s);
    })
    .await;
    app.slash(ALICE, &format!("declare P0 {} Service down", seed.service)).await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

/// The checklist's messages in the channel, in order.
pub fn checklist_messages(app: &TestApp, channel: &str) -> Vec<Message> {
    let messages = app.slack.channel(channel).unwrap().messages;
    messages.into_iter().filter(|m| m.blocks[0]["block_id"] == "checklist.header").collect()
}

/// The (message ts, action id) of step `number`'s button in the newest posting that has one.
pub fn button(app: &TestApp, channel: &str, number: u32) -> Option<(String, String)> {
    let suffix = format!(".{number}");
    checklist_messages(app, channel).into_iter().rev().find_map(|m| {
        let blocks = m.blocks.as_array()?.clone();
        blocks.iter().find_map(|b| {
            let id = b["accessory"]["action_id"].as_str()?;
            (id.starts_with("checklist.") && id.ends_with(&suffix)).then(|| (m.ts.clone(), id.to_string()))
        })
    })
}

/// The text of step `number`'s (last) block in every posting, newest last.
pub fn step_texts(app: &TestApp, channel: &str, number: u32) -> Vec<String> {
    let prefix = format!("checklist.step.{number}.");
    let mut texts = BTreeMap::new();
    for m in checklist_messages(app, channel) {
        for b in m.blocks.as_array().unwrap() {
            if b["block_id"].as_str().is_some_and(|id| id.starts_with(&prefix)) {
                texts.insert(m.ts.clone(), b["text"]["text"].as_str().unwrap().to_string());
            }
        }
    }
    texts.into_values().collect()
}

/// Clicks step `number`'s button as `user` (not draining).
pub async fn click(app: &TestApp, channel: &str, user: &str, number: u32) {
    let (ts, action) = button(app, channel, number).unwrap_or_else(|| panic!("step {number} has no button"));
    app.slack.click(user, channel, &ts, &action).await.unwrap();
}

/// The payloads of the only incident's events of `kind`.
pub async fn events(app: &TestApp, kind: &str) -> Vec<(String, Value)> {
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    events.into_iter().filter(|e| e.kind == kind).map(|e| (e.actor, e.payload)).collect()
}

/// What Slack received, as a plain-text outline: each message, its headings and its steps with
/// their buttons.
fn outline(messages: &[Message]) -> String {
    let plain = |t: &str| t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let mut out = String::new();
    for m in messages {
        let blocks = m.blocks.as_array().unwrap();
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        out.push_str(&format!("== {} ({} blocks)\n", plain(header.lines().next().unwrap()), blocks.len()));
        out.push_str(&format!("   {}\n", plain(header.lines().nth(1).unwrap())));
        for b in &blocks[1..blocks.len() - 1] {
            let text = plain(b["text"]["text"].as_str().unwrap());
            if b["block_id"].as_str().unwrap().starts_with("checklist.section.") {
                out.push_str(&format!("{}\n", text.replace('*', "")));
                continue;
            }
            let label = b["accessory"]["text"]["text"].as_str().unwrap_or("-");
            out.push_str(&format!("  [{label}] {}\n", text.replace("```", "`").replace('*', "").replace('\n', " ")));
        }
    }
    out
}

async fn checklist_of_a_seed_is_posted_as_committed(seed: Seed) {
    let (app, channel) = declared(&seed, |_| {}).await;

    let messages = checklist_messages(&app, &channel);
    let got = outline(&messages);

    let expected = format!("tests/expected/checklists/{}.txt", seed.file);
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::create_dir_all("tests/expected/checklists").unwrap();
        std::fs::write(&expected, &got).unwrap();
    }
    let want = std::fs::read_to_string(&expected).expect("the expected outline (UPDATE_EXPECTED=1 writes it)");
    for (n, (got, want)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the checklist differs from {expected}", n + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "the checklist's length differs from {expected}");
    let all = app.slack.channel(&channel).unwrap().messages;
    let declaration = all.iter().position(|m| m.blocks.to_string().contains("runbook_checklist")).unwrap();
    let first = all.iter().position(|m| m.ts == messages[0].ts).unwrap();
    assert!(declaration < first, "the checklist follows the declaration");
    for m in &messages {
        assert!(warroom::sandbox::block_kit::problems(&m.blocks).is_empty(), "{:?}", m.blocks);
    }
    app.finish().await;
}

#[tokio::test]
async fn the_checklist_of_seed_000_is_posted_as_committed() {
    checklist_of_a_seed_is_posted_as_committed(SYSTEMD).await;
}

#[tokio::test]
async fn the_checklist_of_seed_001_is_posted_as_committed() {
    checklist_of_a_seed_is_posted_as_committed(KUBERNETES).await;
}

#[tokio::test]
async fn the_checklist_of_seed_002_is_posted_as_committed() {
    checklist_of_a_seed_is_posted_as_committed(GATEWAY).await;
}

#[tokio::test]
async fn the_checklist_of_seed_003_is_posted_as_committed() {
    checklist_of_a_seed_is_posted_as_committed(COMPOSE).await;
}

#[tokio::test]
async fn the_checklist_of_seed_004_is_posted_as_committed() {
    checklist_of_a_seed_is_posted_as_committed(AWS).await;
}

#[tokio::test]
async fn the_largest_seed_spans_messages_in_order_each_within_slacks_limits() {
    let (app, channel) = declared(&GATEWAY, |_| {}).await;

    let all = app.slack.channel(&channel).unwrap().messages;
    let messages = checklist_messages(&app, &channel);

    assert_eq!(messages.len(), 3, "77 steps and their headings need three messages");
    let positions: Vec<usize> = messages.iter().map(|m| all.iter().position(|a| a.ts == m.ts).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "posted in order: {positions:?}");
    let declaration = &all[0];
    let link = declaration.blocks.to_string();
    assert!(link.contains("*Runbook checklist:* Runbook: Service Down Alert (77 steps)"), "{link}");
    let mut numbers = Vec::new();
    for (index, m) in messages.iter().enumerate() {
        let blocks = m.blocks.as_array().unwrap();
        assert!(blocks.len() <= 50, "{} blocks", blocks.len());
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(header.contains(&format!("part {} of 3", index + 1)), "{header}");
        let mut ids = std::collections::HashSet::new();
        for b in blocks {
            assert!(b["text"]["text"].as_str().unwrap_or_default().chars().count() <= 3000);
            assert!(b["block_id"].as_str().is_none_or(|id| id.len() <= 255 && ids.insert(id.to_string())));
            let accessory = &b["accessory"];
            assert!(accessory["value"].as_str().is_none_or(|v| v.len() <= 2000));
            assert!(accessory["action_id"].as_str().is_none_or(|v| v.len() <= 255));
            if let Some(id) = b["block_id"].as_str().and_then(|id| id.strip_prefix("checklist.step.")) {
                numbers.push(id.split('.').next().unwrap().parse::<u32>().unwrap());
            }
        }
    }
    assert_eq!(numbers, (1..=77).collect::<Vec<_>>(), "every step once, in order, none cut");
    let posted = events(&app, "message_posted").await;
    let parts: Vec<&str> =
        posted.iter().filter_map(|(_, p)| p["message"].as_str()).filter(|m| m.contains("checklist")).collect();
    assert_eq!(
        parts,
        ["runbook checklist (part 1 of 3)", "runbook checklist (part 2 of 3)", "runbook checklist (part 3 of 3)"]
    );
    app.finish().await;
}

#[tokio::test]
async fn incident_runbook_posts_the_checklist_again_with_its_state() {
    let (app, channel) = declared(&GATEWAY, |_| {}).await;
    click(&app, &channel, BOB, 1).await;
    app.drain().await;

    let reply = app.slack.slash(BOB, &channel, "runbook").await.unwrap().text();
    app.drain().await;

    assert!(reply.contains("Posting the runbook checklist of INC-1"), "{reply}");
    assert_eq!(checklist_messages(&app, &channel).len(), 6, "three messages, twice");
    let texts = step_texts(&app, &channel, 1);
    assert_eq!(texts.len(), 2);
    assert!(texts.iter().all(|t| t.ends_with("✅ done by <@U0BOB> at 15:00")), "{texts:?}");
    // A tick now shows in both postings.
    click(&app, &channel, BOB, 5).await;
    app.drain().await;
    let texts = step_texts(&app, &channel, 5);
    assert!(texts.iter().all(|t| t.ends_with("✅ done by <@U0BOB> at 15:00")), "{texts:?}");
    // The same command delivered twice posts it once.
    let form = [
        ("team_id", "T0SANDBOX"),
        ("channel_id", channel.as_str()),
        ("user_id", BOB),
        ("command", "/incident"),
        ("text", "runbook"),
        ("response_url", ""),
        ("trigger_id", "1.1.repeated"),
    ];
    let body = serde_urlencoded::to_string(form).unwrap().into_bytes();
    for _ in 0..2 {
        app.slack.send_signed("/slack/commands", "application/x-www-form-urlencoded", body.clone()).await.unwrap();
    }
    app.drain().await;
    assert_eq!(checklist_messages(&app, &channel).len(), 9, "a third posting, not a fourth");
    let help = app.slack.slash(BOB, &channel, "help").await.unwrap().text();
    assert!(help.contains("`runbook` — the service's runbook checklist"), "{help}");
    app.finish().await;
}

#[tokio::test]
async fn a_service_without_a_runbook_is_told_where_to_set_one() {
    let app = spawn_app_with(|s| {
        s.file.services.insert("api".into(), ServiceConfig::default());
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();

    let reply = app.slack.slash(ALICE, &channel, "runbook").await.unwrap().text();
    app.drain().await;

    assert_eq!(reply, ":x: No runbook for api: set [services.api] runbook in warroom.toml.");
    assert!(checklist_messages(&app, &channel).is_empty());
    let declaration = &app.slack.channel(&channel).unwrap().messages[0];
    assert!(!declaration.blocks.to_string().contains("Runbook checklist"), "no link to a checklist that is not");
    app.finish().await;
}

#[tokio::test]
async fn a_runbook_that_cannot_be_read_stops_the_start_naming_the_service_and_file() {
    let mut settings = warroom::config::Settings::for_slack("http://127.0.0.1:9/api", SIGNING_SECRET);
    let service = ServiceConfig { runbook: Some("tests/fixtures/runbooks/missing.md".into()), ..Default::default() };
    settings.file.services.insert("api".into(), service);
    let db = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
    let clock = std::sync::Arc::new(warroom::clock::ManualClock::new(start_time()));

    let err = warroom::app::Application::build(settings, db, clock, 0).await.err().unwrap().to_string();

    assert!(err.contains("[services.api] runbook = \"tests/fixtures/runbooks/missing.md\": cannot read it"), "{err}");
}

/// The report of the only incident in `format`.
async fn report(app: &TestApp, format: Format) -> String {
    let incident = app.only_incident().await;
    let state = &app.state;
    let source = Source {
        db: &app.db,
        templates: &state.templates,
        config: &state.settings.file,
        incident: &incident,
        statuspage: None,
    };
    let mut out = Vec::new();
    export::write(&source, format, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_report_shows_each_step_done_by_whom_and_when_and_the_open_ones() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    click(&app, &channel, BOB, 3).await;
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(2));
    click(&app, &channel, BOB, 10).await;
    app.drain().await;

    let markdown = report(&app, Format::Markdown).await;
    let json: Value = serde_json::from_str(&report(&app, Format::Json).await).unwrap();
    let csv = report(&app, Format::Csv).await;

    assert!(markdown.contains("## Runbook checklist\n\n**Service Down Runbook** (<code>runbooks/microdiff-matdesign.md</code>): 2 of 63 steps done."), "{markdown}");
    assert!(markdown.contains("**Immediate Actions (0-5 minutes) › 2. Check Recent Changes**"), "{markdown}");
    assert!(
        markdown.contains("- [x] **3.** Check recent deployments: <code>git log --oneline -10</code> — done by @U0BOB at 15:00:00 UTC"),
        "{markdown}"
    );
    assert!(
        markdown
            .contains("- [ ] **2.** Check service status: <code>systemctl status microdiff-matdesign</code> (<code>systemd.status</code>) — **open**"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- [x] **10.** Check memory usage: <code>free -h</code> (<code>host.memory</code>) — run by @U0BOB at 15:02:00 UTC → ok"),
        "{markdown}"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string("specs/incident-report.v1.schema.json").unwrap()).unwrap();
    warroom::statuspage::schema::check_against(&schema, &json).expect("the report follows its schema");
    let steps = json["checklist"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 63);
    assert_eq!((steps[2]["state"].as_str(), steps[2]["by"].as_str()), (Some("done"), Some(BOB)));
    assert_eq!(steps[2]["at"], "2026-11-23T15:00:00Z");
    assert_eq!((steps[9]["state"].as_str(), steps[9]["result"].as_str()), (Some("run"), Some("ok")));
    assert_eq!((steps[1]["state"].as_str(), &steps[1]["by"]), (Some("open"), &Value::Null));
    let rows: Vec<&str> = csv.lines().filter(|l| l.contains(",checklist_step,")).collect();
    assert_eq!(rows.len(), 63);
    assert!(rows[2].starts_with("2026-11-23T15:00:00Z,0,U0BOB,checklist_step,"), "{}", rows[2]);
    assert!(rows[1].starts_with(",,,checklist_step,") && rows[1].contains("— open"), "{}", rows[1]);
    app.finish().await;
}
