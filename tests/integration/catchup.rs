//! The catch-up card: whoever joins an incident channel gets it once per join (not for Slack's
//! redelivery, not for a join Slack repeats, not for warroom itself or the people invited with
//! the declaration), `/incident catchup` shows it anywhere, and a Slack failure delays it
//! without doubling it.

use serde_json::json;
use warroom::config::RunnerTokens;
use warroom::sandbox::Fault;
use warroom::sandbox::BOT_USER;

use crate::harness::*;
use crate::runbook_checklist::{click, declared, COMPOSE};

/// The cards `user` was sent by `chat.postEphemeral`, as the text of all their blocks.
fn cards(app: &TestApp, user: &str) -> Vec<String> {
    app.slack
        .ephemerals(user)
        .into_iter()
        .filter(|e| e.via == "chat.postEphemeral" && e.text.starts_with("Catching up on"))
        .map(|e| card_text(&e.blocks))
        .collect()
}

/// Every text of a card's blocks (header, sections, footer), one a line.
fn card_text(blocks: &serde_json::Value) -> String {
    let mut lines = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        if let Some(text) = block["text"]["text"].as_str() {
            lines.push(text.to_string());
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            lines.extend(element["text"].as_str().map(str::to_string));
        }
    }
    lines.join("\n")
}

/// INC-1 for the compose seed's service (its runbook checklist posted, bob in the channel), its
/// diagnostics run by runner `edge-1` (offline), carol the only approver.
async fn incident() -> (TestApp, String) {
    declared(&COMPOSE, |s| {
        s.runner_tokens = RunnerTokens::parse("edge-1=edge-1-token-0123456789abcdef").unwrap();
        s.file.services.get_mut(COMPOSE.service).unwrap().runner = Some("edge-1".into());
        s.file.approvals.approvers = vec![CAROL.into()];
        s.file.responders.users = vec![ALICE.into(), BOB.into()];
    })
    .await
}

/// Alice posts an update with `cause`, a minute later than the last.
async fn update(app: &TestApp, channel: &str, cause: &str) {
    app.clock.advance(chrono::Duration::minutes(1));
    let reply = app.slack.slash(ALICE, channel, &format!("update status=identified cause=\"{cause}\"")).await.unwrap();
    assert!(reply.text().contains("Update recorded"), "{}", reply.text());
    app.drain().await;
}

async fn card_jobs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'catchup.card'").fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn catchup_a_joiner_gets_the_card_with_where_the_incident_stands() {
    let (app, channel) = incident().await;
    for cause in ["first guess", "second guess", "the OOM kill", "the 2G memory limit"] {
        update(&app, &channel, cause).await;
    }
    // A read handed to the (offline) runner, a change waiting for carol, an action item, and a
    // runbook step ticked.
    let asked = app.slack.slash(ALICE, &channel, "run compose.ps").await.unwrap().text();
    let change = app.slack.slash(ALICE, &channel, "run compose.restart reason=\"stuck worker\"").await.unwrap().text();
    let followup =
        app.slack.slash(ALICE, &channel, "followup Alert on container restarts <@U0BOB> immediate").await.unwrap();
    assert!(followup.text().contains("Action item added"), "{}", followup.text());
    app.drain().await;
    click(&app, &channel, BOB, 5).await;
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(2));

    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;

    let cards = cards(&app, CAROL);
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card = &cards[0];
    for expected in [
        "Catching up on INC-1",
        "*Status:* identified",
        "*Severity:* P0",
        "*Incident Commander:* <@U0ALICE>",
        "*Declared:* 15:00 UTC, 6m 00s ago",
        "*Last update:* 2m 00s ago",
        // The last three updates, newest first; the first is left out.
        "by <@U0ALICE>: identified · cause: the 2G memory limit",
        "cause: the OOM kill",
        "cause: second guess",
        "`compose.ps` waiting for runner `edge-1`, asked by <@U0ALICE>",
        "`compose.restart` asked by <@U0ALICE> 2m 00s ago — 0 of 1 approvals",
        ": stuck worker",
        "• Alert on container restarts (immediate, <@U0BOB>)",
        "34 of 35 steps open",
        "• 1. `docker-compose ps`",
    ] {
        assert!(card.contains(expected), "the card lacks {expected:?}:\n{card}\n(asked: {asked}; change: {change})");
    }
    assert!(!card.contains("first guess"), "only the last three updates:\n{card}");
    assert!(!card.contains("• 5."), "the ticked step is not open:\n{card}");
    let updates = card.find("the 2G memory limit").unwrap() < card.find("the OOM kill").unwrap();
    assert!(updates, "newest first:\n{card}");
    app.finish().await;
}

#[tokio::test]
async fn catchup_a_redelivered_or_repeated_join_sends_no_second_card_and_a_rejoin_does() {
    let (app, channel) = incident().await;
    let (event_id, _) = app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    assert_eq!(cards(&app, CAROL).len(), 1);

    // Slack's retry of the same delivery, and a second join event for someone still present.
    let event = json!({ "type": "member_joined_channel", "user": CAROL, "channel": channel, "channel_type": "C",
                        "event_ts": "1700000000.000100" });
    let retried = app.slack.deliver_event(&event, &event_id).await.unwrap();
    assert_eq!(retried.status, 200);
    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    assert_eq!(cards(&app, CAROL).len(), 1, "one card for one join");
    assert_eq!(card_jobs(&app).await, 2, "bob's join at the set-up, carol's");

    // She leaves and comes back: a new join, a new card.
    app.slack.leave(CAROL, &channel).await.unwrap();
    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    assert_eq!(cards(&app, CAROL).len(), 2);
    app.finish().await;
}

#[tokio::test]
async fn catchup_warroom_and_the_people_invited_with_the_declaration_get_no_card() {
    let (app, channel) = incident().await;
    app.slack.join(BOT_USER, &channel).await.unwrap();
    app.slack.join(ALICE, &channel).await.unwrap();
    app.drain().await;
    assert!(cards(&app, BOT_USER).is_empty());
    assert!(cards(&app, ALICE).is_empty(), "alice declared it and commands it");
    let bot_jobs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'catchup.card' AND payload->>'user' = $1 AND state = 'done'",
    )
    .bind(BOT_USER)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(bot_jobs, 1, "the bot's job ran and sent nothing");

    // Carol, made commander later, was not there from the start: her join gets the card.
    app.slack.slash(ALICE, &channel, "ic <@U0CAROL>").await.unwrap();
    app.drain().await;
    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    let carol = cards(&app, CAROL);
    assert_eq!(carol.len(), 1);
    assert!(carol[0].contains("*Incident Commander:* <@U0CAROL>"), "{}", carol[0]);

    // Alice leaves and comes back later: that join is a new one.
    app.slack.leave(ALICE, &channel).await.unwrap();
    app.slack.join(ALICE, &channel).await.unwrap();
    app.drain().await;
    assert_eq!(cards(&app, ALICE).len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn catchup_the_command_shows_the_card_in_the_channel_and_by_number_elsewhere() {
    let (app, channel) = incident().await;
    update(&app, &channel, "the OOM kill").await;

    let here = app.slack.slash(CAROL, &channel, "catchup").await.unwrap();
    let elsewhere = app.slash(CAROL, "catchup INC-1").await;
    for reply in [&here, &elsewhere] {
        let body = reply.json();
        assert_eq!(body["response_type"], "ephemeral", "{body}");
        let card = card_text(&body["blocks"]);
        assert!(card.contains("Catching up on INC-1") && card.contains("cause: the OOM kill"), "{card}");
    }
    assert!(card_text(&elsewhere.json()["blocks"]).contains(&format!("<#{channel}>")));

    // Bad input says what was wrong; nothing is queued for it.
    assert!(app.slash(CAROL, "catchup INC-99").await.text().contains("There is no incident INC-99"));
    assert!(app.slash(CAROL, "catchup").await.text().contains("not an incident channel"));
    assert!(app.slash(CAROL, "catchup now please").await.text().contains("takes nothing else"));
    assert_eq!(card_jobs(&app).await, 1, "only bob's join at the set-up");
    app.finish().await;
}

#[tokio::test]
async fn catchup_a_join_outside_an_incident_channel_sends_nothing() {
    let (app, _channel) = incident().await;
    let before = card_jobs(&app).await;
    app.slack.join(CAROL, "incidents").await.unwrap();
    app.drain().await;
    assert!(cards(&app, CAROL).is_empty());
    assert_eq!(card_jobs(&app).await, before);
    let joins: i64 = sqlx::query_scalar("SELECT count(*) FROM catchup_joins WHERE user_id = $1")
        .bind(CAROL)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(joins, 0);
    app.finish().await;
}

#[tokio::test]
async fn catchup_a_slack_500_on_post_ephemeral_is_retried_and_sends_one_card() {
    let (app, channel) = incident().await;
    app.slack.inject("chat.postEphemeral", Fault::Status(500), 1);
    let calls = app.slack.call_count("chat.postEphemeral");
    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    assert!(cards(&app, CAROL).is_empty(), "refused the first time");
    app.settle().await;
    assert_eq!(cards(&app, CAROL).len(), 1);
    assert_eq!(app.slack.call_count("chat.postEphemeral") - calls, 2, "one failure, one card");
    app.finish().await;
}

#[tokio::test]
async fn catchup_a_slack_429_on_post_ephemeral_waits_and_sends_one_card() {
    let (app, channel) = incident().await;
    app.slack.inject("chat.postEphemeral", Fault::RateLimited { retry_after_secs: 7 }, 1);
    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    assert!(cards(&app, CAROL).is_empty(), "throttled the first time");
    app.settle().await;
    assert_eq!(cards(&app, CAROL).len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn catchup_the_card_names_every_role_and_each_open_follow_up_with_its_issue() {
    use warroom::config::{ServiceConfig, Tracker};
    use warroom::sandbox::trackers::Kind;
    let app = spawn_app_with(|s| {
        let tracker = Some(Tracker::parse("github:acme/api").unwrap());
        s.file.services.insert("api".into(), ServiceConfig { tracker, ..Default::default() });
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    for command in ["role scribe <@U0BOB>", "followup Raise the memory limit immediate", "followup Add an alert long"] {
        app.slack.slash(ALICE, &channel, command).await.unwrap();
        app.drain().await;
    }
    let issues = app.trackers.issues(Kind::GitHub);
    assert_eq!(issues.len(), 2, "{issues:?}");
    // The first item's issue is closed in GitHub and read back.
    let first = issues.iter().find(|i| i.title.contains("Raise the memory limit")).unwrap();
    assert!(app.trackers.set_closed(&first.key, true));
    app.clock.advance(chrono::Duration::minutes(16));
    app.drain().await;

    app.slack.join(CAROL, &channel).await.unwrap();
    app.drain().await;
    let cards = cards(&app, CAROL);
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card = &cards[0];
    for expected in [
        "*Incident Commander:* <@U0ALICE>",
        "*Scribe:* <@U0BOB>",
        "*Communications lead:* unfilled — `/incident role comms @someone`",
        "• Add an alert (long-term) — <https://github.com/acme/api/issues/2|acme/api#2>",
    ] {
        assert!(card.contains(expected), "the card lacks {expected:?}:\n{card}");
    }
    assert!(!card.contains("Raise the memory limit"), "a follow-up whose issue is closed is done:\n{card}");
    app.finish().await;
}

#[tokio::test]
async fn catchup_of_a_private_incident_named_from_outside_is_no_incident_for_a_non_member() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare --private P0 inference-gateway Keys leaked").await;
    app.drain().await;
    let reply = app.slash(CAROL, "catchup INC-1").await.text();
    assert_eq!(reply, ":x: There is no incident INC-1.");
    let reply = app.slash(ALICE, "catchup INC-1").await.text();
    assert!(reply.starts_with("Catching up on INC-1"), "{reply}");
    app.finish().await;
}

#[tokio::test]
async fn catchup_the_card_shows_what_was_seen_before_on_the_service() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.drain().await;
    let first = app.only_incident().await;
    let fields = warroom::incident::store::UpdateFields {
        root_cause: Some("the model server ran out of GPU memory".into()),
        ..Default::default()
    };
    app.resolve_directly(&first, ALICE, &fields, Some("restarted the gateway with a smaller batch")).await;
    app.clock.advance(chrono::Duration::days(2));
    app.slash(ALICE, "declare P0 inference-gateway Inference API errors again").await;
    app.drain().await;
    let second = sqlx::query_scalar::<_, String>("SELECT channel_id FROM incidents WHERE number = 2")
        .fetch_one(&app.db)
        .await
        .unwrap();
    app.slack.join(CAROL, &second).await.unwrap();
    app.drain().await;
    let cards = cards(&app, CAROL);
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card = &cards[0];
    for expected in [
        "*Seen before*",
        "*INC-1* Inference API returns 100% errors (inference-gateway, 48h 00m ago",
        "fixed by: restarted the gateway",
    ] {
        assert!(card.contains(expected), "the card lacks {expected:?}:\n{card}");
    }
    app.finish().await;
}
