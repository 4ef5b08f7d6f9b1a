//! The incident channel's bookmarks: the war room, the runbook checklist, the status page
//! incident and the report, added once (a drain twice, a redelivered declaration, a refresh
//! queued again add nothing), edited when a newer report is exported, none with
//! `[slack] bookmarks = false`, and exactly once against a Slack that throttles or loses an
//! answer.

use chrono::Duration;
use warroom::sandbox::statuspage::Fault as PageFault;
use warroom::sandbox::{Bookmark, Fault};

use crate::harness::*;
use crate::ingress::{command_body, FORM};
use crate::runbook_checklist::{checklist_messages, GATEWAY};

const WAR_ROOM: &str = "https://meet.example.com/incident";

/// (title, link) of each bookmark of `channel`, in the order they were added.
fn marks(app: &TestApp, channel: &str) -> Vec<(String, String)> {
    app.slack.bookmarks(channel).into_iter().map(|b: Bookmark| (b.title, b.link)).collect()
}

fn link<'a>(marks: &'a [(String, String)], title: &str) -> Option<&'a str> {
    marks.iter().find(|(t, _)| t == title).map(|(_, l)| l.as_str())
}

/// The gateway with its seed runbook, on the status page, and a war room. (The tests on `api`
/// declare P3s: no status page there.)
async fn gateway_app(configure: impl FnOnce(&mut warroom::config::Settings)) -> TestApp {
    let path = format!("{}:{}", crate::diagnostics::shims().display(), std::env::var("PATH").unwrap_or_default());
    spawn_app_with(move |s| {
        let mut service = GATEWAY.config();
        service.statuspage_components = vec![GATEWAY_COMPONENT.into()];
        s.file.services.insert(GATEWAY.service.into(), service);
        s.file.war_room_url = Some(WAR_ROOM.into());
        s.diagnostics_path = Some(path);
        configure(s);
    })
    .await
}

/// A P0 declared for the gateway, drained (not settled: a status page retry stays due later);
/// returns its channel.
async fn declare(app: &TestApp) -> String {
    app.slash(ALICE, &format!("declare P0 {} Service down", GATEWAY.service)).await;
    app.drain().await;
    app.only_incident().await.channel_id.unwrap()
}

async fn gateway(configure: impl FnOnce(&mut warroom::config::Settings)) -> (TestApp, String) {
    let app = gateway_app(configure).await;
    let channel = declare(&app).await;
    (app, channel)
}

/// Exports the report in the incident channel; returns the uploaded file's id.
async fn export(app: &TestApp, channel: &str) -> String {
    app.slack.slash(ALICE, channel, "export md").await.unwrap();
    app.drain().await;
    let messages = app.slack.channel(channel).unwrap().messages;
    messages.iter().rev().find_map(|m| m.files.first().map(|f| f.id.clone())).expect("the report was shared")
}

/// `/sandbox/state` of the app's workspace, as the sandbox page reads it.
async fn sandbox_state(app: &TestApp) -> serde_json::Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/state", listener.local_addr().unwrap());
    let routes = warroom::sandbox::http::control_router(app.slack.clone(), false);
    let service = routes.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    warroom::tls::http_client().get(url).send().await.unwrap().error_for_status().unwrap().json().await.unwrap()
}

#[tokio::test]
async fn bookmarks_are_added_once_at_declaration_and_never_again() {
    let (app, channel) = gateway(|_| {}).await;
    app.settle().await;
    app.drain().await;

    let incident = app.only_incident().await;
    let first = checklist_messages(&app, &channel).remove(0);
    let shown = marks(&app, &channel);
    let mut titles: Vec<&str> = shown.iter().map(|(t, _)| t.as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["Runbook checklist", "Status page", "War room"], "{shown:?}");
    assert_eq!(link(&shown, "War room"), Some(WAR_ROOM));
    let runbook = format!("http://sandbox.slack.local/archives/{channel}/p{}", first.ts.replace('.', ""));
    assert_eq!(link(&shown, "Runbook checklist"), Some(runbook.as_str()), "the checklist's first message");
    let page = &app.statuspage.incidents()[0];
    assert_eq!(link(&shown, "Status page"), Some(page.shortlink.as_str()));
    assert_eq!(app.slack.call_count("bookmarks.add"), 3);
    // The sandbox page is given them with the channels.
    let page = sandbox_state(&app).await;
    let on_page = page["bookmarks"].as_array().unwrap();
    assert_eq!(on_page.len(), 3, "{page}");
    assert!(on_page.iter().all(|b| b["channel_id"] == channel.as_str()));

    // The same work queued again (a refresh delivered twice, a replica's) changes nothing and
    // asks Slack nothing: every bookmark is known to be current.
    let calls = app.slack.call_log().len();
    let now = app.clock.now_utc();
    warroom::bookmarks::queue_refresh(&app.db, &app.state.settings.file, incident.id, "again", now).await.unwrap();
    app.settle().await;
    assert_eq!(marks(&app, &channel), shown);
    assert_eq!(app.slack.call_count("bookmarks.add"), 3, "nothing added again");
    assert_eq!(app.slack.call_count("bookmarks.edit"), 0, "nothing edited");
    assert_eq!(app.slack.call_log().len(), calls, "no Slack call at all");
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_of_a_declaration_delivered_twice_are_added_once() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some(WAR_ROOM.into())).await;
    let body = command_body("bookmarks.1.abc", "declare P3 api down");
    app.slack.send_signed("/slack/commands", FORM, body.clone()).await.unwrap();
    app.slack.send_signed("/slack/commands", FORM, body).await.unwrap();
    app.settle().await;

    let channel = app.only_incident().await.channel_id.unwrap();
    assert_eq!(marks(&app, &channel), [("War room".to_string(), WAR_ROOM.to_string())]);
    assert_eq!(app.slack.call_count("bookmarks.add"), 1);
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_follow_the_status_page_incident_and_each_export() {
    let app = gateway_app(|_| {}).await;
    // The status page is down for the first ten minutes: no incident there yet.
    app.statuspage.fail_until(start_time() + Duration::minutes(10), PageFault::Status(503));
    let channel = declare(&app).await;
    let mut before: Vec<String> = marks(&app, &channel).into_iter().map(|(t, _)| t).collect();
    before.sort();
    assert_eq!(before, ["Runbook checklist", "War room"], "no status page bookmark before its incident exists");

    app.clock.set(start_time() + Duration::minutes(11));
    app.settle().await;
    let shown = marks(&app, &channel);
    let page = &app.statuspage.incidents()[0];
    assert_eq!(link(&shown, "Status page"), Some(page.shortlink.as_str()), "{shown:?}");
    assert_eq!(shown.len(), 3);
    assert_eq!(app.slack.call_count("bookmarks.add"), 3, "the new link added; the others untouched");
    assert_eq!(app.slack.call_count("bookmarks.edit"), 0);

    let file = export(&app, &channel).await;
    let shown = marks(&app, &channel);
    let expected = format!("{}/files/{file}", app.slack_url());
    assert_eq!(link(&shown, "Post-incident report"), Some(expected.as_str()), "{shown:?}");
    assert_eq!(app.slack.call_count("bookmarks.add"), 4);

    let newer = export(&app, &channel).await;
    assert_ne!(newer, file);
    let shown = marks(&app, &channel);
    let expected = format!("{}/files/{newer}", app.slack_url());
    assert_eq!(link(&shown, "Post-incident report"), Some(expected.as_str()), "the newest report");
    assert_eq!(shown.len(), 4, "edited, not added: {shown:?}");
    assert_eq!(app.slack.call_count("bookmarks.add"), 4);
    assert_eq!(app.slack.call_count("bookmarks.edit"), 1);
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_off_adds_none() {
    let (app, channel) = gateway(|s| s.file.bookmarks = false).await;
    app.settle().await;
    export(&app, &channel).await;
    app.settle().await;

    assert!(marks(&app, &channel).is_empty());
    for method in ["bookmarks.add", "bookmarks.edit", "bookmarks.list", "chat.getPermalink", "files.info"] {
        assert_eq!(app.slack.call_count(method), 0, "{method}");
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'slack.bookmarks'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 0, "no bookmark work queued");
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_wait_out_a_429_and_then_add_once() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some(WAR_ROOM.into())).await;
    app.slack.inject("bookmarks.add", Fault::RateLimited { retry_after_secs: 30 }, 1);
    app.slash(ALICE, "declare P3 api down").await;
    app.settle().await;

    let channel = app.only_incident().await.channel_id.unwrap();
    assert_eq!(marks(&app, &channel), [("War room".to_string(), WAR_ROOM.to_string())]);
    let adds: Vec<_> = app.slack.call_log().into_iter().filter(|c| c.method == "bookmarks.add").collect();
    assert_eq!(adds.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200]);
    assert!(adds[1].at - adds[0].at >= Duration::seconds(30), "Retry-After was kept");
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE kind = 'slack.bookmarks'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("done", 1), "the 429 used up no attempt");
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_an_add_delivered_then_answered_500_is_found_not_added_again() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some(WAR_ROOM.into())).await;
    app.slack.inject("bookmarks.add", Fault::DeliveredThenStatus(500), 1);
    app.slash(ALICE, "declare P3 api down").await;
    app.settle().await;

    let channel = app.only_incident().await.channel_id.unwrap();
    assert_eq!(marks(&app, &channel), [("War room".to_string(), WAR_ROOM.to_string())], "one bookmark");
    assert_eq!(app.slack.call_count("bookmarks.add"), 1, "the lost answer's bookmark was found, not added again");
    assert_eq!(app.slack.call_count("bookmarks.list"), 1, "one look-up, by the attempt after the lost answer");

    // Known now: a later refresh leaves it alone.
    let incident = app.only_incident().await;
    let now = app.clock.now_utc();
    warroom::bookmarks::queue_refresh(&app.db, &app.state.settings.file, incident.id, "later", now).await.unwrap();
    app.settle().await;
    assert_eq!(app.slack.bookmarks(&channel).len(), 1);
    assert_eq!(app.slack.call_count("bookmarks.add") + app.slack.call_count("bookmarks.edit"), 1);
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_refused_by_slack_tell_nobody_and_the_incident_goes_on() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some(WAR_ROOM.into())).await;
    app.slack.revoke_scope("bookmarks:write");
    app.slash(ALICE, "declare P3 api down").await;
    app.settle().await;

    let incident = app.only_incident().await;
    let channel = incident.channel_id.clone().unwrap();
    assert!(marks(&app, &channel).is_empty());
    assert_eq!(app.slack.call_count("bookmarks.add"), 1, "a final refusal is not retried");
    let texts: Vec<String> = app.slack.channel(&channel).unwrap().messages.into_iter().map(|m| m.text).collect();
    assert!(!texts.iter().any(|t| t.contains("bookmark")), "nobody is told: {texts:?}");
    let dms = app.slack.ephemerals(ALICE);
    assert!(!dms.iter().any(|e| e.text.contains("bookmark")), "nor the declarer");
    let failed: String = sqlx::query_scalar("SELECT last_error FROM jobs WHERE kind = 'slack.bookmarks'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(failed.contains("missing_scope"), "{failed}");
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_removed_by_someone_stay_removed() {
    let (app, channel) = gateway(|_| {}).await;
    app.settle().await;
    let war_room = app.slack.bookmarks(&channel).into_iter().find(|b| b.title == "War room").unwrap();
    app.slack.remove_bookmark(&channel, &war_room.id);

    export(&app, &channel).await;
    let mut titles: Vec<String> = marks(&app, &channel).into_iter().map(|(t, _)| t).collect();
    titles.sort();
    assert_eq!(
        titles,
        ["Post-incident report", "Runbook checklist", "Status page"],
        "a removed bookmark stays removed"
    );
    app.finish().await;
}

#[tokio::test]
async fn bookmarks_not_in_channel_joins_again_and_adds_once() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some(WAR_ROOM.into())).await;
    app.slack.inject("bookmarks.add", Fault::Error("not_in_channel".into()), 1);
    app.slash(ALICE, "declare P3 api down").await;
    app.settle().await;

    let channel = app.only_incident().await.channel_id.unwrap();
    assert_eq!(marks(&app, &channel), [("War room".to_string(), WAR_ROOM.to_string())]);
    assert_eq!(app.slack.call_count("conversations.join"), 1, "joined once");
    assert_eq!(app.slack.call_count("bookmarks.add"), 2, "refused, then added after joining");
    assert_eq!(app.slack.call_count("bookmarks.list"), 0, "a sure refusal needs no look-up");
    app.finish().await;
}
