//! Diagnostics bounded by the incident's service: only its packs' actions run (by command and
//! by button), a target takes the service's value unless `[services.x] allow` lets a person
//! choose another, other parameters may be given within their patterns, and a service without
//! packs runs nothing and says how to configure one.

use serde_json::json;
use warroom::config::Allow;

use crate::diagnostics::{app_with_service_and, finished, run, shim_calls};
use crate::harness::*;

/// The incident's timeline kinds and the queued diagnostic runs, to show nothing happened.
async fn footprint(app: &TestApp) -> (usize, i64) {
    let events = app.timeline(&app.only_incident().await).await.len();
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'diagnostics.run'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    (events, runs)
}

/// A Run button click by alice (a member of the channel) as Slack would deliver it, for a
/// button warroom never showed.
async fn forged_run_click(app: &TestApp, channel: &str, value: &str) -> u16 {
    let payload = json!({
        "type": "block_actions", "user": { "id": ALICE }, "channel": { "id": channel }, "trigger_id": "t-forged",
        "container": { "type": "message", "channel_id": channel, "is_ephemeral": true },
        "actions": [{ "type": "button", "action_id": "diagnostics.run", "value": value }],
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let form = "application/x-www-form-urlencoded";
    let reply = app.slack.send_signed("/slack/interactions", form, body.into_bytes()).await.unwrap();
    app.drain().await;
    reply.status
}

#[tokio::test]
async fn an_action_outside_the_services_packs_is_refused_by_command_and_by_button() {
    let (app, channel) = app_with_service_and(&[("compose_project", "dmarc")], |_| {}).await;
    let incident = app.only_incident().await;
    let before = footprint(&app).await;

    let reply = run(&app, &channel, "run compose.ps").await;
    let status = forged_run_click(&app, &channel, &format!("{}|compose.ps", incident.id)).await;

    assert!(
        reply.contains(":no_entry: `compose.ps` is not one of `api`'s diagnostics (packs: http, docker"),
        "{reply}"
    );
    assert!(reply.contains("add its pack `compose` to `[services.api] packs`"), "{reply}");
    assert_eq!(status, 200);
    let told = app.slack.ephemerals(ALICE).pop().expect("the clicker was told").text;
    assert!(told.contains(":no_entry: `compose.ps` is not one of `api`'s diagnostics"), "{told}");
    assert_eq!(footprint(&app).await, before, "nothing was recorded or queued");
    app.finish().await;
}

#[tokio::test]
async fn a_target_override_is_refused_without_allow() {
    let (app, channel) = app_with_service_and(&[("container", "api")], |_| {}).await;
    let before = footprint(&app).await;

    let reply = run(&app, &channel, "run docker.logs container=postgres").await;

    assert!(reply.contains(":no_entry: `container` is a target of `docker.logs`: it takes `api`'s own value (`api`)"));
    assert!(reply.contains("add a pattern for it to `[services.api] allow` in warroom.toml"), "{reply}");
    assert_eq!(footprint(&app).await, before, "nothing was recorded or queued");
    assert!(!shim_calls().contains("docker logs --tail 100 --timestamps postgres"));
    app.finish().await;
}

#[tokio::test]
async fn a_target_override_is_accepted_where_allow_permits_it_and_only_there() {
    let (app, channel) = app_with_service_and(&[("container", "api")], |s| {
        let api = s.file.services.get_mut("api").unwrap();
        api.allow = Allow::from_pairs([("container", "api-worker-[0-9]+")]).unwrap();
    })
    .await;

    let allowed = run(&app, &channel, "run docker.logs container=api-worker-7").await;
    let other = run(&app, &channel, "run docker.logs container=postgres").await;
    let sneaky = run(&app, &channel, "run docker.logs container=api-worker-7x").await;

    assert!(allowed.contains("Running `docker.logs` for INC-1"), "{allowed}");
    assert!(shim_calls().contains("docker logs --tail 100 --timestamps api-worker-7\n"));
    assert_eq!(finished(&app).await[0]["params"]["container"], "api-worker-7");
    for refused in [&other, &sneaky] {
        assert!(refused.contains("`[services.api] allow` permits only values matching `api-worker-[0-9]+` in full"));
    }
    assert_eq!(finished(&app).await.len(), 1, "only the allowed one ran");
    app.finish().await;
}

#[tokio::test]
async fn a_parameter_that_is_not_a_target_may_be_given_within_its_pattern() {
    let (app, channel) = app_with_service_and(&[("unit", "bounds.service")], |_| {}).await;

    let within = run(&app, &channel, "run systemd.journal since=\"45 minutes ago\"").await;
    let outside = run(&app, &channel, "run systemd.journal since=\"99999 minutes ago\"").await;

    assert!(within.contains("Running `systemd.journal`"), "{within}");
    assert!(shim_calls().contains("journalctl -u bounds.service --since 45 minutes ago --no-pager --lines 200\n"));
    assert!(
        outside.contains(":no_entry: `since` = `99999 minutes ago` is not allowed for `systemd.journal`"),
        "{outside}"
    );
    assert_eq!(finished(&app).await.len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_service_with_no_packs_runs_nothing_and_says_how_to_configure_one() {
    let (app, channel) = app_with_service_and(&[("container", "api")], |s| {
        s.file.services.get_mut("api").unwrap().packs.clear();
    })
    .await;
    let before = footprint(&app).await;

    let menu = run(&app, &channel, "diagnostics").await;
    let reply = run(&app, &channel, "run docker.ps").await;

    for text in [&menu, &reply] {
        assert!(text.contains("`api` has no diagnostics packs, so it runs none"), "{text}");
        assert!(text.contains("Add `packs = [...]`") && text.contains("under `[services.api]`"), "{text}");
    }
    assert_eq!(footprint(&app).await, before);
    app.finish().await;
}

#[tokio::test]
async fn an_incident_of_a_service_missing_from_the_config_runs_nothing_and_says_how_to_configure_it() {
    let (app, _) = app_with_service_and(&[], |_| {}).await;
    app.slash(ALICE, "declare P1 ghost The unknown service is down").await;
    app.drain().await;
    let ghost = app.incidents().await.into_iter().find(|i| i.service == "ghost").unwrap();
    let channel = ghost.channel_id.clone().unwrap();
    app.slack.join(BOB, &channel).await.unwrap();

    let reply = run(&app, &channel, "run http.health").await;

    assert!(reply.contains("`ghost` is not a service in warroom.toml, so it runs no diagnostics"), "{reply}");
    assert!(reply.contains("Add `[services.ghost]` with `packs = [...]`"), "{reply}");
    assert!(app.timeline(&ghost).await.iter().all(|k| !k.starts_with("diagnostic")));
    app.finish().await;
}
