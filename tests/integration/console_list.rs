//! The console's incidents list (`GET /console`): signed-out visitors sent to sign in, each
//! filter and their combination, keyset paging both ways with the filters kept, a clear 400 for
//! a value that means nothing, private incidents only for their members, and times read from
//! the injected clock; and one walk in Chromium (the form, the keyboard, a phone's width).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::console_support::{console_browser, console_cookie, console_get};
use crate::harness::*;

/// An incident written straight into the table (the list reads the table, nothing else), for
/// histories longer than a test should declare through Slack.
struct Seed<'a> {
    title: &'a str,
    service: &'a str,
    severity: &'a str,
    status: &'a str,
    declared_at: DateTime<Utc>,
}

impl Seed<'_> {
    fn new(title: &str) -> Seed<'_> {
        Seed { title, service: "web", severity: "P2", status: "investigating", declared_at: start_time() }
    }
}

async fn insert(app: &TestApp, seed: Seed<'_>) -> i64 {
    let resolved = (seed.status == "resolved").then(|| seed.declared_at + Duration::minutes(90));
    sqlx::query_scalar(
        "INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, declared_at, \
                                resolved_at, channel_id, channel_name) \
         VALUES (gen_random_uuid(), $1, $2, $3, $4, 'U0ALICE', 'U0ALICE', $5, $6, 'C0SEED' || $1, 'inc-seed') \
         RETURNING number",
    )
    .bind(seed.title)
    .bind(seed.service)
    .bind(seed.severity)
    .bind(seed.status)
    .bind(seed.declared_at)
    .bind(resolved)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// `n` incidents, one an hour before the test's start, alternately P1 and P2.
async fn insert_many(app: &TestApp, n: i64) {
    sqlx::query(
        "INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, declared_at) \
         SELECT gen_random_uuid(), 'Incident ' || i, 'web', CASE WHEN i % 2 = 0 THEN 'P2' ELSE 'P1' END, \
                'investigating', 'U0ALICE', 'U0ALICE', $2 - make_interval(hours => ($1 - i)::int) \
         FROM generate_series(1, $1) AS i ORDER BY i",
    )
    .bind(n)
    .bind(start_time())
    .execute(&app.db)
    .await
    .unwrap();
}

/// A page's HTML as the browser reads it, with Handlebars' escapes of `=`, `&` and quotes undone.
async fn page(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let response = console_get(app, path, Some(cookie)).await;
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    let html = html.replace("&#x3D;", "=").replace("&quot;", "\"").replace("&#x27;", "'").replace("&#x60;", "`");
    let html = html.replace("&amp;", "&");
    (status, html)
}

/// The incident numbers listed, in order.
fn listed(html: &str) -> Vec<i64> {
    html.split("href=\"/console/incidents/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The href of the link with `class` (`older`, `newer`), if the page has one.
fn link(html: &str, class: &str) -> Option<String> {
    let at = html.find(&format!("class=\"{class}\""))?;
    let rest = &html[at..];
    let start = rest.find("href=\"")? + 6;
    Some(rest[start..].split('"').next().unwrap().to_string())
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in_and_comes_back_to_the_filtered_list() {
    let app = spawn_app().await;
    let response = console_get(&app, "/console?severity=P1", None).await;
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert_eq!(location, "/auth/slack/login?next=%2Fconsole%3Fseverity%3DP1");
    let response = console_get(&app, "/console", Some("warroom_session=not-a-session")).await;
    assert_eq!(response.status().as_u16(), 303, "an unknown session is signed out too");
    app.finish().await;
}

#[tokio::test]
async fn each_filter_narrows_the_list_and_the_form_keeps_its_value() {
    let app = spawn_app_with(|s| {
        s.file.services.insert("payments".into(), Default::default());
    })
    .await;
    let day = |d: i64| start_time() - Duration::days(d);
    let disk = insert(
        &app,
        Seed {
            service: "db",
            severity: "P1",
            status: "resolved",
            declared_at: day(20),
            ..Seed::new("Disk full on db-1")
        },
    )
    .await;
    let percent =
        insert(&app, Seed { status: "identified", declared_at: day(10), ..Seed::new("Errors at 100% on checkout") })
            .await;
    let underscore = insert(
        &app,
        Seed { severity: "P0", status: "monitoring", declared_at: day(5), ..Seed::new("queue_depth high") },
    )
    .await;
    let plain = insert(&app, Seed { service: "db", declared_at: day(1), ..Seed::new("Queue depth 1000 on DB") }).await;
    let cookie = console_cookie(&app, BOB).await;

    for (query, expected) in [
        ("", vec![plain, underscore, percent, disk]),
        ("status=open", vec![plain, underscore, percent]),
        ("status=identified", vec![percent]),
        ("status=resolved", vec![disk]),
        ("severity=P0", vec![underscore]),
        ("severity=p2", vec![plain, percent]),
        ("service=db", vec![plain, disk]),
        ("from=2026-11-13", vec![plain, underscore, percent]),
        // `to` is inclusive: the incident declared at 15:00 on the 18th is in.
        ("to=2026-11-18", vec![underscore, percent, disk]),
        ("from=2026-11-13&to=2026-11-18", vec![underscore, percent]),
        ("from=2026-11-22&to=2026-11-22", vec![plain]),
        ("q=QUEUE", vec![plain, underscore]),
        // `%` and `_` are the characters themselves, not LIKE's wildcards.
        ("q=100%25", vec![percent]),
        ("q=%25", vec![percent]),
        ("q=e_d", vec![underscore]),
        ("q=_", vec![underscore]),
        ("status=open&service=db&severity=P2&q=depth", vec![plain]),
        ("status=open&service=web&from=2026-11-01&to=2026-11-20&q=high", vec![underscore]),
        ("status=resolved&severity=P0", vec![]),
    ] {
        let (status, html) = page(&app, &format!("/console?{query}"), &cookie).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(listed(&html), expected, "{query}");
        if expected.is_empty() {
            assert!(html.contains("No incidents match these filters."), "{query}");
        }
    }

    let (_, html) =
        page(&app, "/console?status=open&severity=P2&service=db&from=2026-11-01&to=2026-11-30&q=50%25+off", &cookie)
            .await;
    for kept in [
        "<option value=\"open\" selected>",
        "<option value=\"P2\" selected>",
        "<option value=\"db\" selected>",
        "name=\"from\" type=\"date\" value=\"2026-11-01\"",
        "name=\"to\" type=\"date\" value=\"2026-11-30\"",
        "value=\"50% off\"",
    ] {
        assert!(html.contains(kept), "the form keeps {kept}");
    }
    assert!(html.contains("<label for=\"f-severity\">") && html.contains("<button type=\"submit\">Filter</button>"));
    // The service list: the configured services and those incidents were declared on.
    for service in ["db", "web", "payments"] {
        assert!(html.contains(&format!("<option value=\"{service}\"")), "{service} is offered");
    }
    app.finish().await;
}

#[tokio::test]
async fn paging_walks_120_matching_incidents_both_ways_keeping_the_filters() {
    let app = spawn_app().await;
    // 240 incidents, every other one P2: the 120 P2s are numbers 2, 4, … 240.
    insert_many(&app, 240).await;
    let cookie = console_cookie(&app, BOB).await;
    let all: Vec<i64> = (1..=120).rev().map(|i| i * 2).collect();

    let mut path = "/console?severity=P2".to_string();
    let mut pages = Vec::new();
    loop {
        let (status, html) = page(&app, &path, &cookie).await;
        assert_eq!(status, 200, "{path}");
        pages.push(listed(&html));
        assert_eq!(link(&html, "newer").is_some(), pages.len() > 1, "{path}: a Newer link after the first page");
        match link(&html, "older") {
            Some(older) => {
                assert!(older.starts_with("/console?severity=P2&before="), "{older}");
                path = older;
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
    assert_eq!(pages.concat(), all, "every P2 once, newest first, none missing");

    // And back, from the last page to the first.
    let mut back = vec![pages.pop().unwrap()];
    loop {
        let (_, html) = page(&app, &path, &cookie).await;
        let Some(newer) = link(&html, "newer") else { break };
        assert!(newer.starts_with("/console?severity=P2&after="), "{newer}");
        path = newer;
        let (_, html) = page(&app, &path, &cookie).await;
        back.push(listed(&html));
    }
    back.reverse();
    assert_eq!(back.concat(), all, "the way back shows the same pages");
    assert_eq!(back[0].len(), 50);

    // A cursor past either end shows an empty page with the way back.
    let (_, html) = page(&app, "/console?severity=P2&before=2", &cookie).await;
    assert!(listed(&html).is_empty() && html.contains("No incidents match these filters."));
    assert_eq!(link(&html, "newer").as_deref(), Some("/console?severity=P2&after=1"));
    assert_eq!(link(&html, "older"), None);
    let (_, html) = page(&app, "/console?after=240", &cookie).await;
    assert!(listed(&html).is_empty() && html.contains("No incidents on this page."));
    assert_eq!(link(&html, "older").as_deref(), Some("/console?before=241"));
    app.finish().await;
}

#[tokio::test]
async fn a_value_that_means_nothing_gets_a_400_saying_what_to_write() {
    let app = spawn_app().await;
    insert(&app, Seed::new("Checkout slow")).await;
    let cookie = console_cookie(&app, BOB).await;
    let long = "x".repeat(201);
    for (query, says) in [
        ("status=asleep".to_string(), "status=`asleep` is not a status: use open, investigating"),
        ("severity=P7".into(), "severity=`P7` is not a severity: use P0, P1, P2 or P3."),
        ("from=2026/11/01".into(), "from=`2026/11/01` is not a date: write it YYYY-MM-DD"),
        ("to=2026-13-01".into(), "to=`2026-13-01` is not a date"),
        ("from=2026-11-20&to=2026-11-10".into(), "from=2026-11-20 is after to=2026-11-10"),
        ("before=INC-3".into(), "before=`INC-3` is not a page cursor"),
        ("after=0".into(), "after=`0` is not a page cursor"),
        ("before=5&after=9".into(), "`before` and `after` cannot be given together"),
        (format!("q={long}"), "The title search is longer than 200 characters"),
        ("q=%C3%28".into(), "The query string is not valid UTF-8 text."),
        ("q=%zz".into(), "a `%` that is not followed by two hex digits"),
        ("q=a%07".into(), "contains the control character U+0007"),
        ("service=..%2Fetc".into(), "is not a service name"),
        ("sort=title".into(), "The list has no filter `sort`"),
    ] {
        let (status, html) = page(&app, &format!("/console?{query}"), &cookie).await;
        assert_eq!(status, 400, "{query}");
        assert!(html.contains(says), "{query}: {html}");
        assert!(listed(&html).is_empty(), "{query}: no list with a refusal");
    }
    let incidents = app.incidents().await;
    assert_eq!(incidents.len(), 1, "nothing was written");
    assert_eq!(incidents[0].title, "Checkout slow");
    app.finish().await;
}

#[tokio::test]
async fn a_private_incident_is_listed_only_for_its_members() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P2 web Slow pages").await;
    app.drain().await;
    let reply = app.slash(BOB, "declare --private P1 vault Tokens exposed in CI logs").await.text();
    assert!(reply.contains("INC-2"), "{reply}");
    app.drain().await;
    app.slash(ALICE, "declare P3 web Stale avatars").await;
    app.drain().await;
    let private = app.incidents().await.into_iter().find(|i| i.private).unwrap();
    let channel = private.channel_id.clone().unwrap();
    app.slack.invite_member(BOB, ALICE, &channel).await.unwrap();
    app.drain().await;

    for member in [BOB, ALICE] {
        let (_, html) = page(&app, "/console", &console_cookie(&app, member).await).await;
        assert_eq!(listed(&html), [3, 2, 1], "{member}");
        assert!(html.contains("Tokens exposed in CI logs") && html.contains("(private)"), "{member}");
    }

    let carol = console_cookie(&app, CAROL).await;
    for query in ["", "?severity=P1", "?q=tokens", "?service=vault", "?before=3", "?after=1"] {
        let (status, html) = page(&app, &format!("/console{query}"), &carol).await;
        assert_eq!(status, 200, "{query}");
        assert!(!listed(&html).contains(&2), "{query}");
        for trace in ["Tokens exposed", "INC-2", "private", &channel] {
            assert!(!html.contains(trace), "{query}: carol's page shows {trace:?}");
        }
    }
    let (_, html) = page(&app, "/console", &carol).await;
    assert_eq!(listed(&html), [3, 1], "the public ones, no gap in the page");
    assert!(!html.contains("<option value=\"vault\""), "a service only the private incident has is not offered");
    // Paging over it leaves no sign of it either: from INC-3 down is INC-1, and back up.
    let (_, html) = page(&app, "/console?before=3", &carol).await;
    assert_eq!((listed(&html), link(&html, "newer")), (vec![1], Some("/console?after=1".to_string())));
    let (_, html) = page(&app, "/console?after=1", &carol).await;
    assert_eq!((listed(&html), link(&html, "older")), (vec![3], Some("/console?before=3".to_string())));
    app.finish().await;
}

#[tokio::test]
async fn the_injected_clock_says_how_long_ago_and_for_how_long() {
    let app = spawn_app().await;
    app.slash(BOB, "declare P1 web Checkout returns 502").await;
    app.drain().await;
    let cookie = console_cookie(&app, BOB).await;
    let incident = app.only_incident().await;
    assert_eq!(incident.commander, BOB);

    app.clock.advance(Duration::minutes(200));
    let (_, html) = page(&app, "/console", &cookie).await;
    assert!(html.contains("2026-11-23 15:00 UTC") && html.contains("3 h 20 min ago"), "{html}");
    assert!(html.contains("ongoing for 3h 20m"), "{html}");
    // bob's name from his sign-in, his channel a link into his workspace.
    assert!(html.contains("<span title=\"U0BOB\">bob</span>"), "{html}");
    let channel = incident.channel_id.as_deref().unwrap();
    let team = warroom::sandbox::TEAM_ID;
    assert!(html.contains(&format!("href=\"https://app.slack.com/client/{team}/{channel}\"")), "{html}");

    app.resolve_directly(&incident, BOB, &Default::default(), Some("Rolled back")).await;
    app.drain().await;
    app.clock.advance(Duration::days(3));
    // bob signs in again (a session lasts 12 hours).
    let (_, html) = page(&app, "/console", &console_cookie(&app, BOB).await).await;
    assert!(html.contains("3 days ago") && html.contains(">3h 20m<"), "{html}");
    assert!(!html.contains("ongoing"), "{html}");
    app.settle().await;
    app.finish().await;
}

#[tokio::test]
async fn in_chromium_the_form_filters_the_keyboard_pages_and_a_phone_scrolls_no_sideways() {
    let app = spawn_app().await;
    insert_many(&app, 120).await;
    let browser = console_browser(&app, BOB).await;
    browser.goto(&format!("{}/console", app.address)).await;
    browser.find("#f-severity").await.select_by_value("P2").await.unwrap();
    browser.click("form.filters button[type=submit]").await;
    // The filtered page shows "Clear filters"; the first one did not.
    browser.find("a.clear-filters").await;
    let severities = browser.text("table.incidents .sev").await;
    assert_eq!(severities.lines().count(), 50);
    assert!(severities.lines().all(|s| s == "P2"), "{severities}");
    assert_eq!(browser.text("table.incidents a.number").await.lines().next(), Some("INC-120"));
    browser.save_screenshot("console-list").await;

    browser.run("document.querySelector('a.older').focus();", json!([])).await;
    let focused = browser.client().active_element().await.unwrap();
    assert_eq!(focused.attr("class").await.unwrap().as_deref(), Some("older"), "the Older link takes the focus");
    focused.send_keys(&crate::browser::webdriver::ENTER.to_string()).await.unwrap();
    browser.find("a.newer").await;
    let numbers = browser.text("table.incidents a.number").await;
    assert_eq!(numbers.lines().next(), Some("INC-20"), "page two starts below page one's last (INC-22)");
    let url = browser.client().current_url().await.unwrap();
    assert!(url.as_str().contains("severity=P2&before=22"), "{url}");

    browser.resize(390, 844).await;
    let fits = browser.run("return document.documentElement.scrollWidth <= window.innerWidth;", json!([])).await;
    assert_eq!(fits, json!(true), "no horizontal scrolling at 390 px");
    browser.close().await;
    app.finish().await;
}
