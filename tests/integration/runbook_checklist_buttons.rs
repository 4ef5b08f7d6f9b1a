//! The checklist's buttons and timers: Run runs its action once and ticks the step when it
//! finishes; Request needs another person's approval; Done by someone without `run_read` is
//! refused; a time window reminds the commander once, and not when all its steps are done.

use chrono::Duration;
use warroom::jobs::runner;

use crate::diagnostics::shim_calls;
use crate::harness::*;
use crate::runbook_checklist::{button, checklist_messages, click, declared, events, step_texts, GATEWAY, SYSTEMD};

/// The last thing `user` was told.
fn told(app: &TestApp, user: &str) -> String {
    app.slack.ephemerals(user).pop().map(|e| e.text).unwrap_or_default()
}

#[tokio::test]
async fn a_run_button_runs_its_action_once_and_ticks_the_step_when_it_finishes() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    let (ts, action) = button(&app, &channel, 10).unwrap();
    assert_eq!(action, "checklist.run.10", "`free -h` is host.memory, a read");

    // A double click: both arrive before the message changes.
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.drain().await;

    let replies: Vec<String> = app.replies(BOB).into_iter().map(|e| e.text).collect();
    assert!(replies.iter().any(|r| r.contains("Running `host.memory` for INC-1")), "{replies:?}");
    assert!(
        replies.iter().any(|r| r.contains("Step 10 of INC-1: ▶ running") && r.contains("Nothing changed")),
        "{replies:?}"
    );
    assert_eq!(events(&app, "diagnostic_requested").await.len(), 1, "ran once");
    let finished = events(&app, "diagnostic_finished").await;
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].1["action"], "host.memory");
    let run = events(&app, "checklist_step_run").await;
    assert_eq!(run.len(), 1);
    assert_eq!(run[0].0, BOB);
    assert_eq!((run[0].1["step"].as_u64(), run[0].1["command"].as_str()), (Some(10), Some("free -h")));
    assert_eq!(run[0].1["action"], "host.memory");
    let done = events(&app, "checklist_step_done").await;
    assert_eq!(done.len(), 1, "ticked once, when the run finished");
    assert_eq!((done[0].1["via"].as_str(), done[0].1["result"].as_str()), (Some("run"), Some("ok")));
    let text = step_texts(&app, &channel, 10).pop().unwrap();
    assert!(text.ends_with("▶ run by <@U0BOB> at 15:00 → ok ✅"), "{text}");
    assert!(button(&app, &channel, 10).is_none(), "no button once done");
    let edited = checklist_messages(&app, &channel).into_iter().find(|m| m.ts == ts).unwrap();
    assert!(edited.edited, "the checklist message was updated in place");
    app.finish().await;
}

#[tokio::test]
async fn a_request_button_needs_an_approval_by_another_person() {
    let (app, channel) = declared(&SYSTEMD, |s| s.file.approvals.approvers = vec![BOB.into(), CAROL.into()]).await;
    let (ts, action) = button(&app, &channel, 5).unwrap();
    assert_eq!(action, "checklist.request.5", "`systemctl restart` is a change");

    // Carol is no responder: she may not request changes.
    app.slack.click(CAROL, &channel, &ts, &action).await.unwrap();
    app.drain().await;
    assert!(told(&app, CAROL).contains("Only the responders (<@U0BOB>) may request changes"), "{}", told(&app, CAROL));
    assert!(events(&app, "approval_requested").await.is_empty());

    // Twice, before the message changes: one request.
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.drain().await;
    let replies: Vec<String> = app.replies(BOB).into_iter().map(|e| e.text).collect();
    assert!(replies[0].contains("`systemd.restart` is a change"), "{replies:?}");
    assert!(replies[1].contains("⏳ awaiting approval") && replies[1].contains("Nothing changed"), "{replies:?}");
    assert_eq!(events(&app, "approval_requested").await.len(), 1);
    let text = step_texts(&app, &channel, 5).pop().unwrap();
    assert!(text.ends_with("⏳ awaiting approval — requested by <@U0BOB> at 15:00"), "{text}");
    let approval = newest_with(&app, &channel, "approval.approve");

    // Bob may not approve his own request; nothing runs until Carol does.
    app.slack.click(BOB, &channel, &approval.ts, "approval.approve").await.unwrap();
    app.drain().await;
    assert!(told(&app, BOB).contains("cannot approve or deny your own request"));
    assert_eq!(shim_calls().matches("systemctl restart microdiff-matdesign\n").count(), 0);
    app.slack.click(CAROL, &channel, &approval.ts, "approval.approve").await.unwrap();
    app.drain().await;

    assert_eq!(shim_calls().matches("systemctl restart microdiff-matdesign\n").count(), 1);
    let done = events(&app, "checklist_step_done").await;
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].0.as_str(), done[0].1["step"].as_u64()), (BOB, Some(5)));
    let text = step_texts(&app, &channel, 5).pop().unwrap();
    // The systemctl shim exits 3.
    assert!(text.ends_with("▶ run by <@U0BOB> at 15:00 → failed ❌"), "{text}");
    app.finish().await;
}

#[tokio::test]
async fn a_done_click_by_someone_without_run_read_is_refused_and_changes_nothing() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    let (ts, action) = button(&app, &channel, 3).unwrap();
    assert_eq!(action, "checklist.done.3");
    let shown = |app: &TestApp| -> Vec<(String, String, bool)> {
        let messages = checklist_messages(app, &channel);
        messages.into_iter().map(|m| (m.ts, m.blocks.to_string(), m.edited)).collect()
    };
    let before = shown(&app);

    app.slack.click(CAROL, &channel, &ts, &action).await.unwrap();
    app.drain().await;

    let refusal = told(&app, CAROL);
    assert!(refusal.contains("takes the `run_read` permission"), "{refusal}");
    assert!(refusal.contains(&format!("Only members of <#{channel}> may")), "{refusal}");
    assert!(events(&app, "checklist_step_done").await.is_empty());
    assert_eq!(shown(&app), before, "the checklist is as it was");

    // Bob (a member) ticks it; his second click changes nothing.
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.slack.click(BOB, &channel, &ts, &action).await.unwrap();
    app.drain().await;
    assert_eq!(events(&app, "checklist_step_done").await.len(), 1);
    assert!(
        told(&app, BOB).contains("Step 3 was already ticked (✅ done by <@U0BOB> at 15:00)"),
        "{}",
        told(&app, BOB)
    );
    assert!(step_texts(&app, &channel, 3).pop().unwrap().ends_with("✅ done by <@U0BOB> at 15:00"));
    app.finish().await;
}

/// The newest message of the channel whose blocks hold `needle` (an approval's button).
fn newest_with(app: &TestApp, channel: &str, needle: &str) -> warroom::sandbox::Message {
    let messages = app.slack.channel(channel).unwrap().messages;
    messages.into_iter().rev().find(|m| m.blocks.to_string().contains(needle)).unwrap()
}

/// The reminders posted in the channel.
fn reminders(app: &TestApp, channel: &str) -> Vec<String> {
    let messages = app.slack.channel(channel).unwrap().messages;
    messages
        .into_iter()
        .map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string())
        .filter(|t| t.starts_with("⏰"))
        .collect()
}

#[tokio::test]
async fn a_time_window_reminds_the_commander_once_with_its_open_steps() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    for step in [1, 2] {
        click(&app, &channel, BOB, step).await;
    }
    app.drain().await;

    app.clock.set(start_time() + Duration::minutes(5) + Duration::seconds(1));
    app.drain().await;
    app.clock.advance(Duration::minutes(1));
    app.drain().await;
    // Another replica (or this one restarted) finds nothing left to remind.
    runner::run_due(&app.replica().await).await.unwrap();

    let posted = reminders(&app, &channel);
    assert_eq!(posted.len(), 1, "{posted:?}");
    let text = &posted[0];
    assert!(
        text.starts_with("⏰ <@U0ALICE>: *Immediate Actions (0-5 minutes)* ended at 15:05 UTC with 5 of 7 steps open:"),
        "{text}"
    );
    assert!(!text.contains("• *1.*") && !text.contains("• *2.*"), "ticked steps are not listed: {text}");
    assert!(text.contains("• *3.* Check recent deployments") && text.contains("• *7.*"), "{text}");
    let reminded = events(&app, "checklist_reminder").await;
    assert_eq!(reminded.len(), 1);
    assert_eq!(reminded[0].1["open"], serde_json::json!([3, 4, 5, 6, 7]));
    app.finish().await;
}

#[tokio::test]
async fn no_reminder_when_every_step_of_the_window_is_done() {
    let (app, channel) = declared(&GATEWAY, |_| {}).await;
    for step in 1..=6 {
        click(&app, &channel, BOB, step).await;
    }
    app.drain().await;

    app.clock.set(start_time() + Duration::minutes(3));
    app.drain().await;

    assert!(reminders(&app, &channel).is_empty());
    assert!(events(&app, "checklist_reminder").await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn no_reminder_once_the_incident_is_resolved() {
    let (app, channel) = declared(&GATEWAY, |_| {}).await;
    let incident = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields::default();
    app.resolve_directly(&incident, ALICE, &fields, Some("restarted")).await;
    app.drain().await;

    app.clock.set(start_time() + Duration::minutes(3));
    app.drain().await;

    assert!(reminders(&app, &channel).is_empty());
    // A click on the checklist of a resolved incident changes nothing.
    click(&app, &channel, BOB, 1).await;
    app.drain().await;
    assert!(told(&app, BOB).contains("INC-1 is resolved: its checklist is closed"), "{}", told(&app, BOB));
    assert!(events(&app, "checklist_step_done").await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_denied_request_offers_the_request_button_again() {
    let (app, channel) = declared(&SYSTEMD, |s| s.file.approvals.approvers = vec![CAROL.into()]).await;
    click(&app, &channel, BOB, 5).await;
    app.drain().await;
    let approval = newest_with(&app, &channel, "approval.deny");

    app.slack.click(CAROL, &channel, &approval.ts, "approval.deny").await.unwrap();
    app.drain().await;

    let text = step_texts(&app, &channel, 5).pop().unwrap();
    assert!(text.ends_with("✖ request denied — requested by <@U0BOB> at 15:00; request it again"), "{text}");
    assert_eq!(button(&app, &channel, 5).map(|b| b.1).as_deref(), Some("checklist.request.5"));
    assert!(events(&app, "checklist_step_done").await.is_empty(), "a denied change ticks nothing");
    app.finish().await;
}

#[tokio::test]
async fn a_checklist_click_warroom_did_not_make_changes_nothing() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    let incident = app.only_incident().await;
    let forged = |action_id: &str, value: String| {
        let payload = serde_json::json!({
            "type": "block_actions", "user": { "id": BOB }, "channel": { "id": channel },
            "actions": [{ "type": "button", "action_id": action_id, "value": value }],
        });
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap().into_bytes()
    };
    let form = "application/x-www-form-urlencoded";

    for (action_id, value) in [
        ("checklist.done.1", "not-an-incident|1".to_string()),
        ("checklist.done.999", format!("{}|999", incident.id)),
        ("checklist.done.10", format!("{}|10", incident.id)),
        ("checklist.explode.1", format!("{}|1", incident.id)),
    ] {
        let reply = app.slack.send_signed("/slack/interactions", form, forged(action_id, value)).await.unwrap();
        assert_eq!(reply.status, 200, "{action_id}");
    }
    app.drain().await;

    let replies: Vec<String> = app.replies(BOB).into_iter().map(|e| e.text).collect();
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert!(replies[1].contains("INC-1's checklist has no step 999"), "{replies:?}");
    assert!(replies.iter().filter(|r| r.contains("not one warroom made")).count() == 3, "{replies:?}");
    assert!(events(&app, "checklist_step_done").await.is_empty());
    assert!(events(&app, "diagnostic_requested").await.is_empty(), "a Done on a Run step runs nothing");
    app.finish().await;
}
