//! Who may do what: every permission of `[permissions]`, allowed and refused, by slash command
//! and by button or modal (a click is a request too). Alice declares (so she is the declarer,
//! the commander and in the channel), bob is the responder, carol has no role and is not in the
//! incident channel until she joins it.

use warroom::config::{Permission, Principal, StatuspageMode};
use warroom::incident::Severity;

use crate::diagnostics::{app_with_service_and, shim_calls};
use crate::harness::*;

/// The `api` service (http, docker... packs) with bob as the only responder and carol as
/// approver, INC-1 declared by alice: the app and the incident channel.
async fn incident() -> (TestApp, String) {
    incident_with(|_| {}).await
}

async fn incident_with(configure: impl FnOnce(&mut warroom::config::Settings) + Send + 'static) -> (TestApp, String) {
    app_with_service_and(&[("container", "perm-api"), ("health_url", "http://127.0.0.1:9/health")], move |s| {
        s.file.responders.users = vec![BOB.into()];
        s.file.approvals.approvers = vec![CAROL.into()];
        configure(s);
    })
    .await
}

/// `/incident <text>` by `user` in `channel`; drains; the reply.
async fn says(app: &TestApp, user: &str, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(user, channel, text).await.unwrap();
    app.drain().await;
    reply.text()
}

/// Clicks `action` on the declaration as `user`; drains; the last thing `user` was told.
async fn clicks(app: &TestApp, user: &str, channel: &str, action: &str) -> String {
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(user, channel, &ts, action).await.unwrap();
    told(app, user).await
}

async fn told(app: &TestApp, user: &str) -> String {
    app.drain().await;
    app.slack.ephemerals(user).pop().map(|e| e.text).unwrap_or_default()
}

async fn count(app: &TestApp, kind: &str) -> usize {
    let incident = app.only_incident().await;
    app.timeline(&incident).await.iter().filter(|k| *k == kind).count()
}

#[tokio::test]
async fn a_read_diagnostic_is_run_only_by_members_of_the_incident_channel() {
    let (app, channel) = incident().await;

    let refused = says(&app, CAROL, "incidents", "run INC-1 http.health").await;
    assert!(refused.contains(&format!("Only members of <#{channel}> may run diagnostics in INC-1")), "{refused}");
    assert!(refused.contains("`[permissions] run_read`"), "the refusal says where the rule lives: {refused}");
    clicks(&app, CAROL, &channel, "incident.diagnostics").await;
    let value = format!("{}|http.health", app.only_incident().await.id);
    app.slack.click_ephemeral(CAROL, "diagnostics.run", &value).await.unwrap();
    assert!(told(&app, CAROL).await.contains("Only members of"), "the Run button is checked like the command");
    assert_eq!(count(&app, "diagnostic_requested").await, 0, "nothing ran");

    // Carol joins the channel (Slack sends member_joined_channel): now she may, by both ways.
    app.slack.join(CAROL, &channel).await.unwrap();
    assert!(says(&app, CAROL, &channel, "run http.health").await.contains("Running `http.health`"));
    app.slack.click_ephemeral(CAROL, "diagnostics.run", &value).await.unwrap();
    assert!(told(&app, CAROL).await.contains("Running `http.health`"));
    assert_eq!(count(&app, "diagnostic_requested").await, 2);

    // ... and when she leaves, she may not any more.
    app.slack.leave(CAROL, &channel).await.unwrap();
    assert!(says(&app, CAROL, "incidents", "run INC-1 http.health").await.contains("Only members of"));
    app.finish().await;
}

#[tokio::test]
async fn a_repeated_join_event_is_recorded_once_and_a_leave_undoes_it() {
    let (app, channel) = incident().await;
    let (event_id, _) = app.slack.join(CAROL, &channel).await.unwrap();
    let again = serde_json::json!({ "type": "member_joined_channel", "user": CAROL, "channel": channel });
    app.slack.deliver_event(&again, &event_id).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM channel_members WHERE channel_id = $1 AND user_id = $2")
        .bind(&channel)
        .bind(CAROL)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // A join to a channel that is no incident's is none of warroom's business.
    app.slack.join(CAROL, "general").await.unwrap();
    let elsewhere: i64 = sqlx::query_scalar("SELECT count(*) FROM channel_members WHERE channel_id = 'C0GENERAL'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(elsewhere, 0);
    app.drain().await;
    app.finish().await;
}

#[tokio::test]
async fn members_warroom_never_read_are_read_from_slack_on_the_first_refusal() {
    let (app, channel) = incident().await;
    // As for an incident declared before warroom kept members: it knows none.
    sqlx::query("DELETE FROM channel_members").execute(&app.db).await.unwrap();

    let first = says(&app, ALICE, &channel, "run http.health").await;
    assert!(first.contains("warroom is reading the members"), "{first}");
    // The drain ran conversations.members: alice is a member again.
    assert!(says(&app, ALICE, &channel, "run http.health").await.contains("Running"));
    assert!(says(&app, CAROL, "incidents", "run INC-1 http.health").await.contains("Only members of"));
    app.finish().await;
}

#[tokio::test]
async fn a_change_is_requested_only_by_a_responder_by_command_and_by_button() {
    let (app, channel) = incident().await;

    let refused = says(&app, ALICE, &channel, "run docker.restart").await;
    assert!(refused.contains("Only the responders (<@U0BOB>) may request changes"), "{refused}");
    clicks(&app, ALICE, &channel, "incident.diagnostics").await;
    let value = format!("{}|docker.restart", app.only_incident().await.id);
    app.slack.click_ephemeral(ALICE, "diagnostics.run", &value).await.unwrap();
    assert!(told(&app, ALICE).await.contains("Only the responders"));
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM approval_requests").fetch_one(&app.db).await.unwrap();
    assert_eq!(requests, 0, "no approval request was made");

    assert!(says(&app, BOB, &channel, "run docker.restart").await.contains("is a change"));
    clicks(&app, BOB, &channel, "incident.diagnostics").await;
    app.slack.click_ephemeral(BOB, "diagnostics.run", &value).await.unwrap();
    assert!(told(&app, BOB).await.contains("is a change"));
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM approval_requests").fetch_one(&app.db).await.unwrap();
    assert_eq!(requests, 2);
    assert!(!shim_calls().contains("docker restart perm-api"), "nothing runs before an approval");
    app.finish().await;
}

#[tokio::test]
async fn taking_command_needs_the_commander_or_a_responder_so_no_one_can_make_themselves_resolver() {
    let (app, channel) = incident().await;
    app.slack.join(CAROL, &channel).await.unwrap();

    let refused = says(&app, CAROL, &channel, "ic <@U0CAROL|carol>").await;
    assert!(refused.contains("may change the Incident Commander of INC-1"), "{refused}");
    assert!(says(&app, CAROL, &channel, "resolve").await.contains("may resolve INC-1"));
    assert_eq!(app.only_incident().await.commander, ALICE);

    assert!(says(&app, ALICE, &channel, "ic <@U0BOB|bob>").await.contains("is now Incident Commander"));
    // Alice is neither commander nor responder now.
    assert!(says(&app, ALICE, &channel, "ic <@U0ALICE|alice>")
        .await
        .contains("Only the Incident Commander (<@U0BOB>)"));
    assert!(says(&app, BOB, &channel, "ic <@U0CAROL|carol>").await.contains("is now Incident Commander"));
    assert_eq!(app.only_incident().await.commander, CAROL);
    app.finish().await;
}

#[tokio::test]
async fn lowering_the_severity_needs_the_commander_or_a_responder_and_raising_does_not() {
    let (app, channel) = incident().await;
    app.slack.join(CAROL, &channel).await.unwrap();
    let tiers = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE kind = 'escalation.tier' AND state = 'queued'")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(tiers().await, 3);

    let refused = says(&app, CAROL, &channel, "sev P3").await;
    assert!(refused.contains("may lower the severity of INC-1"), "{refused}");
    assert_eq!((app.only_incident().await.severity, tiers().await), ("P0".to_string(), 3), "paging goes on");

    assert!(says(&app, ALICE, &channel, "sev P2").await.contains("is now P2"));
    assert!(says(&app, CAROL, &channel, "sev P1").await.contains("is now P1"), "anyone may raise it");
    assert!(says(&app, BOB, &channel, "sev P3").await.contains("is now P3"));
    app.finish().await;
}

#[tokio::test]
async fn resolving_is_checked_by_command_by_button_and_again_at_the_modal_submission() {
    let (app, channel) = incident().await;

    assert!(says(&app, CAROL, "incidents", "resolve INC-1").await.contains("may resolve INC-1"));
    assert!(clicks(&app, CAROL, &channel, "incident.resolve").await.contains("may resolve INC-1"));
    assert!(app.slack.views().is_empty(), "no modal opened for carol");

    app.slack
        .click(BOB, &channel, &app.only_incident().await.declaration_ts.unwrap(), "incident.resolve")
        .await
        .unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the responder gets the modal");
    // Carol submits the modal bob opened (a forged submission): refused under its field.
    let forged = app.slack.submit_view(CAROL, &view.id, &[("resolution", "nothing")]).await.unwrap();
    assert_eq!(forged.json()["response_action"], "errors", "{}", forged.body);
    assert!(forged.body.contains("may resolve INC-1"), "{}", forged.body);
    assert!(!app.only_incident().await.is_resolved());

    let done = app.slack.submit_view(BOB, &view.id, &[("resolution", "rolled back")]).await.unwrap();
    assert_eq!(done.json()["response_action"], "clear");
    app.drain().await;
    assert!(app.only_incident().await.is_resolved());
    app.finish().await;
}

#[tokio::test]
async fn reopening_needs_the_commander_or_a_responder() {
    let (app, channel) = incident().await;
    let incident = app.only_incident().await;
    app.resolve_directly(&incident, ALICE, &Default::default(), None).await;
    app.drain().await;

    assert!(says(&app, CAROL, "incidents", "reopen INC-1").await.contains("Only the Incident Commander"));
    assert!(app.only_incident().await.is_resolved());
    assert!(says(&app, BOB, &channel, "reopen").await.contains("is open again"));
    app.finish().await;
}

#[tokio::test]
async fn status_page_text_is_written_only_by_the_commander_or_a_responder() {
    let (app, channel) = incident().await;
    app.slack.join(CAROL, &channel).await.unwrap();
    let pushes = || app.statuspage.requests().len();
    let before = pushes();

    // Auto mode: an update is status page text.
    let refused = says(&app, CAROL, &channel, "update status=identified cause=\"<script>\"").await;
    assert!(refused.contains("may write or confirm the status page text of INC-1"), "{refused}");
    assert!(clicks(&app, CAROL, &channel, "incident.post_update").await.contains("status page text"));
    assert!(app.slack.views().is_empty());
    assert_eq!((pushes(), app.only_incident().await.status), (before, "investigating".to_string()));

    app.slack
        .click(BOB, &channel, &app.only_incident().await.declaration_ts.unwrap(), "incident.post_update")
        .await
        .unwrap();
    app.drain().await;
    let view = app.slack.views().pop().unwrap();
    let forged = app.slack.submit_view(CAROL, &view.id, &[("status", "monitoring")]).await.unwrap();
    assert!(forged.body.contains("status page text"), "{}", forged.body);
    assert_eq!(app.only_incident().await.status, "investigating");
    let done = app.slack.submit_view(BOB, &view.id, &[("status", "identified")]).await.unwrap();
    assert_eq!(done.json()["response_action"], "clear");
    app.settle().await;
    assert!(pushes() > before, "bob's update reached the status page");
    app.finish().await;
}

#[tokio::test]
async fn a_manual_draft_is_posted_or_edited_only_by_the_commander_or_a_responder() {
    let (app, channel) =
        incident_with(|s| s.file.severity.get_mut(&Severity::P0).unwrap().statuspage = StatuspageMode::Manual).await;
    app.slack.join(CAROL, &channel).await.unwrap();
    // In manual mode anyone in the channel may draft; the draft waits for a confirmation.
    says(&app, CAROL, &channel, "update status=identified").await;
    let preview = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    let before = app.statuspage.requests().len();

    for button in ["statuspage_post", "statuspage_edit"] {
        app.slack.click(CAROL, &channel, &preview.ts, button).await.unwrap();
        assert!(told(&app, CAROL).await.contains("status page text"), "{button}");
    }
    assert!(app.slack.views().is_empty());
    assert_eq!(app.statuspage.requests().len(), before, "carol's clicks pushed nothing");

    app.slack.click(ALICE, &channel, &preview.ts, "statuspage_post").await.unwrap();
    app.settle().await;
    assert!(app.statuspage.requests().len() > before);
    app.finish().await;
}

#[tokio::test]
async fn escalate_now_is_for_members_of_the_incident_channel() {
    let (app, channel) = incident().await;
    let fired =
        || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM escalations").fetch_one(&app.db).await.unwrap() };

    assert!(says(&app, CAROL, "incidents", "escalate INC-1 nobody answers").await.contains("may escalate INC-1"));
    assert!(clicks(&app, CAROL, &channel, "incident.escalate").await.contains("may escalate INC-1"));
    assert_eq!(fired().await, 0);

    app.slack.join(CAROL, &channel).await.unwrap();
    assert!(clicks(&app, CAROL, &channel, "incident.escalate").await.contains("Escalating INC-1 to tier 1"));
    assert!(says(&app, ALICE, &channel, "escalate still down").await.contains("tier 2"));
    assert_eq!(fired().await, 2);
    app.settle().await;
    app.finish().await;
}

#[tokio::test]
async fn user_groups_and_user_ids_are_principals_read_from_slack() {
    // `@sre-leads` is bob in the sandbox workspace.
    let (app, channel) = incident_with(|s| {
        s.file.responders.users.clear();
        // A group Slack does not have is skipped; the others are still read.
        let groups = vec![Principal::Group("no-such-group".into()), Principal::Group("sre-leads".into())];
        s.file.permissions.set(Permission::Resolve, groups);
        s.file.permissions.set(Permission::Reopen, vec![Principal::User(CAROL.into())]);
    })
    .await;
    warroom::diagnostics::approvals::queue_group_refresh(&app.db, "test", app.clock.now_utc()).await.unwrap();
    app.drain().await;

    let refused = says(&app, ALICE, &channel, "resolve").await;
    assert!(refused.contains("Only members of @no-such-group or members of @sre-leads may resolve INC-1"), "{refused}");
    says(&app, BOB, &channel, "resolve").await;
    assert_eq!(app.slack.views().len(), 1, "bob, of @sre-leads, gets the modal");
    let incident = app.only_incident().await;
    app.resolve_directly(&incident, BOB, &Default::default(), None).await;
    app.drain().await;
    assert!(says(&app, BOB, &channel, "reopen").await.contains("Only <@U0CAROL> may reopen"));
    assert!(says(&app, CAROL, "incidents", "reopen INC-1").await.contains("is open again"));
    app.settle().await;
    app.finish().await;
}
