//! The seam between the incident domain and the parts that react to its changes
//! (`warroom::reactions::ALL`): each reactor is told each change once, inside the transaction
//! that made it (before it commits), and a reactor's failure rolls the whole change back.

use std::sync::Mutex;

use futures_util::future::BoxFuture;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use warroom::incident::change::{Change, Context, Plan, React, Reactions};
use warroom::incident::declare::{self, Acknowledged};
use warroom::incident::lifecycle::{self, LifecycleError};
use warroom::incident::store::{NewIncident, UpdateFields};
use warroom::incident::{Severity, Status};
use warroom::jobs::kind;

use crate::harness::*;
use crate::statuspage::gateway_app;

/// What a reactor saw of the incident when it was told a change: inside the change's
/// transaction, and from another connection at the same moment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    change: &'static str,
    events_inside: i64,
    events_outside: i64,
    jobs_inside: Vec<String>,
    jobs_outside: Vec<String>,
}

/// Records every change it is told (and each declaration it plans).
struct Recorder {
    db: PgPool,
    seen: Mutex<Vec<Seen>>,
    planned: Mutex<usize>,
}

async fn events(db: impl PgExecutor<'_>, incident: uuid::Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM timeline_events WHERE incident_id = $1").bind(incident).fetch_one(db).await
}

async fn job_kinds(db: impl PgExecutor<'_>, incident: uuid::Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT kind FROM jobs WHERE incident_id = $1 ORDER BY kind, slot")
        .bind(incident)
        .fetch_all(db)
        .await
}

impl React for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn plan(&self, _ctx: &Context<'_>, _new: &NewIncident, plan: &mut Plan) {
        *self.planned.lock().unwrap() += 1;
        plan.then_react();
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        _ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            let id = change.incident_id();
            let seen = Seen {
                change: change.name(),
                events_inside: events(&mut **tx, id).await?,
                events_outside: events(&self.db, id).await?,
                jobs_inside: job_kinds(&mut **tx, id).await?,
                jobs_outside: job_kinds(&self.db, id).await?,
            };
            self.seen.lock().unwrap().push(seen);
            Ok(())
        })
    }
}

/// Fails on one change, with a real database error, after the reactors before it did their work.
struct Failing(&'static str);

impl React for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }

    fn plan(&self, _ctx: &Context<'_>, _new: &NewIncident, plan: &mut Plan) {
        if self.0 == "declared" {
            plan.then_react();
        }
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        _ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            if change.name() == self.0 {
                sqlx::query("SELECT 1 / 0").execute(&mut **tx).await?;
            }
            Ok(())
        })
    }
}

/// The registered reactors, then `last`.
fn with(last: &dyn React) -> Vec<&dyn React> {
    let mut reactors = warroom::reactions::ALL.to_vec();
    reactors.push(last);
    reactors
}

/// Declares a P0 on the gateway through the domain, keyed `key`, told to `reactions`.
async fn declare_with(app: &TestApp, reactions: Reactions<'_>, key: &str) -> sqlx::Result<declare::Declared> {
    let mut conn = app.db.acquire().await?;
    declare::declare(&mut conn, reactions, app.clock.now_utc(), key, "test", &gateway_p0()).await
}

fn gateway_p0() -> NewIncident {
    NewIncident {
        title: "Inference API returns 100% errors".into(),
        service: "inference-gateway".into(),
        severity: Severity::P0,
        commander: ALICE.into(),
        declared_by: ALICE.into(),
        impact: None,
        origin_channel: None,
        response_url: None,
        detected_at: None,
        runbook_url: None,
        roles: Vec::new(),
        private: false,
    }
}

#[tokio::test]
async fn every_reactor_is_told_each_change_once_inside_the_transaction_that_made_it() {
    let app = gateway_app(|_| {}).await;
    let recorder = Recorder { db: app.db.clone(), seen: Mutex::new(Vec::new()), planned: Mutex::new(0) };
    let reactors = with(&recorder);
    let reactions = Reactions { config: &app.state.settings.file, reactors: &reactors };
    let now = || app.clock.now_utc();

    let declared = declare_with(&app, reactions, "seam:1").await.unwrap();
    assert!(declared.created);
    app.drain().await;
    let incident = app.only_incident().await;
    assert!(matches!(
        declare::acknowledge(&app.db, reactions, now(), incident.id, BOB).await.unwrap(),
        Acknowledged::Now(_)
    ));
    let fields = UpdateFields { status: Some(Status::Identified), ..Default::default() };
    lifecycle::update(&app.db, reactions, now(), &incident, ALICE, &fields).await.unwrap();
    lifecycle::change_commander(&app.db, reactions, now(), &incident, ALICE, BOB).await.unwrap();
    let incident = app.only_incident().await;
    lifecycle::change_severity(&app.db, reactions, now(), &incident, BOB, Severity::P1).await.unwrap();
    let incident = app.only_incident().await;
    lifecycle::resolve(&app.db, reactions, now(), &incident, BOB, &UpdateFields::default(), Some("restarted"))
        .await
        .unwrap();
    let incident = app.only_incident().await;
    lifecycle::reopen(&app.db, reactions, now(), &incident, BOB).await.unwrap();
    app.drain().await;

    // Repeated deliveries and refused transitions change nothing, so nobody is told.
    let again = declare_with(&app, reactions, "seam:1").await.unwrap();
    assert_eq!((again.id, again.created), (declared.id, false));
    let incident = app.only_incident().await;
    assert!(matches!(
        declare::acknowledge(&app.db, reactions, now(), incident.id, CAROL).await.unwrap(),
        Acknowledged::Already(_)
    ));
    let reopened = lifecycle::reopen(&app.db, reactions, now(), &incident, BOB).await;
    assert!(matches!(reopened, Err(LifecycleError::NotResolved(_))), "{reopened:?}");

    let seen = recorder.seen.lock().unwrap().clone();
    let names: Vec<&str> = seen.iter().map(|s| s.change).collect();
    assert_eq!(
        names,
        ["declared", "acknowledged", "updated", "commander_changed", "severity_changed", "resolved", "reopened"]
    );
    assert_eq!(*recorder.planned.lock().unwrap(), 2, "each declaration is planned once (the repeat too)");
    for s in &seen {
        // Each change's timeline event is there inside its transaction, not yet outside it.
        assert!(s.events_inside > s.events_outside, "{s:?}");
    }
    // The registered reactors did their part in the declaring transaction before the recorder
    // (last) was told: the status page's opening push and the escalation timers, uncommitted.
    let declared_seen = &seen[0];
    assert_eq!((declared_seen.events_inside, declared_seen.events_outside), (1, 0));
    assert!(declared_seen.jobs_outside.is_empty(), "{declared_seen:?}");
    for expected in [kind::STATUSPAGE_PUSH, kind::ESCALATION_TIER, kind::ESCALATION_ACK_CHECK, kind::CREATE_CHANNEL] {
        assert!(declared_seen.jobs_inside.iter().any(|k| k == expected), "{expected}: {declared_seen:?}");
    }
    app.settle().await;
    app.finish().await;
}

#[tokio::test]
async fn a_reactor_that_fails_rolls_the_declaration_back_with_everything_the_others_did() {
    let app = gateway_app(|_| {}).await;
    let failing = Failing("declared");
    let reactors = with(&failing);
    let reactions = Reactions { config: &app.state.settings.file, reactors: &reactors };

    let failed = declare_with(&app, reactions, "seam:1").await;

    assert!(failed.is_err(), "{failed:?}");
    for table in ["incidents", "idempotency_keys", "timeline_events", "jobs", "statuspage_sync"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    // Nothing half done: the same key declares it afterwards, with the registered reactors.
    let declared = declare_with(&app, app.state.reactions(), "seam:1").await.unwrap();
    assert!(declared.created);
    app.settle().await;
    assert_eq!(app.statuspage.incidents().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_reactor_that_fails_on_the_resolution_leaves_the_incident_open_with_its_timers() {
    let app = gateway_app(|_| {}).await;
    app.slash(ALICE, "declare P0 inference-gateway Inference API returns 100% errors").await;
    app.settle().await;
    let incident = app.only_incident().await;
    let jobs_before: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, slot, state FROM jobs ORDER BY kind, slot").fetch_all(&app.db).await.unwrap();
    let events_before = app.timeline(&incident).await;
    let failing = Failing("resolved");
    let reactors = with(&failing);
    let reactions = Reactions { config: &app.state.settings.file, reactors: &reactors };

    let failed =
        lifecycle::resolve(&app.db, reactions, app.clock.now_utc(), &incident, ALICE, &UpdateFields::default(), None)
            .await;

    assert!(matches!(failed, Err(LifecycleError::Database(_))), "{failed:?}");
    let after = app.only_incident().await;
    assert_eq!((after.status.as_str(), after.resolved_at), ("investigating", None));
    assert_eq!(app.timeline(&incident).await, events_before, "no `resolved` event");
    let jobs_after: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, slot, state FROM jobs ORDER BY kind, slot").fetch_all(&app.db).await.unwrap();
    // No timer cancelled, no resolution post, no status page resolve, no PagerDuty resolve.
    assert_eq!(jobs_after, jobs_before);
    assert!(jobs_after.iter().any(|(k, _, state)| k == kind::ESCALATION_TIER && state == "queued"), "{jobs_after:?}");
    app.settle().await;
    assert_eq!(page_status(&app), "investigating");
    app.finish().await;
}

fn page_status(app: &TestApp) -> String {
    crate::statuspage::page_incident(app).status
}
