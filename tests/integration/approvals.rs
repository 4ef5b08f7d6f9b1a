//! Two-person approvals: a change runs only when someone other than the requester, holding the
//! approver role, approves it in time — once, whatever the clicks.

use chrono::Duration;

use crate::diagnostics::{app_with_service_and, finished, shim_calls};
use crate::harness::*;

/// Alice asks for `docker restart <container>`; returns the app, the channel and the approval
/// message's ts.
async fn requested(container: &str, approvers: &[&str], required: u32) -> (TestApp, String, String) {
    let (groups, approvers): (Vec<String>, Vec<String>) =
        approvers.iter().map(|a| a.to_string()).partition(|a| a.starts_with('@'));
    let (app, channel) = app_with_service_and(&[("container", container)], move |s| {
        s.file.approvals.approvers = approvers;
        s.file.approvals.approver_groups = groups.iter().map(|g| g.trim_start_matches('@').to_string()).collect();
        s.file.approvals.required = required;
        s.file.responders.users.push(ALICE.into());
    })
    .await;
    let reply =
        app.slack.slash(ALICE, &channel, "run docker.restart reason=\"crash loop after deploy\"").await.unwrap().text();
    assert!(reply.contains("`docker.restart` is a change"), "{reply}");
    app.drain().await;
    let message = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    assert!(message.blocks.to_string().contains("approval.approve"), "the approval message has its buttons");
    (app, channel, message.ts)
}

/// Clicks a button of the approval message (as it is now; the queue is not drained).
async fn press(app: &TestApp, user: &str, channel: &str, ts: &str, action: &str) {
    app.slack.click(user, channel, ts, action).await.unwrap();
}

/// Drains the queue and returns the last thing `user` was told.
async fn told(app: &TestApp, user: &str) -> String {
    app.drain().await;
    app.slack.ephemerals(user).pop().map(|e| e.text).unwrap_or_default()
}

async fn click(app: &TestApp, user: &str, channel: &str, ts: &str, action: &str) -> String {
    press(app, user, channel, ts, action).await;
    told(app, user).await
}

fn restarts(container: &str) -> usize {
    shim_calls().matches(&format!("docker restart {container}\n")).count()
}

fn message_text(app: &TestApp, channel: &str, ts: &str) -> String {
    let channel = app.slack.channel(channel).unwrap();
    channel.messages.iter().find(|m| m.ts == ts).unwrap().blocks[0]["text"]["text"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_approved_change_runs_once_however_many_clicks() {
    let (app, channel, ts) = requested("ctr-approved", &[BOB, CAROL], 1).await;
    let asked = message_text(&app, &channel, &ts);
    assert!(
        asked.contains("`docker restart ctr-approved`") && asked.contains("*Why:* crash loop after deploy"),
        "{asked}"
    );

    // Two approvers click at once (and Bob twice): both clicks arrive before the message changes.
    press(&app, BOB, &channel, &ts, "approval.approve").await;
    press(&app, BOB, &channel, &ts, "approval.approve").await;
    press(&app, CAROL, &channel, &ts, "approval.approve").await;
    app.drain().await;
    let first = app.replies(BOB).remove(0).text;
    let again = told(&app, CAROL).await;

    let message = app.slack.channel(&channel).unwrap().messages.into_iter().find(|m| m.ts == ts).unwrap();
    assert!(message.blocks[0]["text"]["text"].as_str().unwrap().contains("*Approved* by <@U0BOB>"));
    assert!(!message.blocks.to_string().contains("approval.approve"), "no buttons once decided");
    assert!(first.contains("Approved: the change runs now"), "{first}");
    assert!(again.contains("already approved"), "{again}");
    assert_eq!(restarts("ctr-approved"), 1, "ran once");
    let kinds = app.timeline(&app.only_incident().await).await;
    for kind in ["approval_requested", "approval_granted", "diagnostic_finished"] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }
    assert_eq!(finished(&app).await[0]["action"], "docker.restart");
    app.finish().await;
}

#[tokio::test]
async fn approving_ones_own_request_is_refused() {
    let (app, channel, ts) = requested("ctr-self", &[ALICE, BOB], 1).await;

    let told = click(&app, ALICE, &channel, &ts, "approval.approve").await;

    assert!(told.contains("cannot approve or deny your own request"), "{told}");
    assert_eq!(restarts("ctr-self"), 0);
    app.finish().await;
}

#[tokio::test]
async fn someone_who_is_not_an_approver_is_refused() {
    let (app, channel, ts) = requested("ctr-member", &[CAROL], 1).await;

    let told = click(&app, BOB, &channel, &ts, "approval.approve").await;

    assert!(told.contains("not one of the configured approvers"), "{told}");
    assert_eq!(restarts("ctr-member"), 0);
    app.finish().await;
}

#[tokio::test]
async fn an_expired_request_cannot_be_approved() {
    let (app, channel, ts) = requested("ctr-expired", &[BOB], 1).await;

    app.clock.advance(Duration::minutes(15));
    // The click races the expiry timer: it arrives first, and is refused all the same.
    let told = click(&app, BOB, &channel, &ts, "approval.approve").await;

    assert!(message_text(&app, &channel, &ts).contains("*Expired* at 15:15 UTC. Nothing ran."));
    assert!(told.contains("This request expired; nothing runs"), "{told}");
    assert_eq!(restarts("ctr-expired"), 0);
    assert!(app.timeline(&app.only_incident().await).await.contains(&"approval_expired".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn a_denied_request_never_runs() {
    let (app, channel, ts) = requested("ctr-denied", &[BOB, CAROL], 1).await;

    press(&app, BOB, &channel, &ts, "approval.deny").await;
    press(&app, CAROL, &channel, &ts, "approval.approve").await;
    let denied = told(&app, BOB).await;
    let late = told(&app, CAROL).await;

    assert!(denied.contains("Denied"), "{denied}");
    assert!(late.contains("already denied"), "{late}");
    assert!(message_text(&app, &channel, &ts).contains("*Denied* by <@U0BOB>"));
    assert_eq!(restarts("ctr-denied"), 0);
    app.finish().await;
}

#[tokio::test]
async fn two_of_two_approvals_are_needed_when_configured() {
    let (app, channel, ts) = requested("ctr-two", &[BOB, CAROL], 2).await;

    let first = click(&app, BOB, &channel, &ts, "approval.approve").await;
    assert!(first.contains("counted (1 of 2)"), "{first}");
    assert_eq!(restarts("ctr-two"), 0, "one approval is not enough");
    assert!(message_text(&app, &channel, &ts).contains("approved so far by <@U0BOB>"));
    let twice = click(&app, BOB, &channel, &ts, "approval.approve").await;
    assert!(twice.contains("already decided"), "{twice}");
    let second = click(&app, CAROL, &channel, &ts, "approval.approve").await;

    assert!(second.contains("Approved"), "{second}");
    assert_eq!(restarts("ctr-two"), 1);
    app.finish().await;
}

#[tokio::test]
async fn members_of_an_approver_user_group_may_approve() {
    // The sandbox's @sre-leads has bob, read through usergroups.list and usergroups.users.list.
    let (app, channel, ts) = requested("ctr-group", &["@sre-leads"], 1).await;

    let outsider = click(&app, CAROL, &channel, &ts, "approval.approve").await;
    let member = click(&app, BOB, &channel, &ts, "approval.approve").await;

    assert!(outsider.contains("not one of the configured approvers"), "{outsider}");
    assert!(member.contains("Approved"), "{member}");
    assert_eq!(restarts("ctr-group"), 1);
    assert_eq!(app.slack.call_count("usergroups.users.list"), 1);
    app.finish().await;
}

#[tokio::test]
async fn approvals_and_the_changes_they_run_are_counted() {
    let (app, channel, ts) = requested("ctr-counted", &[BOB], 1).await;

    click(&app, BOB, &channel, &ts, "approval.approve").await;
    let exposition = crate::metrics::scrape(&app).await;

    assert_eq!(restarts("ctr-counted"), 1);
    crate::metrics::assert_sample(&exposition, "warroom_approvals_total{outcome=\"approved\"} 1");
    crate::metrics::assert_sample(&exposition, "warroom_diagnostic_runs_total{outcome=\"success\"} 1");
    app.finish().await;
}

#[tokio::test]
async fn a_request_a_click_finds_expired_is_counted_as_expired() {
    let (app, channel, ts) = requested("ctr-expired-counted", &[BOB], 1).await;
    app.clock.advance(Duration::minutes(15));

    click(&app, BOB, &channel, &ts, "approval.approve").await;
    let exposition = crate::metrics::scrape(&app).await;

    crate::metrics::assert_sample(&exposition, "warroom_approvals_total{outcome=\"expired\"} 1");
    assert!(!exposition.contains("outcome=\"approved\""), "{exposition}");
    app.finish().await;
}
