//! `warroom doctor`, the real binary, against the test's sandbox Slack (over HTTP and Socket
//! Mode), sandbox status page and database: all green, then each failure injected and named
//! with its fix, and no secret ever in the output.

use warroom::config::RunnerTokens;
use warroom::sandbox::{self, socket::APP_TOKEN};
use warroom::secret::Secret;

use crate::harness::{
    spawn_app_with, NowUtc, TestApp, GATEWAY_COMPONENT, PAGERDUTY_KEY, STATUSPAGE_KEY, STATUSPAGE_PAGE,
};

/// A well-formed signing secret (Slack's are 32 hexadecimal characters).
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99aaa0bb85a5";
const RUNNER_TOKEN: &str = "edge-one-runner-token-0123456789";

/// Every `@group` the sandbox workspace has, named from each place the configuration can.
const CONFIG: &str = r#"
[slack]
announce_channel = "incidents"

[roles]
responders = ["@sre-oncall"]

[approvals]
approvers = ["@sre-leads"]

[permissions]
resolve = ["commander", "@sre-leads"]

[[escalation.P0]]
after = "15m"
notify = ["owner", "@sre-leads"]

[services.inference-gateway]
owner = "@sre-oncall"
packs = ["http"]
params = { health_url = "http://127.0.0.1:9/health" }
statuspage_components = ["cmp0gateway"]
runner = "edge-1"
"#;

/// The test app, knowing the runner `edge-1`.
async fn app() -> TestApp {
    spawn_app_with(|s| s.runner_tokens = RunnerTokens::parse(&format!("edge-1={RUNNER_TOKEN}")).unwrap()).await
}

/// `edge-1` polls the app once.
async fn runner_polls(app: &TestApp) {
    let response = warroom::tls::http_client()
        .post(format!("{}/api/v1/runners/poll", app.address))
        .bearer_auth(RUNNER_TOKEN)
        .json(&serde_json::json!({ "wait_secs": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}

struct Run {
    code: Option<i32>,
    out: String,
}

impl Run {
    /// The line of check `name`.
    fn line(&self, name: &str) -> &str {
        let prefixes = [format!("✓ {name}: "), format!("✗ {name}: "), format!("- {name}: ")];
        self.out
            .lines()
            .find(|l| prefixes.iter().any(|p| l.starts_with(p.as_str())))
            .unwrap_or_else(|| panic!("no line for `{name}` in:\n{}", self.out))
    }

    fn passed(&self, name: &str) -> bool {
        self.line(name).starts_with('✓')
    }

    fn failed_with(&self, name: &str, found: &str, fix: &str) {
        let line = self.line(name);
        assert!(line.starts_with('✗'), "{line}");
        let (said, fixed) = line.split_once(" — fix: ").unwrap_or_else(|| panic!("no fix in: {line}"));
        assert!(said.contains(found), "`{found}` not in: {line}");
        assert!(fixed.contains(fix), "fix `{fix}` not in: {line}");
        assert_eq!(self.code, Some(1), "a failed check exits 1:\n{}", self.out);
    }

    /// No secret of the environment appears in the output.
    fn tells_no_secret(&self, env: &[(&str, String)]) {
        let secret_keys = ["TOKEN", "SECRET", "KEY"];
        for (key, value) in env.iter().filter(|(k, _)| secret_keys.iter().any(|s| k.contains(s))) {
            if !value.is_empty() && *key != "STATUSPAGE_PAGE_ID" {
                assert!(!self.out.contains(value.as_str()), "{key}'s value is in the output:\n{}", self.out);
            }
        }
    }
}

/// The environment of a deployment pointed at the test's sandboxes.
fn env(app: &TestApp, config: &std::path::Path, clock: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("WARROOM_CONFIG", config.display().to_string()),
        ("SLACK_BOT_TOKEN", sandbox::BOT_TOKEN.to_string()),
        ("SLACK_API_URL", app.slack_api_url()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("STATUSPAGE_API_KEY", STATUSPAGE_KEY.to_string()),
        ("STATUSPAGE_PAGE_ID", STATUSPAGE_PAGE.to_string()),
        ("STATUSPAGE_API_URL", app.statuspage_url.clone()),
        ("PAGERDUTY_ROUTING_KEY", PAGERDUTY_KEY.to_string()),
        ("PAGERDUTY_API_TOKEN", sandbox::pagerduty::REST_TOKEN.to_string()),
        ("PAGERDUTY_API_URL", app.state.settings.pagerduty_events_url.trim_end_matches("/v2/enqueue").to_string()),
        ("DATABASE_URL", app.database_url()),
        ("WARROOM_RUNNER_TOKENS", format!("edge-1={RUNNER_TOKEN}")),
        ("WARROOM_FAKE_CLOCK_FILE", clock.display().to_string()),
    ]
}

/// Runs `warroom doctor` with `config` and the test's environment changed by `changes`
/// (a value of "" unsets the variable), on the app's clock. Moves the clock a second on after,
/// so that the next run's status page request is within the page's one request a second.
async fn doctor(app: &TestApp, config: &str, changes: &[(&'static str, &str)]) -> Run {
    let dir = std::env::temp_dir().join(format!("warroom-doctor-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, clock) = (dir.join("warroom.toml"), dir.join("clock"));
    std::fs::write(&file, config).unwrap();
    std::fs::write(&clock, app.clock.now_utc().to_rfc3339()).unwrap();
    let mut vars = env(app, &file, &clock);
    for (key, value) in changes {
        vars.retain(|(k, _)| k != key);
        vars.push((key, value.to_string()));
    }
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("doctor")
        .env_clear()
        .envs(vars.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    app.clock.advance(chrono::Duration::seconds(1));
    let run = Run { code: output.status.code(), out: String::from_utf8_lossy(&output.stdout).into_owned() };
    assert!(!run.out.is_empty(), "no report; stderr: {}", String::from_utf8_lossy(&output.stderr));
    run.tells_no_secret(&vars);
    assert!(!run.out.contains(RUNNER_TOKEN));
    run
}

const ALL: [&str; 11] = [
    "slack auth.test",
    "slack scopes",
    "slack announcement channel",
    "slack user groups",
    "slack signing secret",
    "status page",
    "status page components",
    "pagerduty routing key",
    "pagerduty api token",
    "runner edge-1",
    "seen before",
];

#[tokio::test]
async fn against_a_workspace_that_is_set_up_every_check_passes_and_doctor_exits_0() {
    let app = app().await;
    runner_polls(&app).await;

    let run = doctor(&app, CONFIG, &[]).await;

    assert_eq!(run.code, Some(0), "{}", run.out);
    for name in ALL {
        assert!(run.passed(name), "{}", run.out);
    }
    assert!(run.line("slack auth.test").contains("bot @warroom (U0WARROOM) in team warroom sandbox (T0SANDBOX)"));
    assert!(run.line("slack announcement channel").contains("#incidents (C0INCIDENTS) exists and the bot is a member"));
    assert!(run.line("slack user groups").contains("@sre-leads, @sre-oncall resolve"), "{}", run.out);
    assert!(run.line("status page").contains(&format!("page {STATUSPAGE_PAGE} answers")));
    assert!(run.line("runner edge-1").contains("polled 0 s ago"), "{}", run.out);
    assert!(run.out.ends_with("11 passed, 0 failed, 0 skipped\n"), "{}", run.out);
    // A preflight only reads: nothing posted, created or joined.
    for method in ["chat.postMessage", "conversations.create", "conversations.join", "conversations.invite"] {
        assert_eq!(app.slack.call_count(method), 0, "{method}");
    }
    assert!(app.statuspage.incidents().is_empty() && app.pagerduty.events().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_scope_the_workspace_did_not_grant_is_named_with_the_fix() {
    let app = app().await;
    runner_polls(&app).await;
    app.slack.revoke_scope("pins:write");

    let run = doctor(&app, CONFIG, &[]).await;

    run.failed_with("slack scopes", "missing scope pins:write", "add it under OAuth & Permissions");
    assert!(run.line("slack scopes").contains("reinstall the app"));
    app.slack.revoke_scope("usergroups:read");
    let two = doctor(&app, CONFIG, &[]).await;
    two.failed_with("slack scopes", "missing scopes pins:write, usergroups:read", "add them under OAuth & Permissions");
    // The sandbox refuses the methods that need a missing scope, as Slack does.
    two.failed_with("slack user groups", "usergroups.list failed: missing_scope", "grant usergroups:read");
    assert!(run.passed("slack auth.test") && run.passed("status page"), "the other checks still run:\n{}", run.out);
    app.finish().await;
}

#[tokio::test]
async fn an_announcement_channel_that_does_not_exist_fails_and_one_the_bot_is_not_in_is_joined() {
    let app = app().await;
    runner_polls(&app).await;

    let missing = doctor(&app, &CONFIG.replace("\"incidents\"", "\"no-such-channel\""), &[]).await;
    app.slack.create_foreign_channel("outside");
    let outside = doctor(&app, &CONFIG.replace("\"incidents\"", "\"outside\""), &[]).await;
    app.slack.revoke_scope("channels:join");
    app.slack.revoke_scope("chat:write.public");
    let barred = doctor(&app, &CONFIG.replace("\"incidents\"", "\"outside\""), &[]).await;

    missing.failed_with(
        "slack announcement channel",
        "#no-such-channel is not a public channel of the workspace",
        "set [slack] announce_channel",
    );
    assert!(outside.line("slack announcement channel").contains("not a member and joins it at its first post"));
    assert!(outside.passed("slack announcement channel"), "{}", outside.out);
    barred.failed_with("slack announcement channel", "the bot is not a member", "/invite @warroom");
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_user_group_is_named_with_where_the_config_names_it() {
    let app = app().await;
    runner_polls(&app).await;
    let config = CONFIG.replace("responders = [\"@sre-oncall\"]", "responders = [\"@sre-oncal\"]");

    let run = doctor(&app, &config, &[]).await;

    run.failed_with(
        "slack user groups",
        "not user groups of the workspace: @sre-oncal (roles.responders)",
        "People → User groups",
    );
    assert!(!run.line("slack user groups").contains("@sre-leads"), "only the unknown one: {}", run.out);
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_signing_secret_fails_without_being_printed() {
    let app = app().await;
    runner_polls(&app).await;

    let run = doctor(&app, CONFIG, &[("SLACK_SIGNING_SECRET", "test-signing-secret")]).await;

    run.failed_with("slack signing secret", "is not 32 hexadecimal characters", "Basic Information → App Credentials");
    assert!(!run.out.contains("test-signing-secret"));
    app.finish().await;
}

#[tokio::test]
async fn with_an_app_token_socket_mode_must_say_hello_and_a_malformed_or_wrong_token_fails() {
    let app = spawn_app_with(|s| {
        s.runner_tokens = RunnerTokens::parse(&format!("edge-1={RUNNER_TOKEN}")).unwrap();
        s.slack_app_token = Some(Secret::new(APP_TOKEN));
    })
    .await;
    runner_polls(&app).await;

    let good = doctor(&app, CONFIG, &[("SLACK_APP_TOKEN", APP_TOKEN), ("SLACK_SIGNING_SECRET", "")]).await;
    let malformed = doctor(&app, CONFIG, &[("SLACK_APP_TOKEN", "xapp-oops"), ("SLACK_SIGNING_SECRET", "")]).await;
    let wrong =
        doctor(&app, CONFIG, &[("SLACK_APP_TOKEN", "xapp-1-A0OTHER-wrong"), ("SLACK_SIGNING_SECRET", "")]).await;

    assert_eq!(good.code, Some(0), "{}", good.out);
    assert!(good.line("slack socket mode").contains("Slack said hello"), "{}", good.out);
    assert!(!good.out.contains("slack signing secret"), "Socket Mode needs no signing secret:\n{}", good.out);
    malformed.failed_with("slack app token", "not of the form xapp-1-A…-…", "App-Level Tokens");
    assert!(malformed.line("slack socket mode").starts_with("- "), "not tried with a malformed token");
    wrong.failed_with("slack socket mode", "invalid_auth", "set SLACK_APP_TOKEN to this app's app-level token");
    assert!(!wrong.out.contains("xapp-1-A0OTHER-wrong"));
    app.finish().await;
}

#[tokio::test]
async fn a_wrong_status_page_id_or_key_fails_and_a_component_not_on_the_page_is_named() {
    let app = app().await;
    runner_polls(&app).await;

    let wrong_page = doctor(&app, CONFIG, &[("STATUSPAGE_PAGE_ID", "pg0wrong")]).await;
    let wrong_key = doctor(&app, CONFIG, &[("STATUSPAGE_API_KEY", "not-the-key")]).await;
    let component = doctor(&app, &CONFIG.replace("cmp0gateway", "cmp0elsewhere"), &[]).await;
    let no_key = doctor(&app, CONFIG, &[("STATUSPAGE_API_KEY", ""), ("STATUSPAGE_PAGE_ID", "")]).await;

    wrong_page.failed_with("status page", "there is no page pg0wrong for this key (HTTP 404)", "STATUSPAGE_PAGE_ID");
    assert!(wrong_page.line("status page components").starts_with("- "), "{}", wrong_page.out);
    wrong_key.failed_with("status page", "the API key is refused (HTTP 401)", "STATUSPAGE_API_KEY");
    component.failed_with(
        "status page components",
        &format!("not on page {STATUSPAGE_PAGE}: cmp0elsewhere ([services.inference-gateway])"),
        &format!("{GATEWAY_COMPONENT} (ML Inference API)"),
    );
    assert_eq!(no_key.code, Some(0), "no status page configured is no failure:\n{}", no_key.out);
    assert!(no_key.line("status page").contains("skipped: no STATUSPAGE_API_KEY"));
    app.finish().await;
}

#[tokio::test]
async fn a_runner_that_never_polled_or_stopped_polling_fails_and_without_a_database_it_is_skipped() {
    let app = app().await;

    let never = doctor(&app, CONFIG, &[]).await;
    runner_polls(&app).await;
    app.clock.advance(chrono::Duration::minutes(5));
    let stale = doctor(&app, CONFIG, &[]).await;
    let no_database = doctor(&app, CONFIG, &[("DATABASE_URL", "")]).await;
    let untokened = doctor(&app, &CONFIG.replace("runner = \"edge-1\"", "runner = \"edge-9\""), &[]).await;

    never.failed_with("runner edge-1", "has never polled", "warroom runner --server");
    stale.failed_with("runner edge-1", "(5 min ago): offline", "WARROOM_RUNNER_TOKEN");
    assert_eq!(no_database.code, Some(0), "a runner not checked is no failure:\n{}", no_database.out);
    assert!(no_database.line("runner edge-1").contains("skipped: no DATABASE_URL"), "{}", no_database.out);
    untokened.failed_with("runner edge-9", "has no token in WARROOM_RUNNER_TOKENS", "add edge-9=<token>");
    app.finish().await;
}

#[tokio::test]
async fn a_bad_or_missing_bot_token_fails_auth_test_and_skips_what_needs_it() {
    let app = app().await;
    runner_polls(&app).await;

    let bad = doctor(&app, CONFIG, &[("SLACK_BOT_TOKEN", "xoxb-not-the-token")]).await;
    let none = doctor(&app, CONFIG, &[("SLACK_BOT_TOKEN", "")]).await;

    bad.failed_with("slack auth.test", "Slack answered `invalid_auth`", "check SLACK_BOT_TOKEN");
    for name in ["slack scopes", "slack announcement channel", "slack user groups"] {
        assert!(bad.line(name).contains("skipped: auth.test failed"), "{}", bad.out);
    }
    none.failed_with("slack auth.test", "SLACK_BOT_TOKEN is not set", "Bot User OAuth Token");
    // Nothing listens there: said, and the other families still run.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nowhere = format!("http://{closed}/api");
    let unreachable = doctor(&app, CONFIG, &[("SLACK_API_URL", &nowhere)]).await;
    unreachable.failed_with("slack auth.test", "could not connect", "check SLACK_API_URL (https://slack.com/api)");
    assert!(unreachable.passed("status page") && unreachable.passed("runner edge-1"), "{}", unreachable.out);
    app.finish().await;
}

#[tokio::test]
async fn pagerduty_keys_of_the_wrong_form_or_a_rest_key_pagerduty_refuses_fail() {
    let app = app().await;
    runner_polls(&app).await;

    let bad_routing = doctor(&app, CONFIG, &[("PAGERDUTY_ROUTING_KEY", "not-a-routing-key")]).await;
    let refused = doctor(&app, CONFIG, &[("PAGERDUTY_API_TOKEN", "u+wrongrestapikey000")]).await;
    let malformed = doctor(&app, CONFIG, &[("PAGERDUTY_API_TOKEN", "short")]).await;
    let none = doctor(&app, CONFIG, &[("PAGERDUTY_ROUTING_KEY", ""), ("PAGERDUTY_API_TOKEN", "")]).await;

    bad_routing.failed_with("pagerduty routing key", "is not 32 letters and digits", "Events API v2 integration");
    refused.failed_with("pagerduty api token", "refuses the REST API key (HTTP 401)", "API Access Keys");
    malformed.failed_with("pagerduty api token", "is not a 20-character REST API key", "API Access Keys");
    assert_eq!(none.code, Some(0), "PagerDuty is optional:\n{}", none.out);
    let line = none.line("pagerduty routing key");
    assert!(line.contains("skipped: no PAGERDUTY_ROUTING_KEY (no escalation tier asks for PagerDuty)"), "{line}");
    let paging_config =
        CONFIG.replace("notify = [\"owner\", \"@sre-leads\"]", "notify = [\"owner\"]\npagerduty = true");
    let paging = doctor(&app, &paging_config, &[("PAGERDUTY_ROUTING_KEY", "")]).await;
    let line = paging.line("pagerduty routing key");
    assert!(line.contains("1 escalation tier asking for PagerDuty notify only in Slack"), "{line}");
    app.finish().await;
}

#[tokio::test]
async fn a_configuration_that_does_not_load_fails_before_any_check_without_printing_the_token() {
    let app = app().await;
    let dir = std::env::temp_dir().join(format!("warroom-doctor-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, clock) = (dir.join("warroom.toml"), dir.join("clock"));
    std::fs::write(&file, CONFIG.replace("after = \"15m\"", "after = \"soon\"")).unwrap();
    let mut vars = env(&app, &file, &clock);
    vars.push(("SLACK_APP_TOKEN", "xoxb-a-bot-token-as-app-token".into()));

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("doctor")
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();

    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.is_empty(), "no check ran: {stdout}");
    assert!(stderr.contains("`soon` is not a duration"), "{stderr}");
    assert!(stderr.contains("SLACK_APP_TOKEN must be an app-level token"), "{stderr}");
    assert!(!stderr.contains("xoxb-a-bot-token-as-app-token"), "{stderr}");
    assert_eq!(app.slack.call_count("auth.test"), 0, "nothing was asked of Slack");
    std::fs::remove_dir_all(dir).unwrap();
    app.finish().await;
}
