//! Roles (`[roles] names`): `/incident role` allowed and refused (`assign_roles`; the commander
//! through `change_commander`), unknown roles and bad mentions, `/incident roles`, the declare
//! modal's pickers, the roles in the declaration, the status update and the report, and the
//! unfilled-role reminder on the injected clock. Alice declares (commander), bob is the
//! responder, carol has no role.

use chrono::Duration;
use warroom::config::{Permission, Principal, Settings};
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::timeline::export::Format;

use crate::harness::*;

/// Bob is the responder; `configure` adds the rest.
async fn app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.file.responders.users = vec![BOB.into()];
        configure(s);
    })
    .await
}

/// P1 wants a commander and a communications lead, reminded after 10 minutes.
fn comms_required(s: &mut Settings) {
    let ten = HumanDuration(std::time::Duration::from_secs(600));
    s.file.roles.require(Severity::P1, &["commander", "comms"], ten);
}

/// Alice declares `text`; the incident channel.
async fn declare(app: &TestApp, text: &str) -> String {
    app.slash(ALICE, text).await;
    app.drain().await;
    app.only_incident().await.channel_id.unwrap()
}

/// `/incident <text>` by `user` in #incidents; drains; the reply.
async fn says(app: &TestApp, user: &str, text: &str) -> String {
    let reply = app.slash(user, text).await.text();
    app.drain().await;
    reply
}

/// The channel's message texts (first block), oldest first.
fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    let channel = app.slack.channel(channel).unwrap();
    channel.messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or(&m.text).to_string()).collect()
}

fn posts_with(app: &TestApp, channel: &str, needle: &str) -> Vec<String> {
    texts(app, channel).into_iter().filter(|t| t.contains(needle)).collect()
}

async fn count(app: &TestApp, kind: &str) -> usize {
    let incident = app.only_incident().await;
    app.timeline(&incident).await.iter().filter(|k| *k == kind).count()
}

async fn holders(app: &TestApp) -> Vec<(String, String)> {
    let incident = app.only_incident().await;
    let mut rows = warroom::incident::roles::holders(&app.db, incident.id).await.unwrap();
    rows.sort();
    rows
}

/// The declaration's text as it stands in the incident channel.
fn declaration(app: &TestApp, channel: &str) -> String {
    texts(app, channel).into_iter().find(|t| t.contains("INCIDENT:")).unwrap()
}

async fn at(app: &TestApp, minutes: i64, seconds: i64) {
    app.clock.set(start_time() + Duration::minutes(minutes) + Duration::seconds(seconds));
    app.drain().await;
}

#[tokio::test]
async fn roles_a_responder_fills_a_role_and_the_channel_is_told_once() {
    let app = app_with(|_| {}).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    assert!(declaration(&app, &channel).contains("*Scribe:* unfilled (`/incident role scribe @someone`)"));

    let reply = says(&app, BOB, "role INC-1 scribe <@U0CAROL|carol>").await;
    assert!(reply.contains("<@U0CAROL> is now Scribe of INC-1"), "{reply}");
    assert_eq!(holders(&app).await, [("scribe".to_string(), CAROL.to_string())]);
    let told = posts_with(&app, &channel, ":label:");
    assert_eq!(told, [":label: <@U0CAROL> is now *Scribe* of INC-1 (assigned by <@U0BOB>)."]);
    assert!(app.slack.channel(&channel).unwrap().members.iter().any(|m| m == CAROL), "the new scribe is invited");
    assert!(declaration(&app, &channel).contains("*Scribe:* <@U0CAROL>"), "the declaration shows the holder");

    // The same assignment again (a repeated delivery, a second try) writes and posts nothing.
    let again = says(&app, BOB, "role INC-1 scribe <@U0CAROL>").await;
    assert!(again.contains("<@U0CAROL> is Scribe of INC-1 already"), "{again}");
    assert_eq!((posts_with(&app, &channel, ":label:").len(), count(&app, "role_assigned").await), (1, 1));

    // The commander replaces her, from the incident channel (the incident is implied).
    let reply = app.slack.slash(ALICE, &channel, "role scribe <@U0BOB>").await.unwrap().text();
    app.drain().await;
    assert!(reply.contains("<@U0BOB> is now Scribe"), "{reply}");
    assert_eq!(holders(&app).await, [("scribe".to_string(), BOB.to_string())]);
    let told = posts_with(&app, &channel, ":label:");
    assert_eq!(told[1], ":label: <@U0BOB> is now *Scribe* of INC-1 (was <@U0CAROL>; assigned by <@U0ALICE>).");
    assert_eq!(count(&app, "role_assigned").await, 2, "each assignment is a timeline event");
    let events = warroom::timeline::list(&app.db, app.only_incident().await.id).await.unwrap();
    let last = events.iter().rev().find(|e| e.kind == "role_assigned").unwrap();
    assert_eq!((last.payload["user"].as_str(), last.payload["from"].as_str()), (Some(BOB), Some(CAROL)));
    assert_eq!(warroom::timeline::describe::what(last), "Scribe: <@U0BOB> (was <@U0CAROL>)");
    app.finish().await;
}

#[tokio::test]
async fn roles_carol_may_not_assign_a_role_and_nothing_is_written() {
    let app = app_with(|_| {}).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;

    let refused = says(&app, CAROL, "role INC-1 comms <@U0CAROL>").await;
    assert!(
        refused.contains(
            "Only the Incident Commander (<@U0ALICE>) or the responders (<@U0BOB>) may assign roles in INC-1; nothing changed"
        ),
        "{refused}"
    );
    assert!(refused.contains("`[permissions] assign_roles`"), "{refused}");
    let refused = says(&app, CAROL, "role INC-1 commander <@U0CAROL>").await;
    assert!(refused.contains("may change the Incident Commander of INC-1; nothing changed"), "{refused}");
    assert!(refused.contains("`[permissions] change_commander`"), "{refused}");

    assert!(holders(&app).await.is_empty());
    assert_eq!(app.only_incident().await.commander, ALICE);
    assert_eq!((count(&app, "role_assigned").await, count(&app, "commander_changed").await), (0, 0));
    assert!(posts_with(&app, &channel, ":label:").is_empty() && posts_with(&app, &channel, "is now").is_empty());
    app.finish().await;
}

#[tokio::test]
async fn roles_the_commander_role_is_the_commander_and_follows_change_commander() {
    // Only the commander may hand over command; responders may still fill the other roles.
    let app = app_with(|s| s.file.permissions.set(Permission::ChangeCommander, vec![Principal::Commander])).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;

    let refused = says(&app, BOB, "role INC-1 commander <@U0BOB>").await;
    assert!(
        refused.contains("Only the Incident Commander (<@U0ALICE>) may change the Incident Commander"),
        "{refused}"
    );
    assert!(says(&app, BOB, "role INC-1 comms <@U0BOB>").await.contains("is now Communications lead"));

    let reply = says(&app, ALICE, "role INC-1 Commander <@U0BOB>").await;
    assert!(reply.contains("<@U0BOB> is now Incident Commander of INC-1"), "{reply}");
    let incident = app.only_incident().await;
    assert_eq!(incident.commander, BOB, "the commander role is the incident's commander");
    assert_eq!(holders(&app).await, [("comms".to_string(), BOB.to_string())], "no row of its own");
    assert_eq!(count(&app, "commander_changed").await, 1);
    assert_eq!(posts_with(&app, &channel, "is now Incident Commander of INC-1").len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn roles_an_unknown_role_names_the_roles_and_a_bad_mention_gives_the_usage() {
    let app = app_with(|_| {}).await;
    declare(&app, "declare P1 api Checkout 502s").await;

    for user in [BOB, CAROL] {
        let reply = says(&app, user, "role INC-1 scrib <@U0BOB>").await;
        assert!(reply.contains("`scrib` is not a role here; the roles are `commander`, `scribe`, `comms`"), "{reply}");
        assert!(reply.contains("*Usage:* `/incident role <role> @user`"), "{reply}");
    }
    let reply = says(&app, BOB, "role INC-1 scribe bob").await;
    assert!(reply.contains("`/incident role <role> @user`"), "{reply}");
    assert!(reply.contains("`bob` is not a Slack user"), "{reply}");
    let reply = says(&app, BOB, "role INC-1 scribe").await;
    assert!(reply.contains("name the role and mention the person who takes it"), "{reply}");
    let reply = says(&app, BOB, "role INC-1 <!channel> <@U0BOB>").await;
    assert!(reply.contains("is not a role here") && !reply.contains("<!channel>"), "user text is escaped: {reply}");

    assert!(holders(&app).await.is_empty());
    assert_eq!(count(&app, "role_assigned").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn roles_lists_each_role_with_its_holder_to_whoever_asks() {
    let app = app_with(comms_required).await;
    declare(&app, "declare P1 api Checkout 502s").await;
    says(&app, BOB, "role INC-1 scribe <@U0BOB>").await;

    let reply = app.slash(CAROL, "roles INC-1").await;
    app.drain().await;
    assert_eq!(reply.json()["response_type"], "ephemeral");
    let lines: Vec<String> = reply.text().lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "*Roles of INC-1:*",
            "• *Incident Commander* (`commander`): <@U0ALICE> — required at P1",
            "• *Scribe* (`scribe`): <@U0BOB>",
            "• *Communications lead* (`comms`): _unfilled_ — required at P1",
            "Fill one with `/incident role <role> @user`.",
        ]
    );
    assert!(says(&app, ALICE, "help").await.contains("`role <role> @user`"), "the usage names it");
    app.finish().await;
}

#[tokio::test]
async fn roles_the_declare_modal_fills_roles_with_the_declaration() {
    let app = app_with(|_| {}).await;
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let view = app.slack.views().remove(0);
    let pickers: Vec<(&str, &str)> = view.view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["element"]["type"] == "users_select")
        .map(|b| (b["block_id"].as_str().unwrap(), b["label"]["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pickers,
        [("commander", "Incident Commander"), ("role.scribe", "Scribe"), ("role.comms", "Communications lead")]
    );

    // A value that is no user keeps the modal open with the error under its field.
    let bad = [("service", "api"), ("severity", "P1"), ("summary", "Checkout 502s"), ("role.comms", "nobody")];
    let reply = app.slack.submit_view(ALICE, &view.id, &bad).await.unwrap();
    assert_eq!(reply.json()["response_action"], "errors");
    assert!(reply.json()["errors"]["role.comms"].as_str().unwrap().contains("not a Slack user"), "{}", reply.body);
    assert!(app.incidents().await.is_empty());

    let values = [
        ("service", "api"),
        ("severity", "P1"),
        ("summary", "Checkout 502s"),
        ("role.scribe", BOB),
        ("role.comms", CAROL),
    ];
    let reply = app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    assert_eq!(reply.json()["response_action"], "clear");
    app.drain().await;

    assert_eq!(
        holders(&app).await,
        [("comms".to_string(), CAROL.to_string()), ("scribe".to_string(), BOB.to_string())]
    );
    let events = warroom::timeline::list(&app.db, app.only_incident().await.id).await.unwrap();
    let assigned: Vec<_> = events.iter().filter(|e| e.kind == "role_assigned").collect();
    assert_eq!(assigned.len(), 2);
    assert!(assigned.iter().all(|e| e.payload["via"] == "declaration" && e.actor == ALICE));
    let channel = app.only_incident().await.channel_id.unwrap();
    let text = declaration(&app, &channel);
    assert!(text.contains("*Scribe:* <@U0BOB>\n*Communications lead:* <@U0CAROL>"), "{text}");
    let members = app.slack.channel(&channel).unwrap().members;
    assert!(members.iter().any(|m| m == BOB) && members.iter().any(|m| m == CAROL), "the holders are invited");
    assert!(posts_with(&app, &channel, ":label:").is_empty(), "the declaration itself tells of them");
    app.finish().await;
}

#[tokio::test]
async fn roles_are_shown_in_the_status_update_and_the_report() {
    let app = app_with(|_| {}).await;
    let channel = declare(&app, "declare P0 api Everything 500s").await;
    says(&app, BOB, "role INC-1 scribe <@U0CAROL>").await;

    at(&app, 5, 0).await;
    let scheduled = posts_with(&app, &channel, "🔄 UPDATE").pop().unwrap();
    assert!(
        scheduled.contains("*Roles:* Incident Commander <@U0ALICE> · Scribe <@U0CAROL> · Communications lead unfilled"),
        "{scheduled}"
    );
    app.slack.slash(ALICE, &channel, "update status=identified cause=\"bad deploy\"").await.unwrap();
    app.drain().await;
    let posted = posts_with(&app, &channel, "posted by <@U0ALICE>").pop().unwrap();
    assert!(posted.contains("*Roles:* Incident Commander <@U0ALICE> · Scribe <@U0CAROL>"), "{posted}");

    let markdown = String::from_utf8(crate::export::report(&app, Format::Markdown).await).unwrap();
    assert!(
        markdown
            .contains("| Incident Commander | @U0ALICE |\n| Scribe | @U0CAROL |\n| Communications lead | unfilled |\n"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_slice(&crate::export::report(&app, Format::Json).await).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("specs/incident-report.v1.schema.json").unwrap()).unwrap();
    warroom::statuspage::schema::check_against(&schema, &json).expect("the report follows its schema");
    assert_eq!(
        json["incident"]["roles"],
        serde_json::json!([
            { "role": "commander", "name": "Incident Commander", "user": ALICE },
            { "role": "scribe", "name": "Scribe", "user": CAROL },
            { "role": "comms", "name": "Communications lead", "user": null },
        ])
    );
    let csv = String::from_utf8(crate::export::report(&app, Format::Csv).await).unwrap();
    let row = csv.lines().find(|l| l.contains(",role_assigned,")).unwrap();
    assert!(row.contains("Scribe: @U0CAROL"), "{row}");
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("rolled back")).await;
    app.drain().await;
    app.finish().await;
}

/// The `:bell:` reminders in the incident channel and the announcement channel.
fn reminders(app: &TestApp, channel: &str) -> (Vec<String>, Vec<String>) {
    (posts_with(app, channel, ":bell:"), posts_with(app, "incidents", ":bell:"))
}

#[tokio::test]
async fn roles_an_unfilled_required_role_reminds_the_commander_once_then_the_announcement_channel_once() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;

    at(&app, 9, 59).await;
    assert_eq!(reminders(&app, &channel), (vec![], vec![]), "not before remind_unfilled");
    at(&app, 10, 0).await;
    let (here, announced) = reminders(&app, &channel);
    assert_eq!(
        here,
        [":bell: <@U0ALICE>: INC-1 (P1) has been open for 10 min without: *Communications lead*. Fill a role with `/incident role comms @someone`."]
    );
    assert!(announced.is_empty());
    app.drain().await;
    at(&app, 19, 59).await;
    assert_eq!(reminders(&app, &channel), (here.clone(), vec![]), "once, and nothing more before the second interval");

    at(&app, 20, 0).await;
    let (again, announced) = reminders(&app, &channel);
    assert_eq!(again, here, "the commander is not reminded twice");
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(announced[0].contains(&format!("*INC-1* (P1 `api`) still has no *Communications lead* after 20 min. Can someone take it? Join <#{channel}>")), "{}", announced[0]);

    // Draining again, a replica's worker, much later: nothing repeats.
    app.drain().await;
    warroom::jobs::runner::run_due(&app.replica().await).await.unwrap();
    at(&app, 60, 0).await;
    assert_eq!(reminders(&app, &channel), (here, announced));
    assert_eq!(count(&app, "role_reminder").await, 2);
    app.finish().await;
}

#[tokio::test]
async fn roles_a_filled_role_is_not_reminded() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    at(&app, 5, 0).await;
    says(&app, BOB, "role INC-1 comms <@U0BOB>").await;

    at(&app, 10, 0).await;
    at(&app, 20, 0).await;
    assert_eq!(reminders(&app, &channel), (vec![], vec![]));
    assert_eq!(count(&app, "role_reminder").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn roles_a_role_filled_after_the_first_reminder_is_not_announced() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    at(&app, 10, 0).await;
    assert_eq!(reminders(&app, &channel).0.len(), 1);
    says(&app, ALICE, "role INC-1 comms <@U0CAROL>").await;

    at(&app, 20, 0).await;
    assert_eq!((reminders(&app, &channel).0.len(), reminders(&app, &channel).1.len()), (1, 0));
    app.finish().await;
}

#[tokio::test]
async fn roles_a_resolved_incident_is_not_reminded() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    at(&app, 5, 0).await;
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("rolled back")).await;
    app.drain().await;

    at(&app, 10, 0).await;
    at(&app, 20, 0).await;
    assert_eq!(reminders(&app, &channel), (vec![], vec![]));
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'roles.remind' AND state = 'queued'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 0, "the resolution cancelled the timer");
    app.finish().await;
}

#[tokio::test]
async fn roles_a_new_severity_brings_its_own_required_roles() {
    // Declared at P2 (which requires nothing), raised to P1 at minute 12: its 10 minutes from the
    // declaration are past, so the reminder goes at once.
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P2 api Checkout slow").await;
    at(&app, 10, 0).await;
    assert_eq!(reminders(&app, &channel), (vec![], vec![]));
    at(&app, 12, 0).await;
    says(&app, BOB, "sev INC-1 P1").await;
    assert_eq!(reminders(&app, &channel).0.len(), 1, "{:?}", texts(&app, &channel));

    // Lowered to P3 before the second stage: the announcement channel is not told.
    says(&app, ALICE, "sev INC-1 P3").await;
    at(&app, 30, 0).await;
    assert_eq!(reminders(&app, &channel).1.len(), 0);
    app.finish().await;
}

#[tokio::test]
async fn roles_lowering_the_severity_before_the_reminder_cancels_it() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    at(&app, 3, 0).await;
    says(&app, ALICE, "sev INC-1 P2").await;
    at(&app, 10, 0).await;
    at(&app, 20, 0).await;
    assert_eq!(reminders(&app, &channel), (vec![], vec![]));
    app.finish().await;
}

#[tokio::test]
async fn roles_a_reminder_through_a_throttling_slack_that_loses_an_answer_is_posted_once() {
    let app = app_with(comms_required).await;
    let channel = declare(&app, "declare P1 api Checkout 502s").await;
    app.slack.inject("chat.postMessage", warroom::sandbox::Fault::RateLimited { retry_after_secs: 3 }, 1);
    at(&app, 10, 0).await;
    assert!(reminders(&app, &channel).0.is_empty(), "throttled: not yet");
    app.slack.inject("chat.postMessage", warroom::sandbox::Fault::DeliveredThenStatus(500), 1);
    app.settle().await;
    assert_eq!(reminders(&app, &channel).0.len(), 1, "delivered, its answer lost, found again: once");

    at(&app, 20, 0).await;
    app.settle().await;
    assert_eq!(reminders(&app, &channel).1.len(), 1);
    assert_eq!(count(&app, "role_reminder").await, 2);
    assert_eq!(count(&app, "slack_api_failed").await, 0, "throttling and a lost answer use up nothing");
    app.finish().await;
}
