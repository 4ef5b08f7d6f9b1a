//! Private incidents: a private channel, nothing in `#incidents` but the number (or nothing),
//! nothing on the status page unless a `publish_private` principal posts it, escalation by
//! direct message, and shown — in `/incident list`, by number, through the API — only to its
//! members (a non-member hears what a number never used gets).

use chrono::Duration;
use serde_json::json;
use warroom::config::{EscalationTier, ServiceConfig, Settings};
use warroom::duration::HumanDuration;
use warroom::incident::Severity;

use crate::api::{send, Answer};
use crate::harness::*;
use crate::statuspage::{gateway_app, in_channel, texts};
use warroom::sandbox::Fault;

/// The second API token: the one that may see private incidents.
const PRIVATE_TOKEN: &str = "test-private-api-token";

const DECLARE: &str = "declare --private P0 inference-gateway Signing keys leaked in build logs";

/// Declares the private P0 on the gateway as alice; returns its channel.
async fn declared_private(app: &TestApp) -> String {
    let reply = app.slash(ALICE, DECLARE).await.text();
    assert!(reply.contains("Declared *INC-1*") && reply.contains("private"), "{reply}");
    app.drain().await;
    app.only_incident().await.channel_id.expect("the private channel exists")
}

/// Every message in `#incidents`, as Slack stores it (text and blocks).
fn announced(app: &TestApp) -> Vec<String> {
    let channel = app.slack.channel("incidents").unwrap();
    channel.messages.iter().map(|m| format!("{} {}", m.text, m.blocks)).collect()
}

/// Asserts nothing of the incident but its number reached `#incidents`.
fn assert_no_trace(app: &TestApp) {
    for message in announced(app) {
        for secret in ["inference-gateway", "Signing keys", "P0", "inc-1"] {
            assert!(!message.contains(secret), "{secret:?} reached #incidents: {message}");
        }
    }
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> Answer {
    send(app, "GET", path, Some(token), &[], Vec::new()).await
}

fn numbers(answer: &Answer) -> Vec<String> {
    let listed = answer.json["incidents"].as_array().cloned().unwrap_or_default();
    listed.iter().map(|i| i["number"].as_str().unwrap().to_string()).collect()
}

/// The direct messages `user` got from warroom.
fn dms(app: &TestApp, user: &str) -> Vec<String> {
    let name = format!("dm-{}", user.to_lowercase());
    app.slack.channel(&name).map(|c| c.messages.into_iter().map(|m| m.text).collect()).unwrap_or_default()
}

#[tokio::test]
async fn private_incident_leaves_only_its_number_in_incidents_and_nothing_on_the_status_page() {
    let app = gateway_app(|_| {}).await;
    let channel = declared_private(&app).await;

    let incident = app.only_incident().await;
    assert!(incident.private);
    let declared = warroom::timeline::list(&app.db, incident.id).await.unwrap().remove(0);
    assert_eq!((declared.kind.as_str(), &declared.payload["private"]), ("declared", &json!(true)));
    assert!(warroom::timeline::describe::what(&declared).contains("declared INC-1 P0 (inference-gateway) privately"));
    let room = app.slack.channel(&channel).unwrap();
    assert!(room.is_private, "conversations.create was asked for a private channel");
    assert!(room.members.contains(&ALICE.to_string()), "the declarer is invited");
    let incidents = app.slack.channel("incidents").unwrap();
    assert_eq!(incidents.messages.len(), 1);
    assert_eq!(incidents.messages[0].text, ":lock: *INC-1* (private) declared by <@U0ALICE>");
    assert_no_trace(&app);

    // Slack keeps it from everyone else: not listed with the public channels, not joinable.
    let public = app.state.slack.call_form("conversations.list", &[]).await.unwrap();
    assert!(!public.to_string().contains(&channel), "listed as public: {public}");
    let all = app.state.slack.call_form("conversations.list", &[("types", "public_channel,private_channel")]);
    assert!(all.await.unwrap().to_string().contains(&channel), "the bot, a member, sees it");
    assert!(app.slack.join(CAROL, &channel).await.is_err(), "nobody joins a private channel");
    assert!(app.slack.invite_member(CAROL, CAROL, &channel).await.is_err(), "only a member invites");

    // Acknowledged, updated, its scheduled updates due, resolved: the page hears nothing and
    // the announcement stays the number.
    let ts = incident.declaration_ts.clone().unwrap();
    app.slack.click(ALICE, &channel, &ts, "incident.acknowledge").await.unwrap();
    in_channel(&app, ALICE, &channel, r#"update status=identified cause="A debug flag printed the keys""#).await;
    app.clock.advance(Duration::minutes(11));
    app.drain().await;
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("Rotated the keys")).await;
    app.settle().await;

    assert!(app.statuspage.requests().is_empty(), "{:?}", app.statuspage.requests());
    let incidents = app.slack.channel("incidents").unwrap();
    assert!(incidents.messages.iter().all(|m| !m.edited), "the number line is never re-rendered");
    assert_eq!(incidents.messages.len(), 2);
    assert!(announced(&app)[1].starts_with(":lock: *INC-1* (private) resolved"), "{:?}", announced(&app));
    assert_no_trace(&app);
    assert!(texts(&app, &channel).iter().any(|t| t.contains("RESOLVED")), "the channel hears the resolution");
    app.finish().await;
}

#[tokio::test]
async fn private_incident_with_announce_private_false_is_not_announced_at_all() {
    let app = spawn_app_with(|s| s.file.private.announce = false).await;
    let reply = app.slash(ALICE, "declare --private P1 vault Tokens exposed").await.text();
    assert!(reply.contains("hears nothing of it"), "{reply}");
    app.drain().await;
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("Revoked")).await;
    app.settle().await;

    assert!(announced(&app).is_empty(), "{:?}", announced(&app));
    let channel = app.only_incident().await.channel_id.unwrap();
    assert!(app.slack.channel(&channel).unwrap().is_private);
    app.finish().await;
}

#[tokio::test]
async fn private_incident_is_listed_and_shown_only_to_its_members() {
    let app = spawn_app().await;
    let channel = declared_private(&app).await;
    app.slash(ALICE, "declare P2 web Slow pages").await;
    app.drain().await;

    // carol, not in its channel: the list shows the public one, a number never used is what
    // the private one looks like, and nothing she asks of it is done.
    let list = app.slash(CAROL, "list").await.text();
    assert!(list.contains("INC-2") && !list.contains("INC-1"), "{list}");
    let never_used = app.slash(CAROL, "status INC-99").await.text();
    assert_eq!(never_used, ":x: There is no incident INC-99.");
    let incident = app.incidents().await.remove(0);
    let before = app.timeline(&incident).await;
    for (asked, rest) in
        [("status", ""), ("summary", ""), ("timeline", ""), ("export", "md"), ("note", "hello"), ("resolve", "")]
    {
        let reply = app.slash(CAROL, format!("{asked} INC-1 {rest}").trim()).await;
        assert_eq!(reply.text(), ":x: There is no incident INC-1.", "{asked}");
        assert_eq!(reply.json()["response_type"], "ephemeral", "{asked}");
    }
    app.drain().await;
    assert_eq!(app.timeline(&incident).await, before, "nothing carol asked was done");
    assert!(app.slack.views().is_empty(), "no resolve modal for carol");

    // bob, once alice adds him to the channel, sees it.
    assert!(app.slash(BOB, "list").await.text().contains("INC-2"));
    assert!(!app.slash(BOB, "list").await.text().contains("INC-1"));
    app.slack.invite_member(ALICE, BOB, &channel).await.unwrap();
    app.drain().await;
    let list = app.slash(BOB, "list").await.text();
    assert!(list.contains("*INC-1* :lock: private") && list.contains("INC-2"), "{list}");
    let status = app.slash(BOB, "status INC-1").await.text();
    assert!(status.contains("INC-1"), "{status}");
    // Asked outside its channel, its summary is for bob's eyes only.
    let summary = app.slash(BOB, "summary INC-1").await;
    assert_eq!(summary.json()["response_type"], "ephemeral");
    assert!(summary.text().contains("*Service:* inference-gateway"), "{}", summary.text());
    // In its channel the incident is implied, as ever.
    assert!(in_channel(&app, ALICE, &channel, "status").await.contains("INC-1"));
    app.finish().await;
}

#[tokio::test]
async fn private_incident_is_in_the_api_only_for_the_private_token_asking_with_include_private() {
    let app = spawn_app_with(|s| s.api_private_token = Some(warroom::secret::Secret::new(PRIVATE_TOKEN))).await;
    declared_private(&app).await;
    app.slash(ALICE, "declare P2 web Slow pages").await;
    app.drain().await;

    let not_allowed = [
        (API_TOKEN, ""),
        (API_TOKEN, "?include_private=true"),
        (API_TOKEN, "?all=true&include_private=true"),
        (PRIVATE_TOKEN, ""),
        (PRIVATE_TOKEN, "?include_private=false"),
    ];
    let never_used = get_as(&app, API_TOKEN, "/api/v1/incidents/99").await;
    assert_eq!(never_used.status, 404);
    for (token, query) in not_allowed {
        let list = get_as(&app, token, &format!("/api/v1/incidents{query}")).await;
        assert_eq!((list.status, numbers(&list)), (200, vec!["INC-2".to_string()]), "{query}");
        for path in ["/api/v1/incidents/1", "/api/v1/incidents/1/timeline", "/api/v1/incidents/1/export"] {
            let path = if query.is_empty() { path.to_string() } else { format!("{path}{query}") };
            let shown = get_as(&app, token, &path.replace("export?", "export?format=json&")).await;
            assert_eq!(shown.status, 404, "{path}");
            assert_eq!(shown.json["error"], never_used.json["error"].as_str().unwrap().replace("99", "1"), "{path}");
        }
    }

    let list = get_as(&app, PRIVATE_TOKEN, "/api/v1/incidents?include_private=true").await;
    assert_eq!(numbers(&list), ["INC-2", "INC-1"]);
    assert_eq!(list.json["incidents"][1]["private"], true);
    let shown = get_as(&app, PRIVATE_TOKEN, "/api/v1/incidents/INC-1?include_private=true").await;
    assert_eq!((shown.status, &shown.json["title"]), (200, &json!("Signing keys leaked in build logs")));
    let timeline = get_as(&app, PRIVATE_TOKEN, "/api/v1/incidents/1/timeline?include_private=true").await;
    assert_eq!(timeline.json["events"][0]["kind"], "declared");
    let export = get_as(&app, PRIVATE_TOKEN, "/api/v1/incidents/1/export?format=json&include_private=true").await;
    assert_eq!((export.status, &export.json["schema"]), (200, &json!("warroom.incident-report/v1")));
    let bad = get_as(&app, PRIVATE_TOKEN, "/api/v1/incidents?include_private=yes").await;
    assert_eq!(bad.status, 422);

    // Declared through the API with `"private": true`: hidden from the plain token at once.
    let body = json!({ "service": "vault", "summary": "Root token in a ticket", "private": true });
    let declared = crate::api::post(&app, "/api/v1/incidents", &body, &[]).await;
    assert_eq!((declared.status, &declared.json["incident"]["private"]), (201, &json!(true)));
    assert_eq!(get_as(&app, API_TOKEN, "/api/v1/incidents/3").await.status, 404);
    app.drain().await;
    app.finish().await;
}

#[tokio::test]
async fn private_service_makes_every_declaration_of_it_private() {
    let app = spawn_app_with(|s| {
        s.file.services.insert("vault".into(), ServiceConfig { private: true, ..Default::default() });
    })
    .await;
    let reply = app.slash(ALICE, "declare P1 vault Unsealed by mistake").await.text();
    assert!(reply.contains("private incident"), "{reply}");
    let answer =
        crate::api::post(&app, "/api/v1/incidents", &json!({ "service": "vault", "commander": BOB }), &[]).await;
    assert_eq!((answer.status, &answer.json["incident"]["private"]), (201, &json!(true)));
    app.drain().await;

    for incident in app.incidents().await {
        assert!(incident.private, "{}", incident.number);
        assert!(app.slack.channel(incident.channel_id.as_deref().unwrap()).unwrap().is_private);
    }
    assert_eq!(
        announced(&app).iter().map(|m| m.split(' ').take(6).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
        [":lock: *INC-1* (private) declared by <@U0ALICE>", ":lock: *INC-2* (private) declared by api"]
    );
    assert!(!announced(&app).iter().any(|m| m.contains("vault") || m.contains("Unsealed")));
    app.finish().await;
}

#[tokio::test]
async fn private_box_in_the_declare_modal_declares_privately() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let view = app.slack.views().remove(0);
    let block = view.view["blocks"].as_array().unwrap().iter().find(|b| b["block_id"] == "private").cloned();
    assert_eq!(block.expect("the private box")["element"]["type"], "checkboxes");

    let values = [("service", "vault"), ("summary", "Audit log tampered"), ("private", "private")];
    let reply = app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    assert_eq!(reply.json()["response_action"], "clear");
    // The box left unticked: a public incident.
    app.slash(ALICE, "declare").await;
    app.drain().await;
    let second = app.slack.views().pop().unwrap();
    app.slack.submit_view(ALICE, &second.id, &[("service", "web"), ("private", "")]).await.unwrap();
    app.drain().await;

    let incidents = app.incidents().await;
    assert_eq!(incidents.iter().map(|i| i.private).collect::<Vec<_>>(), [true, false]);
    assert!(app.slack.channel("inc-1-vault").unwrap().is_private);
    assert!(!app.slack.channel("inc-2-web").unwrap().is_private);
    assert!(!announced(&app)[0].contains("vault") && announced(&app)[1].contains("web"));
    app.finish().await;
}

#[tokio::test]
async fn private_escalation_tells_each_person_by_dm_and_mentions_nobody() {
    let app = spawn_app_with(|s: &mut Settings| {
        let tier = EscalationTier {
            after: HumanDuration(std::time::Duration::from_secs(15 * 60)),
            notify: vec![CAROL.into(), "@sre-leads".into()],
            pagerduty: false,
        };
        s.file.escalation.insert(Severity::P0, vec![tier]);
    })
    .await;
    let channel = declared_private(&app).await;
    let ts = app.only_incident().await.declaration_ts.unwrap();
    app.slack.click(ALICE, &channel, &ts, "incident.acknowledge").await.unwrap();
    app.clock.set(start_time() + Duration::minutes(15));
    app.drain().await;

    let requests: Vec<String> =
        texts(&app, &channel).into_iter().filter(|t| t.contains("ESCALATION REQUEST")).collect();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].contains("*Escalating to:* 2 people, by direct message"), "{}", requests[0]);
    assert!(!requests[0].contains("<@U0CAROL>") && !requests[0].contains("<!subteam"), "{}", requests[0]);
    for user in [BOB, CAROL] {
        let dm = dms(&app, user);
        assert_eq!(dm.len(), 1, "{user}");
        assert!(dm[0].contains("private incident INC-1") && dm[0].contains(&format!("<#{channel}>")), "{}", dm[0]);
        assert!(app.slack.channel(&channel).unwrap().members.contains(&user.to_string()), "{user} is invited");
    }
    assert!(announced(&app).len() == 1, "escalation posts nothing in #incidents");
    app.finish().await;
}

#[tokio::test]
async fn private_incident_reaches_the_status_page_only_when_publish_private_posts_it() {
    let app = gateway_app(|_| {}).await;
    let channel = declared_private(&app).await;
    app.slack.invite_member(ALICE, CAROL, &channel).await.unwrap();
    in_channel(&app, ALICE, &channel, r#"update status=identified cause="A debug flag printed the keys""#).await;
    let draft = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    assert!(draft.blocks[0]["text"]["text"].as_str().unwrap().contains("publish_private"));

    // carol (a member) and bob (a responder, who may edit the status page) may not publish it.
    for user in [CAROL, BOB] {
        app.slack.click(user, &channel, &draft.ts, "statuspage_post").await.unwrap();
        app.drain().await;
        let told = app.slack.ephemerals(user).pop().unwrap().text;
        assert!(
            told.contains(
                "Only the Incident Commander (<@U0ALICE>) may put on the status page the private incident INC-1"
            ),
            "{told}"
        );
        assert!(app.statuspage.requests().is_empty(), "nothing pushed for {user}");
    }

    app.slack.click(ALICE, &channel, &draft.ts, "statuspage_post").await.unwrap();
    app.settle().await;
    let page = app.statuspage.incidents();
    assert_eq!(page.len(), 1, "alice, the commander, published it");
    assert_eq!(page[0].status, "identified");
    // Published once, it is resolved there with the incident.
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("Rotated")).await;
    app.settle().await;
    assert_eq!(app.statuspage.incidents()[0].status, "resolved");
    assert_no_trace(&app);
    app.finish().await;
}

#[tokio::test]
async fn private_channel_created_but_its_answer_lost_is_found_again_and_reused() {
    let app = spawn_app().await;
    // Slack creates the channel, then answers 500; the retry's name_taken must find our own
    // channel among the private ones (a public-only look-up would make inc-1-…-2).
    app.slack.inject("conversations.create", Fault::DeliveredThenStatus(500), 1);
    app.slack.inject("chat.postMessage", Fault::RateLimited { retry_after_secs: 3 }, 1);
    app.slash(ALICE, DECLARE).await;
    app.settle().await;

    let incident = app.only_incident().await;
    let created: Vec<_> = app.slack.channels().into_iter().filter(|c| c.name.starts_with("inc-1")).collect();
    assert_eq!(created.len(), 1, "{:?}", created.iter().map(|c| &c.name).collect::<Vec<_>>());
    assert!(created[0].is_private);
    assert_eq!(incident.channel_id.as_deref(), Some(created[0].id.as_str()));
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    let channel = events.iter().find(|e| e.kind == "channel_created").unwrap();
    assert_eq!(channel.payload["reused"], true);
    assert_eq!(announced(&app).len(), 1, "announced once, after the 429");
    assert_no_trace(&app);
    app.finish().await;
}

#[tokio::test]
async fn private_channel_refused_by_slack_is_told_to_the_declarer_and_not_to_incidents() {
    let app = spawn_app().await;
    // An app installed before private incidents: no groups:write, so no private channel.
    app.slack.revoke_scope("groups:write");
    app.slash(ALICE, DECLARE).await;
    app.settle().await;

    let incident = app.only_incident().await;
    assert!(incident.channel_id.is_none());
    let told = app.slack.ephemerals(ALICE).pop().unwrap().text;
    assert!(told.contains("missing_scope"), "{told}");
    assert!(announced(&app).is_empty(), "the failure is not announced either: {:?}", announced(&app));
    assert!(app.timeline(&incident).await.contains(&"slack_api_failed".to_string()));
    app.finish().await;
}
