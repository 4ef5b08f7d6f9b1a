//! `GET /metrics`: the process's counters, plus gauges read from Postgres at scrape time (open
//! incidents, the job queue), which are the same whichever replica is scraped. The gauges are
//! read on the probes' own pool (`AppState::probe_db`), never on the one that acknowledges Slack.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::registry::{Family, Kind, Registry};
use crate::app::AppState;
use crate::incident::Severity;

pub const INCIDENTS_OPEN: Family = Family {
    name: "warroom_incidents_open",
    help: "Incidents not yet resolved, by severity (from the database).",
    kind: Kind::Gauge,
    labels: &["severity"],
    buckets: &[],
};
pub const QUEUE_DEPTH: Family = Family {
    name: "warroom_job_queue_depth",
    help: "Queued jobs that are due and wait for a worker, by kind (from the database).",
    kind: Kind::Gauge,
    labels: &["kind"],
    buckets: &[],
};
pub const QUEUE_LAG: Family = Family {
    name: "warroom_job_queue_lag_seconds",
    help: "How long the oldest due queued job has waited past its run time, by kind (from the database).",
    kind: Kind::Gauge,
    labels: &["kind"],
    buckets: &[],
};
pub const DATABASE_UP: Family = Family {
    name: "warroom_database_up",
    help: "1 when this scrape could read the database gauges, else 0.",
    kind: Kind::Gauge,
    labels: &[],
    buckets: &[],
};

const DATABASE_FAMILIES: &[&Family] = &[&INCIDENTS_OPEN, &QUEUE_DEPTH, &QUEUE_LAG, &DATABASE_UP];

/// The text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let gauges = Registry::default();
    let up = match read_gauges(&state, &gauges).await {
        Ok(()) => 1.0,
        Err(e) => {
            tracing::warn!("metrics: could not read the database gauges: {e}");
            0.0
        }
    };
    gauges.set(&DATABASE_UP, &[], up);
    let mut out = String::new();
    state.metrics.render(&mut out);
    gauges.render(DATABASE_FAMILIES, &mut out);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], out)
}

async fn read_gauges(state: &AppState, gauges: &Registry) -> sqlx::Result<()> {
    // Every severity is reported, so "none open" is a 0 and not a missing series.
    for severity in [Severity::P0, Severity::P1, Severity::P2, Severity::P3] {
        gauges.set(&INCIDENTS_OPEN, &[severity.as_str()], 0.0);
    }
    let open =
        sqlx::query!(r#"SELECT severity, count(*) AS "n!" FROM incidents WHERE resolved_at IS NULL GROUP BY severity"#)
            .fetch_all(&state.probe_db)
            .await?;
    for row in open {
        gauges.set(&INCIDENTS_OPEN, &[row.severity.as_str()], row.n as f64);
    }
    let now = state.clock.now();
    let queue = sqlx::query!(
        r#"SELECT kind, count(*) AS "due!", EXTRACT(EPOCH FROM ($1 - min(run_at)))::float8 AS "lag!"
           FROM jobs WHERE state = 'queued' AND run_at <= $1 GROUP BY kind"#,
        now
    )
    .fetch_all(&state.probe_db)
    .await?;
    for row in queue {
        gauges.set(&QUEUE_DEPTH, &[row.kind.as_str()], row.due as f64);
        gauges.set(&QUEUE_LAG, &[row.kind.as_str()], row.lag.max(0.0));
    }
    Ok(())
}
