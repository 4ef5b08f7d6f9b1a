//! Follow-ups in the team's tracker: each `/incident followup` of a service with `tracker` becomes
//! one issue in the sandbox GitHub, Jira or Linear (over HTTP, with their request shapes and
//! credentials), linked once in the channel — also after a creation carried out whose answer was
//! lost (found by its marker, not created twice); its state read back (closed → done in the
//! report); overdue items nudged on the injected clock (DM, then the channel, once per horizon);
//! refusals said in the channel; no token anywhere people read.

use chrono::Duration;
use warroom::config::{ServiceConfig, Tracker};
use warroom::sandbox::trackers::{Fault, Kind, Op, GITHUB_TOKEN, JIRA_TOKEN, LINEAR_KEY};
use warroom::timeline::export::Format;

use crate::export::report;
use crate::harness::*;

/// An app whose service `api` files its follow-ups in `tracker`, with an incident declared by
/// alice; bob joined its channel. Returns the app and the channel.
async fn app_with_tracker(tracker: Option<&str>) -> (TestApp, String) {
    let tracker = tracker.map(|t| Tracker::parse(t).unwrap());
    let app = spawn_app_with(move |s| {
        s.file.services.insert("api".into(), ServiceConfig { tracker, ..Default::default() });
        // An answer lost is found out quickly.
        s.trackers.timeout = std::time::Duration::from_millis(500);
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

async fn followup(app: &TestApp, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(ALICE, channel, &format!("followup {text}")).await.unwrap().text();
    app.drain().await;
    reply
}

/// The texts posted in `channel` that contain `needle`.
fn posts(app: &TestApp, channel: &str, needle: &str) -> Vec<String> {
    let channel = app.slack.channel(channel).map(|c| c.messages).unwrap_or_default();
    channel.into_iter().map(|m| format!("{} {}", m.text, m.blocks)).filter(|t| t.contains(needle)).collect()
}

/// The only follow-up's id (its event's id).
async fn followup_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM timeline_events WHERE kind = 'followup_added' ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Moves the clock on by `by` and runs what fell due.
async fn later(app: &TestApp, by: Duration) {
    app.clock.set(app.clock.now_utc() + by);
    app.drain().await;
}

#[tokio::test]
async fn trackers_a_followup_becomes_one_github_issue_assigned_by_email_and_linked_once() {
    let (app, channel) = app_with_tracker(Some("github:acme/api")).await;
    let reply = followup(&app, &channel, "Raise the memory limit to 4G <@U0BOB> immediate").await;
    assert!(reply.contains("filed in GitHub acme/api"), "{reply}");
    let id = followup_id(&app).await;

    let issues = app.trackers.issues(Kind::GitHub);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(issue.key, "acme/api#1");
    assert!(issue.title.contains("INC-1") && issue.title.contains("Raise the memory limit to 4G"), "{}", issue.title);
    assert!(issue.body.trim_end().ends_with(&format!("warroom:followup:{id}")), "{}", issue.body);
    assert!(issue.body.contains("bob@example.com"), "{}", issue.body);
    assert!(issue.labels.contains(&"warroom".to_string()) && issue.labels.contains(&"INC-1".to_string()));
    // bob's Slack email found his GitHub login (the sandbox's user search by email).
    assert_eq!(issue.assignee.as_deref(), Some("bob-gh"));

    let links = posts(&app, &channel, "acme/api#1");
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].contains("https://github.com/acme/api/issues/1") && links[0].contains("<@U0BOB>"), "{links:?}");

    // Nothing runs it again: the job is done, the issue one.
    later(&app, Duration::seconds(30)).await;
    assert_eq!(app.trackers.issues(Kind::GitHub).len(), 1);
    assert_eq!(posts(&app, &channel, "acme/api#1").len(), 1);
    let creates = app.trackers.requests().iter().filter(|r| r.op == Op::Create).count();
    assert_eq!(creates, 1);
    let incident = app.only_incident().await;
    assert!(app.timeline(&incident).await.contains(&"followup_tracked".to_string()));
    app.finish().await;
}

#[tokio::test]
async fn trackers_jira_and_linear_issues_carry_the_marker_the_due_date_and_the_assignee() {
    let (app, channel) = app_with_tracker(Some("jira:OPS")).await;
    followup(&app, &channel, "Add a memory alert <@U0BOB> long").await;
    let id = followup_id(&app).await;
    let issues = app.trackers.issues(Kind::Jira);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "OPS-1");
    assert!(issues[0].body.contains(&format!("warroom:followup:{id}")), "{}", issues[0].body);
    // Long-term: a week from when it was added.
    assert_eq!(issues[0].due.as_deref(), Some("2026-11-30"));
    assert_eq!(issues[0].assignee.as_deref(), Some("5b10ac8d82e05b22cc7d4e01"), "bob's Atlassian account");
    assert_eq!(posts(&app, &channel, "OPS-1").len(), 1);
    assert!(posts(&app, &channel, "OPS-1")[0].contains("/browse/OPS-1"));
    app.finish().await;

    let (app, channel) = app_with_tracker(Some("linear:ENG")).await;
    followup(&app, &channel, "Write the runbook for OOM kills <@U0ALICE>").await;
    let id = followup_id(&app).await;
    let issues = app.trackers.issues(Kind::Linear);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "ENG-1");
    assert!(issues[0].body.contains(&format!("warroom:followup:{id}")), "{}", issues[0].body);
    // Short-term (the default): 24 hours.
    assert_eq!(issues[0].due.as_deref(), Some("2026-11-24"));
    assert_eq!(issues[0].assignee.as_deref(), Some("00000000-0000-4000-8000-000000000000"), "alice in Linear");
    assert_eq!(posts(&app, &channel, "ENG-1").len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn trackers_a_creation_carried_out_but_unanswered_is_found_by_its_marker_not_created_twice() {
    for (tracker, kind, fault, key) in [
        ("github:acme/api", Kind::GitHub, Fault::ApplyThenHang, "acme/api#1"),
        ("jira:OPS", Kind::Jira, Fault::ApplyThenStatus(500), "OPS-1"),
        ("linear:ENG", Kind::Linear, Fault::ApplyThenHang, "ENG-1"),
        ("github:acme/api", Kind::GitHub, Fault::ApplyThenStatus(502), "acme/api#1"),
    ] {
        let (app, channel) = app_with_tracker(Some(tracker)).await;
        app.trackers.fail_next(kind, Op::Create, fault.clone(), 1);
        followup(&app, &channel, "Pin the base image <@U0BOB>").await;
        // The first attempt created the issue but heard nothing; its retry waits out a backoff.
        assert_eq!(app.trackers.issues(kind).len(), 1, "{tracker} {fault:?}");
        assert!(posts(&app, &channel, key).is_empty(), "no link before the outcome is known");
        later(&app, Duration::seconds(5)).await;
        later(&app, Duration::seconds(5)).await;

        assert_eq!(app.trackers.issues(kind).len(), 1, "{tracker} {fault:?}: created once");
        let requests = app.trackers.requests();
        assert_eq!(requests.iter().filter(|r| r.op == Op::Create).count(), 1, "{tracker}: {requests:?}");
        assert!(requests.iter().any(|r| r.op == Op::Search), "{tracker}: searched for the marker: {requests:?}");
        assert_eq!(posts(&app, &channel, key).len(), 1, "{tracker}: linked once");
        let found: bool = sqlx::query_scalar(
            "SELECT bool_or((payload->>'found_by_marker')::boolean) FROM timeline_events WHERE kind = 'followup_tracked'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert!(found, "{tracker}: the timeline says it was found by its marker");
        app.finish().await;
    }
}

#[tokio::test]
async fn trackers_a_lost_github_answer_is_found_in_the_repository_when_the_search_index_lags() {
    let (app, channel) = app_with_tracker(Some("github:acme/api")).await;
    app.trackers.set_search_lag(true);
    app.trackers.fail_next(Kind::GitHub, Op::Create, Fault::ApplyThenHang, 1);
    followup(&app, &channel, "Pin the base image <@U0BOB>").await;
    later(&app, Duration::seconds(5)).await;
    later(&app, Duration::seconds(5)).await;
    assert_eq!(app.trackers.issues(Kind::GitHub).len(), 1, "created once");
    let ops: Vec<Op> = app.trackers.requests().iter().map(|r| r.op).collect();
    assert!(ops.contains(&Op::Search) && ops.contains(&Op::List), "{ops:?}");
    assert_eq!(posts(&app, &channel, "acme/api#1").len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn trackers_state_is_read_back_and_a_closed_issue_is_done_in_the_report() {
    let (app, channel) = app_with_tracker(Some("github:acme/api")).await;
    followup(&app, &channel, "Raise the memory limit <@U0BOB> long").await;
    followup(&app, &channel, "Add a dashboard <@U0ALICE> long").await;
    let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    assert!(
        md.contains(
            "- [ ] **@U0BOB**: Raise the memory limit — [acme/api#1](https://github.com/acme/api/issues/1) (open)"
        ),
        "{md}"
    );

    // Someone closes the first issue in GitHub; the next read-back (every 15 minutes) sees it.
    assert!(app.trackers.set_closed("acme/api#1", true));
    later(&app, Duration::minutes(10)).await;
    let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    assert!(md.contains("- [ ] **@U0BOB**: Raise the memory limit"), "not read yet at 10 minutes: {md}");
    later(&app, Duration::minutes(6)).await;
    let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    assert!(
        md.contains(
            "- [x] **@U0BOB**: Raise the memory limit — [acme/api#1](https://github.com/acme/api/issues/1) (done)"
        ),
        "{md}"
    );
    assert!(
        md.contains("- [ ] **@U0ALICE**: Add a dashboard — [acme/api#2](https://github.com/acme/api/issues/2) (open)"),
        "{md}"
    );

    let json: serde_json::Value = serde_json::from_slice(&report(&app, Format::Json).await).unwrap();
    let followups = json["followups"].as_array().unwrap();
    assert_eq!(followups.len(), 2);
    assert_eq!(followups[0]["done"], true);
    assert_eq!(followups[0]["issue"]["key"], "acme/api#1");
    assert_eq!(followups[1]["done"], false);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("specs/incident-report.v1.schema.json").unwrap()).unwrap();
    warroom::statuspage::schema::check_against(&schema, &json).expect("the report follows its schema");

    // The lower layer the catch-up card reads gives the same.
    let incident = app.only_incident().await;
    let items = warroom::timeline::followups::list(&app.db, incident.id).await.unwrap();
    assert!(items[0].done() && !items[1].done());
    assert!(app.timeline(&incident).await.contains(&"followup_state".to_string()));

    // A closed issue is no longer read; the open one still is.
    let reads_before = app.trackers.requests().iter().filter(|r| r.op == Op::Get).count();
    later(&app, Duration::minutes(15)).await;
    let reads = app.trackers.requests().iter().filter(|r| r.op == Op::Get).count() - reads_before;
    assert_eq!(reads, 1, "only the open issue is read again");
    app.finish().await;
}

#[tokio::test]
async fn trackers_an_overdue_open_item_nudges_its_owner_by_dm_then_in_the_channel_once_per_horizon() {
    let (app, channel) = app_with_tracker(Some("github:acme/api")).await;
    followup(&app, &channel, "Roll back the config change <@U0BOB> immediate").await;
    followup(&app, &channel, "Check the other regions <@U0ALICE> immediate").await;
    // Alice's item is done before it falls due: it nudges nobody.
    app.trackers.set_closed("acme/api#2", true);
    // Escalation DMs bob too: only the nudges count.
    let dm = |user: &str| {
        let dm = app.slack.channel(&format!("dm-{}", user.to_lowercase()));
        dm.map(|c| c.messages.iter().filter(|m| m.text.contains("overdue")).count()).unwrap_or(0)
    };

    later(&app, Duration::minutes(119)).await;
    assert_eq!(dm(BOB), 0, "not due yet");
    later(&app, Duration::minutes(2)).await;
    assert_eq!(dm(BOB), 1, "due: bob hears it by DM");
    let messages = app.slack.channel("dm-u0bob").unwrap().messages;
    let text = &messages.iter().find(|m| m.text.contains("overdue")).unwrap().text;
    assert!(text.contains("overdue") && text.contains("Roll back the config change"), "{text}");
    assert!(posts(&app, &channel, "overdue").is_empty(), "the channel not yet");
    assert_eq!(dm(ALICE), 0, "a closed item nudges nobody");

    // One horizon (2 hours) later, still open: the channel, mentioning bob.
    later(&app, Duration::minutes(60)).await;
    assert!(posts(&app, &channel, "overdue").is_empty());
    later(&app, Duration::minutes(61)).await;
    let nudges = posts(&app, &channel, "overdue");
    assert_eq!(nudges.len(), 1, "{nudges:?}");
    assert!(nudges[0].contains("<@U0BOB>") && nudges[0].contains("acme/api#1"), "{nudges:?}");

    // And no more: once per horizon, DM then channel.
    for _ in 0..4 {
        later(&app, Duration::hours(2)).await;
    }
    assert_eq!(dm(BOB), 1);
    assert_eq!(posts(&app, &channel, "overdue").len(), 1);
    let nudged: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_events WHERE kind = 'followup_nudged'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(nudged, 2);
    app.finish().await;
}

#[tokio::test]
async fn trackers_refusals_401_and_422_are_said_in_the_channel_once_and_not_retried() {
    for (tracker, kind, status, said) in [
        ("github:acme/api", Kind::GitHub, 401, "HTTP 401: Bad credentials"),
        ("github:acme/api", Kind::GitHub, 422, "HTTP 422: Validation Failed"),
        ("jira:OPS", Kind::Jira, 401, "HTTP 401: Client must be authenticated"),
        ("github:acme/api", Kind::GitHub, 404, "HTTP 404: Not Found"),
        ("linear:ENG", Kind::Linear, 401, "HTTP 401: Authentication required, not authenticated"),
    ] {
        let (app, channel) = app_with_tracker(Some(tracker)).await;
        app.trackers.fail_next(kind, Op::Create, Fault::Refuse(status), 1);
        followup(&app, &channel, "Rotate the credentials <@U0BOB>").await;
        for _ in 0..3 {
            later(&app, Duration::minutes(1)).await;
        }
        let refusals = posts(&app, &channel, said);
        let jobs: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT kind, state, last_error FROM jobs ORDER BY id").fetch_all(&app.db).await.unwrap();
        assert_eq!(refusals.len(), 1, "{tracker} {status}: {jobs:?}");
        assert!(refusals[0].contains("Rotate the credentials"), "{refusals:?}");
        if status == 401 {
            let hint = ["Check GITHUB_TOKEN", "Check JIRA_URL", "Check LINEAR_API_KEY"];
            assert!(hint.iter().any(|h| refusals[0].contains(h)), "{refusals:?}");
        }
        assert!(app.trackers.issues(kind).is_empty());
        let creates = app.trackers.requests().iter().filter(|r| r.op == Op::Create).count();
        assert_eq!(creates, 1, "{tracker} {status}: refused for good, not retried");
        let failed: String = sqlx::query_scalar("SELECT state FROM jobs WHERE kind = 'trackers.create'")
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(failed, "failed");
        // No "could not finish a step" notice on top of the tracker's own.
        assert!(posts(&app, &channel, "could not finish a step").is_empty());
        let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
        assert!(md.contains("not filed in"), "{md}");
        app.finish().await;
    }
}

#[tokio::test]
async fn trackers_a_wrong_token_is_refused_and_no_token_reaches_the_channel_the_timeline_or_the_report() {
    let wrong = "ghp_wrongTokenThatMustNotLeak0000000000";
    let app = spawn_app_with(move |s| {
        s.file.services.insert(
            "api".into(),
            ServiceConfig { tracker: Some(Tracker::parse("github:acme/api").unwrap()), ..Default::default() },
        );
        s.trackers.github_token = Some(warroom::secret::Secret::new(wrong));
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    followup(&app, &channel, "Rotate the leaked key <@U0BOB>").await;
    later(&app, Duration::minutes(1)).await;

    assert_eq!(posts(&app, &channel, "HTTP 401: Bad credentials").len(), 1);
    let requests = app.trackers.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| !r.authorized), "{requests:?}");

    let incident = app.only_incident().await;
    let mut everything = String::new();
    for c in app.slack.channels() {
        for m in c.messages {
            everything.push_str(&format!("{} {}\n", m.text, m.blocks));
        }
    }
    for e in warroom::timeline::list(&app.db, incident.id).await.unwrap() {
        everything.push_str(&format!("{}\n", e.payload));
    }
    let errors: Vec<Option<String>> =
        sqlx::query_scalar("SELECT last_error FROM jobs").fetch_all(&app.db).await.unwrap();
    everything.push_str(&format!("{errors:?}"));
    for format in [Format::Markdown, Format::Json, Format::Csv] {
        everything.push_str(&String::from_utf8(report(&app, format).await).unwrap());
    }
    for token in [wrong, GITHUB_TOKEN, JIRA_TOKEN, LINEAR_KEY] {
        assert!(!everything.contains(token), "a token leaked");
    }
    assert!(everything.contains("Bad credentials"), "the refusal itself is there");
    app.finish().await;
}

#[tokio::test]
async fn trackers_a_rate_limited_read_waits_for_the_trackers_reset() {
    let (app, channel) = app_with_tracker(Some("github:acme/api")).await;
    followup(&app, &channel, "Raise the memory limit <@U0BOB> long").await;
    app.trackers.fail_next(Kind::GitHub, Op::Get, Fault::RateLimited(3600), 1);
    later(&app, Duration::minutes(15)).await;
    let next: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT min(run_at) FROM jobs WHERE kind = 'trackers.sync' AND state = 'queued'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(next >= app.clock.now_utc() + Duration::minutes(59), "waits for x-ratelimit-reset: {next}");
    let error: Option<String> =
        sqlx::query_scalar("SELECT sync_error FROM followup_issues").fetch_one(&app.db).await.unwrap();
    assert!(error.is_some_and(|e| e.contains("rate limit")));
    // Rate limited on creation: retried after the reset, created once.
    followup(&app, &channel, "Add an alert <@U0BOB> long").await;
    assert_eq!(app.trackers.issues(Kind::GitHub).len(), 2);
    app.trackers.fail_next(Kind::GitHub, Op::Create, Fault::RateLimited(120), 1);
    followup(&app, &channel, "Write the post-mortem <@U0BOB> long").await;
    assert_eq!(app.trackers.issues(Kind::GitHub).len(), 2, "not yet: GitHub said wait");
    later(&app, Duration::seconds(121)).await;
    assert_eq!(app.trackers.issues(Kind::GitHub).len(), 3);
    app.finish().await;
}

#[tokio::test]
async fn trackers_without_a_tracker_a_followup_stays_in_the_report_only() {
    let (app, channel) = app_with_tracker(None).await;
    let reply = followup(&app, &channel, "Raise the memory limit <@U0BOB> immediate").await;
    assert!(!reply.contains("filed in"), "{reply}");
    later(&app, Duration::hours(5)).await;
    assert!(app.trackers.requests().is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM followup_issues").fetch_one(&app.db).await.unwrap();
    assert_eq!(rows, 0);
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'trackers.%'").fetch_one(&app.db).await.unwrap();
    assert_eq!(jobs, 0);
    let dm = app.slack.channel("dm-u0bob").map(|c| c.messages).unwrap_or_default();
    assert!(dm.iter().all(|m| !m.text.contains("overdue")), "no nudges without a tracker");
    let md = String::from_utf8(report(&app, Format::Markdown).await).unwrap();
    assert!(md.contains("- [ ] **@U0BOB**: Raise the memory limit\n"), "{md}");
    app.finish().await;
}

#[tokio::test]
async fn trackers_sandbox_mode_serves_the_three_sandbox_trackers_and_files_in_them() {
    let app = spawn_app().await;
    let settings = warroom::config::Settings::from_lookup(|key| match key {
        "WARROOM_CONFIG" => Some("/dev/null".into()),
        "WARROOM_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .unwrap();
    assert!(settings.sandbox_mode() && !settings.trackers.any());
    let sandbox = warroom::app::Application::build(settings, app.db.clone(), app.clock.clone(), 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", sandbox.port());
    let state = sandbox.state().clone();
    tokio::spawn(sandbox.run_until_stopped(std::future::pending()));

    // The first run's trackers answer over HTTP, with their own credentials.
    let http = warroom::tls::http_client();
    let url = format!("{address}/sandbox/trackers/github/search/issues?q=x");
    let refused = http.get(&url).header("User-Agent", "test").send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap()["message"], "Bad credentials");
    // warroom's own clients point at them.
    for tracker in ["github:acme/api", "jira:OPS", "linear:ENG"] {
        let tracker = Tracker::parse(tracker).unwrap();
        assert_eq!(state.trackers.find(&tracker, "warroom:followup:1").await.unwrap(), None, "{tracker}");
    }
    app.finish().await;
}

#[tokio::test]
async fn trackers_a_private_incidents_followup_is_kept_out_of_the_tracker_and_the_reply_says_why() {
    let app = spawn_app_with(|s| {
        let tracker = Some(Tracker::parse("github:acme/api").unwrap());
        s.file.services.insert("api".into(), ServiceConfig { tracker, ..Default::default() });
    })
    .await;
    app.slash(ALICE, "declare --private P0 api Customer data exposed").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    let reply = followup(&app, &channel, "Rotate the leaked keys <@U0ALICE> immediate").await;
    assert!(reply.contains("not filed in GitHub acme/api: the incident is private"), "{reply}");
    later(&app, Duration::hours(3)).await;
    assert!(app.trackers.issues(Kind::GitHub).is_empty());
    assert!(app.trackers.requests().is_empty(), "{:?}", app.trackers.requests());
    // The item is still the report's.
    assert!(String::from_utf8(report(&app, Format::Markdown).await).unwrap().contains("Rotate the leaked keys"));
    app.finish().await;
}
