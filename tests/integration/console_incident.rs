//! An incident's page in the console (`/console/incidents/{number}`): its header, lifecycle on
//! the injected clock, timeline (paged when long, live over server-sent events while open),
//! diagnostics' redacted output, approvals, runbook checklist, follow-ups with their tracker
//! state, the report downloads; private incidents only for their members, and clear refusals
//! for unknown and malformed numbers. Last, the live page in Chromium.

use chrono::Duration;
use warroom::config::{ServiceConfig, Tracker};
use warroom::timeline::export::Format;

use crate::console_support::{console_browser, console_cookie, console_get};
use crate::diagnostics::{app_with_service_and, run};
use crate::export::report;
use crate::harness::*;
use crate::runbook_checklist::{click, declared, SYSTEMD};

/// The page (or download) at `path` as `user`: its status and text.
async fn get_as(app: &TestApp, user: &str, path: &str) -> (u16, String) {
    let cookie = console_cookie(app, user).await;
    let response = console_get(app, path, Some(&cookie)).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The incident page of INC-1 as bob, which must answer 200.
async fn page(app: &TestApp) -> String {
    let (status, html) = get_as(app, BOB, "/console/incidents/1").await;
    assert_eq!(status, 200, "{html}");
    html
}

/// A declared INC-1 (alice, P0 api) with bob in its channel; returns the app and the channel.
async fn declared_incident() -> (TestApp, String) {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

async fn say(app: &TestApp, user: &str, channel: &str, text: &str) {
    app.slack.slash(user, channel, text).await.unwrap();
    app.drain().await;
}

#[tokio::test]
async fn the_header_shows_status_severity_roles_the_channel_and_the_status_page() {
    let (app, channel) = declared_incident().await;
    say(&app, ALICE, &channel, "role scribe <@U0BOB>").await;

    let html = page(&app).await;

    let incident = app.only_incident().await;
    assert!(html.contains("<title>INC-1 · Everything 500s · warroom</title>"), "{html}");
    assert!(html.contains(r#"<span class="sev sev-P0""#) && html.contains(">investigating</span>"), "{html}");
    assert!(html.contains(r#"<span class="service">api</span>"#));
    assert!(html.contains("<dt>Commander</dt><dd>@U0ALICE</dd>"), "{html}");
    assert!(html.contains("<dt>Scribe</dt><dd>@U0BOB</dd>"), "{html}");
    assert!(html.contains(r#"<dt>Communications lead</dt><dd><span class="muted">unfilled</span></dd>"#), "{html}");
    assert!(html.contains("<dt>Declared by</dt><dd>@U0ALICE</dd>"));
    let slack = format!("https://app.slack.com/client/{}/{channel}", warroom::sandbox::TEAM_ID);
    assert!(html.contains(&format!(r#"<a href="{slack}" rel="noopener">#{}</a>"#, incident.channel_name.unwrap())));
    let link = warroom::statuspage::link(&app.db, incident.id).await.unwrap().expect("a P0 is on the status page");
    assert!(html.contains(&format!(r#"<a href="{link}" rel="noopener">{link}</a>"#)), "{html}");
    assert!(html.contains("synced "), "{html}");
    assert!(html.contains(r#"href="/console""#), "a link to the list");
    app.finish().await;
}

#[tokio::test]
async fn the_lifecycle_shows_each_step_and_the_time_to_it_on_the_injected_clock() {
    let (app, _) = declared_incident().await;
    let incident = app.only_incident().await;
    app.clock.set(start_time() + Duration::seconds(245));
    let (channel, ts) = (incident.channel_id.unwrap(), incident.declaration_ts.unwrap());
    app.slack.click(BOB, &channel, &ts, "incident.acknowledge").await.unwrap();
    app.drain().await;
    app.clock.set(start_time() + Duration::minutes(30));

    let html = page(&app).await;
    let row =
        |id: &str| html.split(&format!(r#"<tr id="{id}">"#)).nth(1).unwrap().split("</tr>").next().unwrap().to_string();
    assert!(row("acknowledged").contains("@U0BOB") && row("acknowledged").contains(">4m 05s<"), "{html}");
    assert!(row("mitigated").contains("ongoing (30m 00s so far)"), "{}", row("mitigated"));
    assert!(row("resolved").contains("ongoing (30m 00s so far)"), "{}", row("resolved"));

    app.clock.set(start_time() + Duration::minutes(60));
    app.resolve_directly(&app.only_incident().await, ALICE, &Default::default(), Some("Rolled back")).await;
    app.settle().await;
    let html = page(&app).await;
    let row =
        |id: &str| html.split(&format!(r#"<tr id="{id}">"#)).nth(1).unwrap().split("</tr>").next().unwrap().to_string();
    assert!(row("resolved").contains("@U0ALICE") && row("resolved").contains(">1h 00m<"), "{}", row("resolved"));
    assert!(row("mitigated").contains(">1h 00m<"), "resolving mitigates: {}", row("mitigated"));
    assert!(html.contains("This incident is resolved: its timeline is complete."));
    assert!(!html.contains("data-events="), "no live stream for a resolved incident");
    app.finish().await;
}

#[tokio::test]
async fn the_timeline_shows_every_event_oldest_first_in_plain_words() {
    let (app, channel) = declared_incident().await;
    say(&app, ALICE, &channel, r#"update status=identified cause="OOM kill <b>""#).await;
    say(&app, BOB, &channel, "note Rolled back to v1.2.2").await;

    let html = page(&app).await;

    let events = warroom::timeline::list(&app.db, app.only_incident().await.id).await.unwrap();
    let mut at = 0;
    for event in &events {
        let found = html[at..].find(&format!(r#"<li id="event-{}""#, event.id));
        at += found.unwrap_or_else(|| panic!("event {} ({}) shown in order", event.id, event.kind));
    }
    assert!(html.contains("declared INC-1 P0 (api): Everything 500s"), "{html}");
    assert!(html.contains("update — status: identified; root_cause: OOM kill &lt;b&gt;"), "{html}");
    assert!(html.contains(r#"<span class="actor">@U0BOB</span> note: Rolled back to v1.2.2"#), "{html}");
    assert!(html.contains(&format!("({} events)", events.len())));
    assert!(html.contains(r#"data-events="/console/incidents/1/events""#), "an open incident's page is live");
    app.finish().await;
}

#[tokio::test]
async fn a_long_timeline_is_shown_a_page_at_a_time_and_every_event_is_reachable() {
    let (app, _) = declared_incident().await;
    let incident = app.only_incident().await;
    let notes: Vec<serde_json::Value> =
        (1..=1005).map(|n| serde_json::json!({ "text": format!("step {n}") })).collect();
    let at = app.clock.now_utc() + Duration::minutes(1);
    warroom::timeline::append_many(&app.db, incident.id, at, BOB, warroom::timeline::EventKind::Note, &notes)
        .await
        .unwrap();

    let newest = page(&app).await;
    assert_eq!(newest.matches("<li id=\"event-").count(), 1000);
    assert!(newest.contains("note: step 1005") && !newest.contains("note: step 5<"), "the newest page");
    let earlier = newest.split(r#"<a href="?before="#).nth(1).expect("a link to the earlier events");
    let before = earlier.split('"').next().unwrap();

    let (status, first) = get_as(&app, BOB, &format!("/console/incidents/1?before={before}")).await;
    assert_eq!(status, 200);
    assert!(first.contains("declared INC-1") && first.contains("note: step 5<"), "{first}");
    assert!(!first.contains("note: step 1005"));
    assert!(
        first.contains(r#"<a href="?after="#) && !first.contains("data-events="),
        "later pages are links, not live"
    );
    for bad in ["?before=x", "?page=2", "?after=-1"] {
        let (status, html) = get_as(&app, BOB, &format!("/console/incidents/1{bad}")).await;
        assert_eq!(status, 400, "{bad}: {html}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_diagnostic_shows_its_output_as_stored_with_the_secret_redacted() {
    let (app, channel) = app_with_service_and(&[("namespace", "prod"), ("deployment", "api")], |_| {}).await;
    run(&app, &channel, "run kubernetes.logs").await;

    let html = page(&app).await;

    let diagnostics = html.split(r#"id="diagnostics""#).nth(1).unwrap().split("</section>").next().unwrap();
    assert!(diagnostics.contains("<code>kubernetes.logs</code> · @U0BOB"), "{diagnostics}");
    assert!(diagnostics.contains("pod api-7d9 CrashLoopBackOff"), "{diagnostics}");
    assert!(diagnostics.contains("[REDACTED]"), "{diagnostics}");
    assert!(!html.contains("xoxb-1234567890") && !html.contains("secretvalue"), "no secret anywhere on the page");
    app.finish().await;
}

#[tokio::test]
async fn an_approval_shows_who_asked_who_approved_and_when() {
    let (app, channel) = app_with_service_and(&[("container", "ctr-console")], |s| {
        s.file.approvals.approvers = vec![CAROL.into()];
    })
    .await;
    app.clock.set(start_time() + Duration::minutes(5));
    run(&app, &channel, r#"run docker.restart reason="crash loop""#).await;
    let messages = app.slack.channel(&channel).unwrap().messages;
    let approval = messages.into_iter().rev().find(|m| m.blocks.to_string().contains("approval.approve")).unwrap();
    app.clock.set(start_time() + Duration::minutes(6));
    app.slack.click(CAROL, &channel, &approval.ts, "approval.approve").await.unwrap();
    app.drain().await;

    let html = page(&app).await;

    let approvals = html.split(r#"id="approvals""#).nth(1).unwrap().split("</section>").next().unwrap();
    assert!(approvals.contains("<code>docker.restart</code>") && approvals.contains("crash loop"), "{approvals}");
    let asked = (start_time() + Duration::minutes(5)).format("%Y-%m-%d %H:%M:%S").to_string();
    assert!(approvals.contains(&format!("@U0BOB at {asked}")), "{approvals}");
    let approved = (start_time() + Duration::minutes(6)).format("%Y-%m-%d %H:%M:%S").to_string();
    assert!(approvals.contains("approved by @U0CAROL at <time") && approvals.contains(&approved), "{approvals}");
    assert!(approvals.contains(r#"<span class="state">done</span>"#), "{approvals}");
    app.finish().await;
}

#[tokio::test]
async fn the_runbook_checklist_shows_each_step_and_who_did_it() {
    let (app, channel) = declared(&SYSTEMD, |_| {}).await;
    click(&app, &channel, BOB, 10).await;
    app.drain().await;

    let html = page(&app).await;

    let checklist = html.split(r#"id="checklist""#).nth(1).unwrap().split("</section>").next().unwrap();
    let step = checklist
        .split(r#"<li id="step-10" class="step-run">"#)
        .nth(1)
        .expect("step 10 ran")
        .split("</li>")
        .next()
        .unwrap();
    assert!(
        step.contains("<code>free -h</code>") && step.contains("run by @U0BOB at") && step.contains("→ ok"),
        "{step}"
    );
    assert!(checklist.contains(r#"class="step-open""#), "the others are open");
    assert!(checklist.contains("<strong>1 of "), "{checklist}");
    app.finish().await;
}

#[tokio::test]
async fn a_followup_links_its_tracker_issue_and_shows_its_state() {
    let app = spawn_app_with(|s| {
        let tracker = Some(Tracker::parse("github:acme/api").unwrap());
        s.file.services.insert("api".into(), ServiceConfig { tracker, ..Default::default() });
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    say(&app, ALICE, &channel, "followup Raise the memory limit <@U0BOB> long").await;
    say(&app, ALICE, &channel, "followup Add a dashboard <@U0ALICE> long").await;
    assert!(app.trackers.set_closed("acme/api#1", true));
    app.clock.set(app.clock.now_utc() + Duration::minutes(16));
    app.drain().await;

    let html = page(&app).await;

    let followups = html.split(r#"id="followups""#).nth(1).unwrap().split("</section>").next().unwrap();
    let item = |text: &str| followups.split("<li").find(|li| li.contains(text)).unwrap().to_string();
    let first = item("Raise the memory limit");
    assert!(
        first.contains(r#"<a href="https://github.com/acme/api/issues/1" rel="noopener">acme/api#1</a>"#),
        "{first}"
    );
    assert!(first.contains(r#"class="done""#) && first.contains("☑") && first.contains("closed"), "{first}");
    let second = item("Add a dashboard");
    assert!(second.contains("acme/api#2") && second.contains("☐") && second.contains(">open<"), "{second}");
    assert!(second.contains("<strong>@U0ALICE</strong>"), "{second}");
    app.finish().await;
}

#[tokio::test]
async fn the_three_downloads_are_the_report_with_their_type_and_file_name() {
    let (app, channel) = declared_incident().await;
    say(&app, BOB, &channel, "note Rolled back").await;
    let cookie = console_cookie(&app, BOB).await;

    for (format, ext, content_type) in [
        (Format::Markdown, "md", "text/markdown; charset=utf-8"),
        (Format::Json, "json", "application/json"),
        (Format::Csv, "csv", "text/csv; charset=utf-8"),
    ] {
        let response = console_get(&app, &format!("/console/incidents/INC-1/report.{ext}"), Some(&cookie)).await;
        assert_eq!(response.status(), 200, "{ext}");
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_string();
        assert_eq!(header("content-type"), content_type);
        assert_eq!(header("content-disposition"), format!("attachment; filename=\"INC-1-api-postmortem.{ext}\""));
        let body = response.bytes().await.unwrap();
        assert_eq!(body.to_vec(), report(&app, format).await, "{ext}: the same bytes as the export");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_private_incident_is_a_number_never_used_for_others_on_every_route() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare --private P1 vault Tokens exposed").await;
    app.drain().await;
    let (_, never_used) = get_as(&app, CAROL, "/console/incidents/2").await;

    for path in ["", "/events?after=0", "/report.md", "/report.json", "/report.csv"] {
        let (status, html) = get_as(&app, CAROL, &format!("/console/incidents/1{path}")).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("There is no incident INC-1.") && !html.contains("Tokens exposed"), "{path}: {html}");
        assert_eq!(html.replace("INC-1", "INC-2"), never_used, "{path}: the words of a number never used");
    }
    let (status, html) = get_as(&app, ALICE, "/console/incidents/1").await;
    assert_eq!(status, 200);
    assert!(html.contains("Tokens exposed") && html.contains(r#"<span class="private">private</span>"#));
    let (status, _) = get_as(&app, ALICE, "/console/incidents/1/report.md").await;
    assert_eq!(status, 200);
    app.finish().await;
}

#[tokio::test]
async fn unknown_and_malformed_numbers_and_the_signed_out_are_answered_clearly() {
    let (app, _) = declared_incident().await;

    let (status, html) = get_as(&app, BOB, "/console/incidents/42").await;
    assert!(status == 404 && html.contains("There is no incident INC-42."), "{status} {html}");
    for bad in ["abc", "0", "-1", "99999999999999999999", "INC-", "%FF", "1%00"] {
        let (status, html) = get_as(&app, BOB, &format!("/console/incidents/{bad}")).await;
        assert_eq!(status, 400, "{bad}: {html}");
        assert!(html.contains("Not an incident number"), "{bad}: {html}");
    }
    let (status, _) = get_as(&app, BOB, "/console/incidents/1/events?after=x").await;
    assert_eq!(status, 400);
    for path in ["/console/incidents/1", "/console/incidents/1/events", "/console/incidents/1/report.md"] {
        let response = console_get(&app, path, None).await;
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/auth/slack/login?next=%2Fconsole%2Fincidents%2F1"), "{location}");
    }
    app.finish().await;
}

/// The server-sent events of `path` (the stream read until `until` holds for what came).
async fn stream_until(app: &TestApp, path: &str, last_event_id: Option<i64>, until: impl Fn(&str) -> bool) -> String {
    let cookie = console_cookie(app, BOB).await;
    let client = warroom::tls::http_client();
    let mut request = client.get(format!("{}{path}", app.address)).header("cookie", cookie);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !until(&seen) {
        match response.chunk().await.unwrap() {
            Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn the_live_stream_sends_new_events_and_resumes_after_the_last_event_id_and_ends_at_the_resolution() {
    let (app, channel) = declared_incident().await;
    let incident = app.only_incident().await;
    let last = |app: &TestApp| {
        let id = incident.id;
        let db = app.db.clone();
        async move { warroom::timeline::list(&db, id).await.unwrap().last().unwrap().id }
    };
    let before = last(&app).await;
    say(&app, BOB, &channel, "note Replica 2 is lagging").await;

    let live =
        stream_until(&app, &format!("/console/incidents/1/events?after={before}"), None, |s| s.contains("lagging"))
            .await;
    let note = last(&app).await;
    assert!(live.contains(&format!("id: {note}\n")) && live.contains("event: entry\n"), "{live}");
    assert!(live.contains(r#""actor":"@U0BOB""#) && live.contains(r#""text":"note: Replica 2 is lagging""#), "{live}");
    assert!(!live.contains(&format!("id: {before}\n")), "nothing at or before where it starts");

    app.resolve_directly(&incident, ALICE, &Default::default(), Some("Failed over")).await;
    app.settle().await;
    // A reconnect after the note: what came since, then the end (the stream closes by itself).
    let resumed = stream_until(&app, "/console/incidents/1/events?after=1", Some(note), |_| false).await;
    assert!(!resumed.contains("lagging"), "resumed after the Last-Event-ID, not ?after: {resumed}");
    assert!(resumed.contains("resolved: Failed over"), "{resumed}");
    assert!(
        resumed.trim_end().ends_with("event: resolved\ndata: INC-1 is resolved: its timeline is complete."),
        "{resumed}"
    );
    app.finish().await;
}

#[tokio::test]
async fn browser_the_open_incident_page_shows_a_new_update_without_reloading_and_serves_its_report() {
    let (app, channel) = declared_incident().await;
    let browser = console_browser(&app, BOB).await;
    browser.goto(&format!("{}/console/incidents/1", app.address)).await;
    browser.find("#timeline[data-events]").await;
    browser.run("window.notReloaded = true; return true;", serde_json::json!([])).await;

    say(
        &app,
        ALICE,
        &channel,
        r#"update status=identified cause="Connection pool exhausted" action="Raising the pool to 200""#,
    )
    .await;
    let events = warroom::timeline::list(&app.db, app.only_incident().await.id).await.unwrap();
    let id = events.iter().rev().find(|e| e.kind == "updated").expect("the update is in the timeline").id;
    // Resolves when the entry is in the page (a MutationObserver: no polling, no sleeping).
    let appeared = "const [css, done] = [arguments[0], arguments[arguments.length - 1]]; \
                    if (document.querySelector(css)) return done(true); \
                    new MutationObserver((_, o) => { if (document.querySelector(css)) { o.disconnect(); done(true); } }) \
                      .observe(document.body, { childList: true, subtree: true });";
    let css = format!("#event-{id}");
    browser.client().execute_async(appeared, vec![serde_json::json!(css)]).await.expect("the new entry appears");
    let text = browser.text(&css).await;
    assert!(text.contains("@U0ALICE") && text.contains("Connection pool exhausted"), "{text}");
    assert_eq!(browser.run("return window.notReloaded === true;", serde_json::json!([])).await, true, "not reloaded");

    browser.click("a.download[href$='report.md']").await;
    let fetched = "const done = arguments[arguments.length - 1]; \
                   const a = document.querySelector(\"a.download[href$='report.md']\"); \
                   fetch(a.href).then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t])));";
    let got = browser.client().execute_async(fetched, vec![]).await.unwrap();
    assert_eq!(got[0], 200);
    assert_eq!(got[1], "attachment; filename=\"INC-1-api-postmortem.md\"");
    let markdown = got[2].as_str().unwrap();
    assert!(markdown.contains("INC-1") && markdown.contains("Connection pool exhausted"), "{markdown}");

    browser.resize(1280, 1500).await;
    browser.save_screenshot("console-incident").await;
    browser.close().await;
    app.finish().await;
}
