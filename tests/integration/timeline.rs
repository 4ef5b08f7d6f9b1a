use crate::harness::*;

#[tokio::test]
async fn timeline_rows_cannot_be_updated_or_deleted() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;

    let update = sqlx::query("UPDATE timeline_events SET actor = 'mallory'").execute(&app.db).await;
    let delete = sqlx::query("DELETE FROM timeline_events").execute(&app.db).await;
    let truncate = sqlx::query("TRUNCATE timeline_events").execute(&app.db).await;

    for (what, result) in [("UPDATE", update), ("DELETE", delete), ("TRUNCATE", truncate)] {
        let err = result.expect_err(what).to_string();
        assert!(err.contains(&format!("timeline_events is append-only: {what} is not allowed")), "{err}");
    }
    let incident = app.only_incident().await;
    let events = warroom::timeline::list(&app.db, incident.id).await.unwrap();
    assert_eq!(events.len(), 8);
    assert!(events.iter().all(|e| e.actor != "mallory"));
    app.finish().await;
}

#[tokio::test]
async fn finished_jobs_older_than_a_week_are_purged_and_the_purge_repeats_hourly() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let finished = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE state = 'done'").fetch_one(&db).await.unwrap()
        }
    };
    assert!(finished(&app).await > 0);

    app.clock.advance(chrono::Duration::days(8));
    warroom::jobs::purge::schedule(&app.state).await.unwrap();
    app.clock.advance(chrono::Duration::hours(1));
    app.drain().await;

    // The declaration's jobs are gone; what ran today (status updates, the purge) stays.
    let old: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE finished_at < $1")
        .bind(app.clock.now_utc() - chrono::Duration::days(7))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(old, 0);
    let next: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'jobs.purge' AND state = 'queued'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(next, 1, "the next purge is planned");
    assert!(!app.timeline(&app.only_incident().await).await.is_empty(), "the timeline is untouched");
    app.finish().await;
}
