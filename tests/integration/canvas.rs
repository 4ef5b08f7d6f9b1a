//! The post-mortem canvas (`[slack] postmortem_canvas`): `/incident export` creates the channel's
//! canvas with the Markdown report, a later export replaces its content; where the plan refuses
//! canvases the uploaded file stays the report and the channel is told once; a create whose
//! answer was lost is found in `conversations.info` and not made twice; off by default.

use warroom::sandbox::{Canvas, Fault};

use crate::harness::*;

const CREATE: &str = "conversations.canvases.create";
const EDIT: &str = "canvases.edit";

async fn app_with_canvas(on: bool) -> (TestApp, String) {
    let app = spawn_app_with(|s| s.file.feedback.postmortem_canvas = on).await;
    app.slash(ALICE, "declare P2 api Checkout errors").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    (app, channel)
}

/// Exports in the channel; returns how many files the channel holds then.
async fn export(app: &TestApp, channel: &str, format: &str) -> usize {
    app.slack.slash(ALICE, channel, &format!("export {format}")).await.unwrap();
    app.settle().await;
    app.slack.channel(channel).unwrap().messages.iter().filter(|m| !m.files.is_empty()).count()
}

fn only_canvas(app: &TestApp, channel: &str) -> Canvas {
    let mut canvases = app.slack.canvases(channel);
    assert_eq!(canvases.len(), 1, "{canvases:?}");
    canvases.remove(0)
}

#[tokio::test]
async fn canvas_created_on_the_first_export_then_edited_on_the_next() {
    let (app, channel) = app_with_canvas(true).await;
    assert_eq!(export(&app, &channel, "md").await, 1, "the file upload stays");
    let canvas = only_canvas(&app, &channel);
    assert!(canvas.markdown.starts_with("# INC-1"), "{}", canvas.markdown);
    assert!(canvas.markdown.contains("Checkout errors"));
    assert_eq!((canvas.title.as_str(), canvas.edits), ("INC-1 post-mortem", 0));
    let stored: Option<String> =
        sqlx::query_scalar("SELECT canvas_id FROM incident_canvases").fetch_one(&app.db).await.unwrap();
    assert_eq!(stored.as_deref(), Some(canvas.id.as_str()));

    // A later export (another format: the canvas still gets the Markdown report) replaces it.
    app.slack.slash(ALICE, &channel, "note Rolled back the deploy").await.unwrap();
    app.drain().await;
    assert_eq!(export(&app, &channel, "json").await, 2);
    let edited = only_canvas(&app, &channel);
    assert_eq!((edited.id.as_str(), edited.edits), (canvas.id.as_str(), 1));
    assert!(edited.markdown.starts_with("# INC-1") && edited.markdown.contains("Rolled back the deploy"));
    assert_eq!((app.slack.call_count(CREATE), app.slack.call_count(EDIT)), (1, 1));
    app.finish().await;
}

#[tokio::test]
async fn canvas_refused_by_the_plan_keeps_the_file_and_says_why_once() {
    let (app, channel) = app_with_canvas(true).await;
    app.slack.refuse_canvases("team_tier_cannot_create_channel_canvases");
    assert_eq!(export(&app, &channel, "md").await, 1);
    assert_eq!(export(&app, &channel, "md").await, 2, "every export still uploads the file");
    assert!(app.slack.canvases(&channel).is_empty());
    let told: Vec<String> = app
        .slack
        .channel(&channel)
        .unwrap()
        .messages
        .iter()
        .map(|m| format!("{} {}", m.text, m.blocks))
        .filter(|m| m.contains("canvas could not be created"))
        .collect();
    assert_eq!(told.len(), 1, "said once: {told:?}");
    assert!(told[0].contains("team_tier_cannot_create_channel_canvases") && told[0].contains("Slack plan"), "{told:?}");
    assert_eq!(app.slack.call_count(CREATE), 1, "not tried again after the refusal");
    app.finish().await;
}

#[tokio::test]
async fn canvas_created_but_its_answer_lost_is_not_created_twice() {
    let (app, channel) = app_with_canvas(true).await;
    app.slack.inject(CREATE, Fault::DeliveredThenTimeout, 1);
    app.slack.inject(EDIT, Fault::RateLimited { retry_after_secs: 2 }, 1);
    assert_eq!(export(&app, &channel, "md").await, 1);
    let canvas = only_canvas(&app, &channel);
    assert!(canvas.markdown.starts_with("# INC-1"));
    assert_eq!(app.slack.call_count(CREATE), 1, "found by conversations.info, not created again");
    let stored: Option<String> =
        sqlx::query_scalar("SELECT canvas_id FROM incident_canvases").fetch_one(&app.db).await.unwrap();
    assert_eq!(stored.as_deref(), Some(canvas.id.as_str()));

    // The next export edits it (through a 429), still without a second create.
    assert_eq!(export(&app, &channel, "md").await, 2);
    assert_eq!(app.slack.call_count(CREATE), 1);
    assert_eq!(only_canvas(&app, &channel).edits, 2, "the found canvas refreshed, then the later export");
    app.finish().await;
}

#[tokio::test]
async fn canvas_a_channel_canvas_someone_made_is_left_alone() {
    let (app, channel) = app_with_canvas(true).await;
    app.slack.add_canvas_by_hand(&channel, "# Our notes\n- who is on the bridge\n");
    assert_eq!(export(&app, &channel, "md").await, 1);
    assert_eq!(export(&app, &channel, "md").await, 2);
    let canvas = only_canvas(&app, &channel);
    assert_eq!((canvas.markdown.as_str(), canvas.edits), ("# Our notes\n- who is on the bridge\n", 0));
    let told =
        app.slack.channel(&channel).unwrap().messages.iter().filter(|m| m.text.contains("canvas could not")).count();
    assert_eq!(told, 1, "said once");
    assert_eq!((app.slack.call_count(CREATE), app.slack.call_count(EDIT)), (1, 0));
    app.finish().await;
}

#[tokio::test]
async fn canvas_is_off_by_default() {
    assert!(!warroom::config::FileConfig::default().feedback.postmortem_canvas);
    let (app, channel) = app_with_canvas(false).await;
    assert_eq!(export(&app, &channel, "md").await, 1);
    assert_eq!(app.slack.call_count(CREATE), 0);
    assert!(app.slack.canvases(&channel).is_empty());
    app.finish().await;
}
