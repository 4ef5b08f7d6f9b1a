//! Changes at most once, in one process: an approval is used up when its change starts; a
//! database failure after the change ran never runs it again (the channel hears the outcome is
//! unknown); resolving the incident cancels what has not started; a change whose job ended
//! without an outcome is said unknown by its watch timer.

use chrono::{DateTime, Utc};

use crate::diagnostics::{app_with_service_and, shim_calls};
use crate::harness::*;

/// An app whose service `api` has container `container`, bob the approver, alice a responder.
async fn app_for(container: &str) -> (TestApp, String) {
    app_with_service_and(&[("container", container)], |s| {
        s.file.approvals.approvers = vec![BOB.into()];
        s.file.responders.users.push(ALICE.into());
    })
    .await
}

/// Alice asks for `docker restart`: the approval message's ts.
async fn request(app: &TestApp, channel: &str) -> String {
    let reply = app.slack.slash(ALICE, channel, "run docker.restart reason=\"stuck\"").await.unwrap().text();
    assert!(reply.contains("`docker.restart` is a change"), "{reply}");
    app.drain().await;
    let message = app.slack.channel(channel).unwrap().messages.pop().unwrap();
    assert!(message.blocks.to_string().contains("approval.approve"), "{}", message.blocks);
    message.ts
}

fn restarts(container: &str) -> usize {
    shim_calls().matches(&format!("docker restart {container}\n")).count()
}

fn text_of(app: &TestApp, channel: &str, ts: &str) -> (String, String) {
    let message = app.slack.channel(channel).unwrap().messages.into_iter().find(|m| m.ts == ts).unwrap();
    (message.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string(), message.blocks.to_string())
}

fn posts_with(app: &TestApp, channel: &str, needle: &str) -> Vec<String> {
    let messages = app.slack.channel(channel).unwrap().messages;
    let texts = messages.iter().map(|m| m.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string());
    texts.filter(|t| t.contains(needle)).collect()
}

async fn request_states(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM approval_requests ORDER BY requested_at, id")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn count_events(app: &TestApp, kind: &str) -> usize {
    app.timeline(&app.only_incident().await).await.iter().filter(|k| *k == kind).count()
}

/// When the change's run job is due again (a retry), if it is queued.
async fn run_job_due(app: &TestApp) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'diagnostics.run' AND state = 'queued'")
        .fetch_optional(&app.db)
        .await
        .unwrap()
}

/// Makes the next write of a change's outcome (`done`/`failed`) to `approval_requests` fail,
/// once: a sequence counts, and sequences ignore the rollback of the failing transaction.
async fn fail_the_outcome_write_once(app: &TestApp) {
    for statement in [
        "CREATE SEQUENCE injected_outcome_failures",
        r#"CREATE FUNCTION fail_outcome_once() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.state IN ('done', 'failed') AND nextval('injected_outcome_failures') = 1 THEN
                   RAISE EXCEPTION 'injected: the database failed while recording the outcome';
               END IF;
               RETURN NEW;
           END $$"#,
        "CREATE TRIGGER fail_outcome_once BEFORE UPDATE ON approval_requests FOR EACH ROW \
         EXECUTE FUNCTION fail_outcome_once()",
    ] {
        sqlx::query(statement).execute(&app.db).await.unwrap();
    }
}

#[tokio::test]
async fn a_database_error_after_the_change_ran_never_runs_it_again_and_says_the_outcome_is_unknown() {
    let (app, channel) = app_for("ctr-db-error").await;
    let ts = request(&app, &channel).await;
    fail_the_outcome_write_once(&app).await;

    app.slack.click(BOB, &channel, &ts, "approval.approve").await.unwrap();
    app.drain().await;
    assert_eq!(restarts("ctr-db-error"), 1, "it ran");
    assert_eq!(request_states(&app).await, ["running"], "used up before it ran; its outcome was not recorded");
    // The job retries after its backoff (as many times as it likes).
    while let Some(at) = run_job_due(&app).await {
        app.clock.set(at);
        app.drain().await;
    }

    assert_eq!(restarts("ctr-db-error"), 1, "never run again");
    let unknown = posts_with(&app, &channel, "*Outcome unknown:*");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].contains("`docker restart ctr-db-error`")
            && unknown[0].contains("started at 15:00:00 UTC")
            && unknown[0].contains("will not run it again")
            && unknown[0].contains("request it again if it is still needed"),
        "{}",
        unknown[0]
    );
    assert_eq!(request_states(&app).await, ["outcome_unknown"]);
    assert_eq!(count_events(&app, "change_started").await, 1);
    assert_eq!(count_events(&app, "change_outcome_unknown").await, 1);
    assert_eq!(count_events(&app, "diagnostic_finished").await, 0, "no outcome was recorded");
    let (message, blocks) = text_of(&app, &channel, &ts);
    assert!(message.contains("*Outcome unknown*") && message.contains("will not run again"), "{message}");
    assert!(!message.contains("running it now") && !blocks.contains("approval.approve"), "{message}");

    app.finish().await;
}

#[tokio::test]
async fn an_approved_change_says_done_with_its_outcome() {
    let (app, channel) = app_for("ctr-done").await;
    let ts = request(&app, &channel).await;

    app.slack.click(BOB, &channel, &ts, "approval.approve").await.unwrap();
    app.drain().await;

    assert_eq!(restarts("ctr-done"), 1);
    assert_eq!(request_states(&app).await, ["done"]);
    let (message, _) = text_of(&app, &channel, &ts);
    assert!(message.contains("*Approved* by <@U0BOB>. *Done* at 15:00:00 UTC: exit 0 in"), "{message}");
    // Its watch timer was cancelled with the outcome: nothing fires later.
    app.clock.advance(chrono::Duration::minutes(10));
    app.drain().await;
    assert!(posts_with(&app, &channel, "Outcome unknown").is_empty());
    app.finish().await;
}

#[tokio::test]
async fn resolving_cancels_pending_and_approved_requests_that_have_not_started() {
    let (app, channel) = app_for("ctr-resolved-local").await;
    let pending = request(&app, &channel).await;
    let approved = request(&app, &channel).await;
    // The resolve modal opens; bob approves the second request; then the incident is resolved
    // before the change's job ran.
    let declaration = app.slack.channel(&channel).unwrap().messages[0].ts.clone();
    app.slack.click(ALICE, &channel, &declaration, "incident.resolve").await.unwrap();
    app.drain().await;
    let view = app.slack.views().pop().expect("the resolve modal opened");
    app.slack.click(BOB, &channel, &approved, "approval.approve").await.unwrap();
    let values = [("cause", "bad deploy"), ("resolution", "rolled back"), ("impact", "errors for 5 min")];
    app.slack.submit_view(ALICE, &view.id, &values).await.unwrap();
    app.drain().await;

    assert!(app.only_incident().await.is_resolved());
    assert_eq!(restarts("ctr-resolved-local"), 0, "nothing ran");
    assert_eq!(request_states(&app).await, ["cancelled", "cancelled"]);
    assert_eq!(count_events(&app, "approval_cancelled").await, 2);
    assert_eq!(count_events(&app, "change_started").await, 0);
    for ts in [&pending, &approved] {
        let (message, blocks) = text_of(&app, &channel, ts);
        assert!(
            message.contains("*Cancelled*: the incident was resolved before it started. Nothing ran."),
            "{message}"
        );
        assert!(!message.contains("running it now") && !blocks.contains("approval.approve"), "{message}");
    }

    assert_eq!(restarts("ctr-resolved-local"), 0);
    app.finish().await;
}

#[tokio::test]
async fn approving_after_the_resolution_cancels_the_request_instead() {
    let (app, channel) = app_for("ctr-approved-late").await;
    let ts = request(&app, &channel).await;
    let incident = app.only_incident().await;
    // Resolved (its resolution's job not run yet), then bob clicks Approve.
    let fields = warroom::incident::store::UpdateFields::default();
    app.resolve_directly(&incident, ALICE, &fields, Some("fixed")).await;

    app.slack.click(BOB, &channel, &ts, "approval.approve").await.unwrap();
    app.drain().await;

    let told = app.slack.ephemerals(BOB).pop().unwrap().text;
    assert!(told.contains("The incident is resolved: this request is cancelled"), "{told}");
    assert_eq!(request_states(&app).await, ["cancelled"]);
    assert_eq!(count_events(&app, "approval_cancelled").await, 1, "cancelled once, not again by the resolution");
    assert_eq!(restarts("ctr-approved-late"), 0);
    app.finish().await;
}

#[tokio::test]
async fn a_change_whose_job_ended_without_an_outcome_is_said_unknown_by_its_watch_once() {
    let (app, channel) = app_for("ctr-watched").await;
    let ts = request(&app, &channel).await;
    fail_the_outcome_write_once(&app).await;
    app.slack.click(BOB, &channel, &ts, "approval.approve").await.unwrap();
    app.drain().await;
    // Its job is gone for good (as after a worker that failed it for good): only the watch is left.
    sqlx::query("UPDATE jobs SET state = 'failed' WHERE kind = 'diagnostics.run'").execute(&app.db).await.unwrap();

    // docker.restart's time limit is 60 s; the margin 120 s.
    app.clock.advance(chrono::Duration::seconds(179));
    app.drain().await;
    assert_eq!(request_states(&app).await, ["running"], "not before its time limit and the margin");
    app.clock.advance(chrono::Duration::seconds(1));
    app.drain().await;

    assert_eq!(request_states(&app).await, ["outcome_unknown"]);
    let unknown = posts_with(&app, &channel, "*Outcome unknown:*");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].contains("no outcome was recorded within its time limit (60 s) and 120 s more"),
        "{}",
        unknown[0]
    );
    assert_eq!(restarts("ctr-watched"), 1);
    app.finish().await;
}
