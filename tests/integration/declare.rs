use crate::harness::*;
use warroom::sandbox::BOT_USER;

#[tokio::test]
async fn declaring_by_text_opens_a_channel_posts_pins_and_announces() {
    let app = spawn_app().await;

    let reply = app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["response_type"], "ephemeral");
    assert!(reply.text().contains("Declared *INC-1*"), "{}", reply.body);

    let incident = app.only_incident().await;
    assert_eq!(incident.number, 1);
    assert_eq!(incident.severity, "P0");
    assert_eq!(incident.service, "inference-gateway");
    assert_eq!(incident.title, "Inference API returns 100% errors");
    assert_eq!(incident.commander, ALICE);
    assert_eq!(incident.status, "investigating");
    assert_eq!(incident.declared_at, start_time());

    app.drain().await;

    let channel = app.slack.channel("inc-1-inference-gateway").expect("the incident channel exists");
    assert!(channel.members.iter().any(|m| m == ALICE), "the declarer is invited");
    assert!(channel.topic.starts_with("INC-1 P0 · inference-gateway"), "{}", channel.topic);
    assert_eq!(channel.messages.len(), 1);
    let declaration = &channel.messages[0];
    assert!(declaration.pinned);
    let text = declaration.blocks[0]["text"]["text"].as_str().unwrap();
    for expected in [
        "🚨 MAJOR INCIDENT: INFERENCE GATEWAY DOWN",
        "*Severity:* P0 (All-hands)",
        "*Incident Commander:* <@U0ALICE>",
        "*Started:* 2026-11-23 15:00 UTC",
        "*Status:* investigating",
        "ALL HANDS ON DECK",
        "*Next update:* 15:05 UTC",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(declaration.blocks[1]["elements"][0]["action_id"], "incident.acknowledge");

    let announcement = app.slack.channel("incidents").unwrap();
    assert_eq!(announcement.messages.len(), 1);
    let announced = announcement.messages[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(announced.contains(&format!("<#{}>", channel.id)), "the announcement links the channel");

    let incident = app.only_incident().await;
    assert_eq!(incident.channel_id.as_deref(), Some(channel.id.as_str()));
    assert_eq!(incident.declaration_ts.as_deref(), Some(declaration.ts.as_str()));
    assert_eq!(incident.announce_channel_id.as_deref(), Some("C0INCIDENTS"));
    let mut kinds = app.timeline(&incident).await;
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "channel_created",
            "declared",
            "members_invited",
            "message_posted",
            "message_posted",
            "pinned",
            "statuspage_pushed",
            "topic_set"
        ]
    );
    app.finish().await;
}

#[tokio::test]
async fn declaring_through_the_modal_uses_its_fields() {
    let app = spawn_app().await;

    let reply = app.slash(ALICE, "declare").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert!(app.incidents().await.is_empty(), "nothing is declared until the modal is submitted");
    app.drain().await;
    let views = app.slack.views();
    assert_eq!(views.len(), 1, "the declaration modal was opened");

    let values = [
        ("service", "payments-api"),
        ("severity", "P1"),
        ("summary", "Checkout returns 502"),
        ("commander", BOB),
        ("impact", "40% of checkouts failing"),
    ];
    let reply = app.slack.submit_view(ALICE, &views[0].id, &values).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["response_action"], "clear");
    app.drain().await;

    let incident = app.only_incident().await;
    assert_eq!((incident.severity.as_str(), incident.commander.as_str()), ("P1", BOB));
    assert_eq!(incident.impact.as_deref(), Some("40% of checkouts failing"));
    let channel = app.slack.channel("inc-1-payments-api").unwrap();
    assert!(channel.members.iter().any(|m| m == ALICE) && channel.members.iter().any(|m| m == BOB));
    let text = channel.messages[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(
        text.contains("*Severity:* P1 (Major)")
            && text.contains("<@U0BOB>")
            && text.contains("*Next update:* 15:15 UTC")
    );
    assert!(text.contains("*Impact:* 40% of checkouts failing"));
    app.finish().await;
}

#[tokio::test]
async fn a_modal_with_bad_fields_shows_errors_and_creates_nothing() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let view = app.slack.views().remove(0);

    let reply =
        app.slack.submit_view(ALICE, &view.id, &[("service", "not a service!"), ("severity", "P9")]).await.unwrap();

    assert_eq!(reply.json()["response_action"], "errors");
    assert!(reply.json()["errors"]["service"].as_str().unwrap().contains("not a service name"));
    assert!(reply.json()["errors"]["severity"].as_str().unwrap().contains("P0, P1, P2 or P3"));
    assert!(app.incidents().await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn a_channel_name_taken_by_someone_else_gets_a_suffix() {
    let app = spawn_app().await;
    app.slack.create_foreign_channel("inc-1-api");

    app.slash(ALICE, "declare api Everything 500s").await;
    app.drain().await;

    let incident = app.only_incident().await;
    assert_eq!(incident.channel_name.as_deref(), Some("inc-1-api-2"));
    assert_eq!(app.slack.channel("inc-1-api").unwrap().messages.len(), 0, "the foreign channel is left alone");
    assert_eq!(app.slack.channel("inc-1-api-2").unwrap().messages.len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_channel_name_taken_by_our_own_earlier_attempt_is_reused() {
    let app = spawn_app().await;
    // An earlier attempt created the channel, but its answer never arrived.
    let ours = app.state.slack.create_channel("inc-1-api", false).await.unwrap();
    assert_eq!(ours.creator.as_deref(), Some(BOT_USER));

    app.slash(ALICE, "declare api Everything 500s").await;
    app.drain().await;

    let incident = app.only_incident().await;
    assert_eq!(incident.channel_id.as_deref(), Some(ours.id.as_str()));
    assert!(app.slack.channel("inc-1-api-2").is_none());
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let created = events.iter().find(|e| e.kind == "channel_created").unwrap();
    assert_eq!(created.payload["reused"], true);
    app.finish().await;
}

#[tokio::test]
async fn mentions_in_user_text_are_shown_as_text_and_ping_nobody() {
    let app = spawn_app().await;

    app.slash(ALICE, "declare api <!channel> wake up <@U0BOB> & co").await;
    app.drain().await;

    let channel = app.slack.channel("inc-1-api").unwrap();
    let text = channel.messages[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt; wake up &lt;@U0BOB&gt; &amp; co"), "{text}");
    assert!(!text.contains("<!channel>") && !text.contains("<@U0BOB>"));
    app.finish().await;
}

#[tokio::test]
async fn list_shows_active_incidents_with_channel_links_and_help_shows_usage() {
    let app = spawn_app().await;
    assert!(app.slash(ALICE, "list").await.text().contains("No active incidents"));
    app.slash(ALICE, "declare P2 search Slow queries").await;
    app.drain().await;
    let channel = app.slack.channel("inc-1-search").unwrap();

    let listed = app.slash(BOB, "list").await.text();

    assert!(listed.contains("*INC-1* P2 `search` — Slow queries"), "{listed}");
    assert!(listed.contains(&format!("<#{}>", channel.id)), "{listed}");
    assert!(app.slash(BOB, "help").await.text().contains("declare [P0-P3] <service>"));
    app.finish().await;
}

#[tokio::test]
async fn the_war_room_link_from_config_is_in_the_declaration() {
    let app = spawn_app_with(|s| s.file.war_room_url = Some("https://meet.example.com/inc?room=1&pin=2".into())).await;

    app.slash(ALICE, "declare P0 api down").await;
    app.drain().await;

    let channel = app.slack.channel("inc-1-api").unwrap();
    let text = channel.messages[0].blocks[0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("*War Room:* https://meet.example.com/inc?room=1&amp;pin=2"), "{text}");
    app.finish().await;
}
