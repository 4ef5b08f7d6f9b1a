//! "Seen before": after the declaration, once, up to three resolved incidents of the same
//! service first, then of other services with a similar title (`pg_trgm`), with when, how long,
//! root cause, resolution and a link to their report. Never an open one, never a private one;
//! without `pg_trgm`, the same service only.

use chrono::Duration;
use warroom::incident::store::UpdateFields;
use warroom::sandbox::Fault;
use warroom::seen_before::{self, Matching};

use crate::harness::*;

/// A resolved (or, with `resolved = false`, open) incident written straight into the table,
/// declared `days_ago` before the test's start and resolved 1h 05m later; returns its number.
async fn past(app: &TestApp, title: &str, service: &str, days_ago: i64, private: bool, resolved: bool) -> i64 {
    let declared = start_time() - Duration::days(days_ago);
    let resolved_at = resolved.then(|| declared + Duration::minutes(65));
    sqlx::query_scalar(
        "INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, declared_at,
                                resolved_at, root_cause, resolution, channel_id, private)
         VALUES (gen_random_uuid(), $1, $2, 'P2', CASE WHEN $3::timestamptz IS NULL THEN 'investigating' ELSE 'resolved' END,
                 'U0ALICE', 'U0ALICE', $4, $3, 'Root cause of ' || $1, 'Resolution of ' || $1, 'CPAST' || $5::text, $6)
         RETURNING number",
    )
    .bind(title)
    .bind(service)
    .bind(resolved_at)
    .bind(declared)
    .bind(days_ago)
    .bind(private)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// The "Seen before" posts of `channel`, each as its whole mrkdwn text.
fn seen_posts(app: &TestApp, channel: &str) -> Vec<String> {
    let channel = app.slack.channel(channel).unwrap();
    channel
        .messages
        .iter()
        .filter(|m| m.text.starts_with("Seen before"))
        .map(|m| {
            let blocks = m.blocks.as_array().unwrap();
            blocks.iter().filter_map(|b| b["text"]["text"].as_str()).collect::<Vec<_>>().join("\n")
        })
        .collect()
}

/// Declares as alice and settles (the post is due a few seconds after the declaration);
/// returns the new incident's channel.
async fn declare(app: &TestApp, text: &str) -> String {
    app.slash(ALICE, &format!("declare {text}")).await;
    app.settle().await;
    app.incidents().await.pop().unwrap().channel_id.expect("its channel")
}

/// The number in the list's line, as the post shows it.
fn shows(post: &str, number: i64) -> bool {
    post.contains(&format!("*INC-{number}*"))
}

#[tokio::test]
async fn seen_before_lists_the_same_service_first_then_similar_titles_of_others() {
    let app = spawn_app().await;
    let same_similar = past(&app, "Database connections exhausted", "api", 30, false, true);
    let same_similar = same_similar.await;
    let same_other = past(&app, "Certificate expired on the edge", "api", 2, false, true).await;
    let other_similar = past(&app, "Database connections exhausted on replicas", "web", 10, false, true).await;
    let other_dissimilar = past(&app, "Login page slow", "web", 1, false, true).await;

    let channel = declare(&app, "P2 api Database connections exhausted again").await;

    let posts = seen_posts(&app, &channel);
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    for number in [same_similar, same_other, other_similar] {
        assert!(shows(post, number), "INC-{number} missing: {post}");
    }
    assert!(!shows(post, other_dissimilar), "a dissimilar title of another service: {post}");
    // The same service first (the similar title before the other one), then the other service.
    let at = |n: i64| post.find(&format!("*INC-{n}*")).unwrap();
    assert!(at(same_similar) < at(same_other) && at(same_other) < at(other_similar), "{post}");
    assert!(post.contains("Root cause of Database connections exhausted"), "{post}");
    assert!(post.contains("Resolution of Database connections exhausted"), "{post}");
    assert!(post.contains("lasted 1h 05m"), "{post}");
    assert!(post.contains("2026-10-24 15:00 UTC"), "when: {post}");
    assert!(post.contains("<#CPAST30>"), "the link to its channel: {post}");
    assert!(post.contains("(similar title)"), "{post}");

    // The lower layer the catch-up card reads.
    let incident = app.incidents().await.pop().unwrap();
    let pasts = seen_before::similar(&app.db, Matching::SimilarTitles, &incident).await.unwrap();
    let numbers: Vec<(i64, bool)> = pasts.iter().map(|p| (p.number, p.same_service)).collect();
    assert_eq!(numbers, [(same_similar, true), (same_other, true), (other_similar, false)]);
    assert!(pasts[0].similarity > pasts[1].similarity);
    assert_eq!(pasts[0].duration(), Duration::minutes(65));
    app.finish().await;
}

#[tokio::test]
async fn seen_before_shows_at_most_three_the_latest_when_titles_are_alike() {
    let app = spawn_app().await;
    let mut numbers = Vec::new();
    for days_ago in 1..=5 {
        numbers.push(past(&app, "Queue backlog growing", "api", days_ago, false, true).await);
    }
    let channel = declare(&app, "P2 api Queue backlog growing").await;

    let post = seen_posts(&app, &channel).remove(0);
    assert_eq!(post.matches("*INC-").count(), 3, "{post}");
    for latest in &numbers[..3] {
        assert!(shows(&post, *latest), "{post}");
    }
    let incident = app.incidents().await.pop().unwrap();
    assert_eq!(seen_before::similar(&app.db, Matching::SimilarTitles, &incident).await.unwrap().len(), 3);
    app.finish().await;
}

#[tokio::test]
async fn seen_before_shows_only_resolved_incidents_and_posts_nothing_when_none_is_alike() {
    let app = spawn_app().await;
    let open = past(&app, "Database down", "api", 1, false, false).await;
    past(&app, "Totally unrelated marketing email bounce", "web", 3, false, true).await;

    let channel = declare(&app, "P2 api Database down").await;
    app.settle().await;

    assert!(seen_posts(&app, &channel).is_empty(), "an open incident or a dissimilar one was shown");
    let incident = app.incidents().await.pop().unwrap();
    let pasts = seen_before::similar(&app.db, Matching::SimilarTitles, &incident).await.unwrap();
    assert!(pasts.iter().all(|p| p.number != open), "{pasts:?}");
    assert!(pasts.is_empty(), "{pasts:?}");
    let done: String =
        sqlx::query_scalar("SELECT state FROM jobs WHERE kind = 'seen_before.post'").fetch_one(&app.db).await.unwrap();
    assert_eq!(done, "done");
    app.finish().await;
}

#[tokio::test]
async fn seen_before_never_shows_a_private_incident_and_a_private_channel_sees_the_others() {
    let app = spawn_app().await;
    let secret = past(&app, "Signing keys leaked in build logs", "api", 5, true, true).await;
    let public = past(&app, "Signing keys leaked in build logs again", "web", 6, false, true).await;

    // A public incident's channel: the private one (same service, same title) is not there.
    let channel = declare(&app, "P2 api Signing keys leaked in build logs").await;
    let post = seen_posts(&app, &channel).remove(0);
    assert!(!shows(&post, secret) && !post.contains("CPAST5"), "a private incident leaked: {post}");
    assert!(shows(&post, public), "{post}");

    // A private incident's channel sees the public one, and not another private one either
    // (its members are not that incident's members).
    let private_channel = declare(&app, "--private P2 api Signing keys leaked in build logs").await;
    assert!(app.incidents().await.pop().unwrap().private);
    let post = seen_posts(&app, &private_channel).remove(0);
    assert!(!shows(&post, secret), "another private incident shown: {post}");
    assert!(shows(&post, public), "{post}");

    // The lower layer holds to it whatever incident asks.
    for incident in app.incidents().await.iter().filter(|i| i.resolved_at.is_none()) {
        for matching in [Matching::SimilarTitles, Matching::SameServiceOnly] {
            let pasts = seen_before::similar(&app.db, matching, incident).await.unwrap();
            assert!(pasts.iter().all(|p| p.number != secret), "{matching:?}: {pasts:?}");
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn seen_before_is_posted_once_after_the_declaration_whatever_is_redelivered() {
    let app = spawn_app().await;
    past(&app, "Cache stampede", "api", 3, false, true).await;

    let channel = declare(&app, "P2 api Cache stampede").await;
    app.drain().await;
    app.settle().await;
    // The job runs again as if its worker died after posting (a redelivery): the post's ledger
    // finds it posted.
    sqlx::query("UPDATE jobs SET state = 'queued', run_at = $1 WHERE kind = 'seen_before.post'")
        .bind(app.clock.now_utc())
        .execute(&app.db)
        .await
        .unwrap();
    app.drain().await;

    assert_eq!(seen_posts(&app, &channel).len(), 1);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'seen_before.post'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "one job per incident");
    // Right after the declaration in the channel.
    let messages = app.slack.channel(&channel).unwrap().messages;
    let declaration = app.incidents().await.pop().unwrap().declaration_ts.unwrap();
    let at = |pred: &dyn Fn(&warroom::sandbox::Message) -> bool| messages.iter().position(pred).unwrap();
    assert!(at(&|m| m.ts == declaration) < at(&|m| m.text.starts_with("Seen before")));
    app.finish().await;
}

#[tokio::test]
async fn seen_before_is_posted_once_when_slack_delivered_it_but_the_answer_was_lost() {
    let app = spawn_app().await;
    past(&app, "Cache stampede", "api", 3, false, true).await;
    app.slash(ALICE, "declare P2 api Cache stampede").await;
    app.drain().await;
    // The declaration is out; the next post is "seen before"'s: delivered, then a 500.
    app.slack.inject("chat.postMessage", Fault::DeliveredThenStatus(500), 1);
    app.settle().await;

    let channel = app.incidents().await.pop().unwrap().channel_id.unwrap();
    assert_eq!(seen_posts(&app, &channel).len(), 1, "found in the history, not posted again");
    let lookups: i64 = sqlx::query_scalar(
        "SELECT p.lookups::bigint FROM slack_posts p JOIN jobs j ON j.id = p.job_id WHERE j.kind = 'seen_before.post'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(lookups, 1, "the lost answer made the retry look first");
    app.finish().await;
}

#[tokio::test]
async fn seen_before_links_the_exported_report_of_a_past_incident() {
    let app = spawn_app().await;
    let first_channel = declare(&app, "P2 api Disk full on workers").await;
    app.slack.slash(ALICE, &first_channel, "export md").await.unwrap();
    app.drain().await;
    let first = app.only_incident().await;
    let fields = UpdateFields { root_cause: Some("Logs never rotated".into()), ..UpdateFields::default() };
    app.clock.advance(Duration::minutes(30));
    app.resolve_directly(&first, ALICE, &fields, Some("Rotated and purged")).await;
    app.settle().await;

    // Slack throttles the report's look-up once: the job waits, and uses up no attempt.
    let looked_up = app.slack.call_count("files.info");
    app.slack.inject("files.info", Fault::RateLimited { retry_after_secs: 30 }, 1);
    let channel = declare(&app, "P1 api Disk full on workers again").await;
    let posts = seen_posts(&app, &channel);
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE kind = 'seen_before.post' ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("done", 1), "a 429 is no attempt");
    assert_eq!(app.slack.call_count("files.info") - looked_up, 2, "looked up again after the pause");
    assert!(shows(post, first.number), "{post}");
    assert!(post.contains("|report>"), "the report's permalink: {post}");
    assert!(post.contains("Logs never rotated") && post.contains("Rotated and purged"), "{post}");
    assert!(post.contains("lasted 30m "), "{post}");
    app.finish().await;
}

#[tokio::test]
async fn seen_before_without_pg_trgm_says_so_and_matches_the_same_service_only() {
    let app = spawn_app().await;
    assert_eq!(Matching::detect(&app.db).await.unwrap(), Matching::SimilarTitles, "the test server has pg_trgm");
    let same = past(&app, "Certificate expired on the edge", "api", 2, false, true).await;
    let similar_elsewhere = past(&app, "Database connections exhausted", "web", 1, false, true).await;

    app.slash(ALICE, "declare P2 api Database connections exhausted").await;
    app.drain().await;
    // This process as if migration 0025 could not create the extension.
    let mut state = app.state.clone();
    state.seen_before = Matching::SameServiceOnly;
    app.clock.advance(seen_before::react::AFTER);
    while warroom::jobs::runner::run_due(&state).await.unwrap() > 0 {}
    let channel = app.incidents().await.pop().unwrap().channel_id.unwrap();

    let post = seen_posts(&app, &channel).remove(0);
    assert!(shows(&post, same), "{post}");
    assert!(!shows(&post, similar_elsewhere), "title matching without pg_trgm: {post}");
    assert!(post.contains("same service only"), "{post}");
    // `warroom doctor` says which it is.
    let line = seen_before::doctor::against(&app.database_url()).await.to_string();
    assert!(line.starts_with("✓ seen before: pg_trgm is installed"), "{line}");
    app.finish().await;
}
