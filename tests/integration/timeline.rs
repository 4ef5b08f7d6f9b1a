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
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.actor != "mallory"));
    app.finish().await;
}
