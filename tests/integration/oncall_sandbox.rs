//! The first run: in sandbox mode, with no PagerDuty key and no config, the sandbox PagerDuty's
//! "Primary on-call" schedule is every service's on-call, so an API (or alert) declaration shows
//! a commander from it.

use chrono::Duration;
use serde_json::json;
use warroom::app::Application;
use warroom::config::Settings;
use warroom::sandbox::pagerduty_rest::{user_id, SANDBOX_SCHEDULE};

use crate::harness::*;

#[tokio::test]
async fn the_sandbox_gives_any_service_an_on_call_commander_on_the_first_run() {
    let app = spawn_app().await;
    let env = |key: &str| {
        match key {
            "WARROOM_CONFIG" => Some("/dev/null"),
            "WARROOM_LISTEN" => Some("127.0.0.1:0"),
            "WARROOM_API_TOKEN" => Some(API_TOKEN),
            _ => None,
        }
        .map(str::to_string)
    };
    let settings = Settings::from_lookup(env).unwrap();
    let first_run = Application::build(settings, app.db.clone(), app.clock.clone(), 0).await.unwrap();
    let (state, workspace, pagerduty) =
        (first_run.state().clone(), first_run.sandbox().unwrap(), first_run.oncall_sandbox().unwrap());
    let url = format!("http://127.0.0.1:{}/api/v1/incidents", first_run.port());
    tokio::spawn(first_run.run_until_stopped(std::future::pending()));

    let answer = warroom::tls::http_client()
        .post(url)
        .bearer_auth(API_TOKEN)
        .json(&json!({ "service": "checkout", "summary": "Checkout fails" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    for _ in 0..30 {
        warroom::jobs::runner::run_due(&state).await.unwrap();
        app.clock.set(app.clock.now_utc() + Duration::seconds(2));
    }

    // 15:00 UTC: alice's half of the sandbox rotation (bob holds 03:00–15:00).
    assert_eq!(pagerduty.on_call_at(SANDBOX_SCHEDULE, start_time()).unwrap().0, user_id("alice"));
    let incident = app.only_incident().await;
    assert_eq!(incident.commander, ALICE);
    let channel = workspace.channel(incident.channel_id.as_deref().unwrap()).unwrap();
    let said: Vec<String> = channel.messages.iter().map(|m| m.text.clone()).collect();
    assert!(
        said.iter().any(|t| t.contains("<@U0ALICE> is commander: on call for Primary on-call until 03:00 UTC")),
        "{said:?}"
    );
    app.finish().await;
}
