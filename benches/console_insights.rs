//! The console's insights at 100,000 incidents (a year of them, `support/history.rs`):
//!
//! - `query 12 weeks` / `query 52 weeks`: `insights_query::load` (its two statements in one
//!   read-only transaction) run in this process, p50/p99;
//! - `page 12 weeks` / `page 52 weeks`: `GET /console/insights` through a running warroom with a
//!   signed-in session, time to first byte (the answer's headers; the page is rendered whole
//!   before they are sent) and to the last byte;
//! - the plan of the times statement for 52 weeks (`EXPLAIN (ANALYZE, BUFFERS)`), printed.
//!
//! Run: `cargo bench --bench console_insights` (env: DATABASE_URL server, BENCH_INCIDENTS=100000,
//! BENCH_RUNS=30).

#[path = "support/history.rs"]
#[allow(dead_code)] // seed_long_timeline is for the incident page's benchmark
mod history;
#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::Utc;
use support::{env_or, Database, Latencies};
use warroom::console::insights::weeks_to;
use warroom::console::insights_query::{self, Query};
use warroom::console::session::{self, Viewer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let incidents: i64 = env_or("BENCH_INCIDENTS", 100_000);
    let runs: usize = env_or("BENCH_RUNS", 30);
    let database = Database::fresh().await?;
    let db = &database.pool;
    let now = Utc::now();
    let seeding = Instant::now();
    history::seed_incidents(db, incidents, now).await?;
    println!("seeded {incidents} incidents in {:.1} s", seeding.elapsed().as_secs_f64());

    for weeks in [12, 52] {
        let query =
            Query { start: weeks_to(now, weeks)[0], end: now, service: None, severity: None, viewer: "U0BOB".into() };
        let insights = insights_query::load(db, &query).await?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            insights_query::load(db, &query).await?;
            times.push(started.elapsed());
        }
        println!("query {weeks} weeks ({} incidents seen): {}", insights.total, Latencies::new(times).summary());
    }

    let start = weeks_to(now, 52)[0];
    let mut tx = db.begin().await?;
    sqlx::raw_sql("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'").execute(&mut *tx).await?;
    let plan: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS) {}", insights_query::TIMES)))
            .bind(start)
            .bind(now)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind("U0BOB")
            .fetch_all(&mut *tx)
            .await?;
    tx.rollback().await?;
    println!("plan of the times statement, 52 weeks:\n  {}", plan.join("\n  "));

    let (slack, slack_url) = support::slack().await?;
    let address = support::start_app(db, &slack, &slack_url, 0, |_| {}).await?;
    let viewer = Viewer { user_id: "U0BOB".into(), team_id: "T0".into(), name: "bob".into(), email: None };
    let cookie = format!("{}={}", session::COOKIE, session::create(db, &viewer, Utc::now()).await?);
    let client = warroom::tls::http_client();
    for weeks in [12, 52] {
        let url = format!("{address}/console/insights?weeks={weeks}");
        let (mut first, mut last) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        let mut size = 0;
        for _ in 0..=runs {
            let started = Instant::now();
            let response = client.get(&url).header("cookie", &cookie).send().await?;
            let headers = started.elapsed();
            anyhow::ensure!(response.status() == 200, "GET {url}: {}", response.status());
            size = response.bytes().await?.len();
            first.push(headers);
            last.push(started.elapsed());
        }
        // The first request warms the connection; it is not counted.
        first.remove(0);
        last.remove(0);
        println!("page {weeks} weeks ({} KiB): first byte {}", size / 1024, Latencies::new(first).summary());
        println!("page {weeks} weeks: last byte {}", Latencies::new(last).summary());
    }
    database.drop().await?;
    Ok(())
}
