//! "Seen before" at 10,000 resolved incidents: the one statement of `seen_before::similar`, run
//! in this process against a fresh database on the local Postgres, p50/p99 per case:
//!
//! - `similar titles`: with `pg_trgm` (the same service's 200 latest ranked by title similarity,
//!   then other services' nearest titles through the GiST index);
//! - `same service only`: the fallback without `pg_trgm`;
//! - each for a typical service (10,000 incidents over 40 services, ~190 each) and the largest
//!   (a quarter of all incidents, 2,500), and a service never seen (titles only).
//!
//! Titles are made of 10 subjects × 12 symptoms (so many are alike, the hard case for the title
//! search); 2% are private (never shown).
//!
//! Run: `cargo bench --bench seen_before` (env: DATABASE_URL server, BENCH_INCIDENTS=10000,
//! BENCH_RUNS=500).

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use support::{env_or, Database, Latencies};
use warroom::incident::store::{self, Incident};
use warroom::seen_before::{self, Matching};

const TITLES: [&str; 6] = [
    "Database connections exhausted",
    "Checkout errors spiking for EU users",
    "Login timeouts after deploy",
    "Payments slow queries",
    "Search certificate expired",
    "Kafka consumer lag growing",
];

async fn seed(db: &sqlx::PgPool, n: i64) -> anyhow::Result<()> {
    sqlx::query(
        r#"INSERT INTO incidents (id, title, service, severity, status, commander, declared_by, declared_at,
                                  resolved_at, root_cause, resolution, channel_id, private)
           SELECT gen_random_uuid(),
                  (ARRAY['Database','Checkout','Login','Payments','Search','Cache','Queue','DNS','Gateway','Storage'])[1 + i % 10]
                  || ' ' ||
                  (ARRAY['latency high','errors spiking','connections exhausted','down','timeouts','disk full',
                         'memory leak','5xx for EU users','slow queries','certificate expired','replication lag',
                         'deploy failed'])[1 + (i / 10) % 12] || ' (' || i || ')',
                  -- A quarter on svc-0, the rest over 39 services.
                  CASE WHEN i % 4 = 0 THEN 'svc-0' ELSE 'svc-' || (1 + i % 39) END,
                  'P2', 'resolved', 'U0ALICE', 'U0ALICE',
                  '2025-01-01'::timestamptz + make_interval(mins => (i * 30)::int),
                  '2025-01-01'::timestamptz + make_interval(mins => (i * 30 + 45)::int),
                  'Root cause ' || i, 'Resolution ' || i, 'C' || i, i % 50 = 0
           FROM generate_series(1, $1) AS i"#,
    )
    .bind(n)
    .execute(db)
    .await?;
    sqlx::query("ANALYZE incidents").execute(db).await?;
    Ok(())
}

/// An open incident of `service` titled `title`, to ask about.
async fn subject(db: &sqlx::PgPool, service: &str, title: &str) -> anyhow::Result<Incident> {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO incidents (id, title, service, severity, commander, declared_by, declared_at)
         VALUES ($1, $2, $3, 'P1', 'U0ALICE', 'U0ALICE', now())",
    )
    .bind(id)
    .bind(title)
    .bind(service)
    .execute(db)
    .await?;
    Ok(store::get(db, id).await?.expect("just written"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let incidents: i64 = env_or("BENCH_INCIDENTS", 10_000);
    let runs: usize = env_or("BENCH_RUNS", 500);
    let database = Database::fresh().await?;
    let db = &database.pool;
    seed(db, incidents).await?;
    let matching = Matching::detect(db).await?;
    println!("seen before: {incidents} resolved incidents, {runs} runs per case (pg_trgm: {matching:?})");
    for (case, service) in
        [("typical service (svc-7)", "svc-7"), ("largest service (svc-0)", "svc-0"), ("new service", "svc-new")]
    {
        let mut subjects = Vec::new();
        for title in TITLES {
            subjects.push(subject(db, service, title).await?);
        }
        let modes: &[(&str, Matching)] = match matching {
            Matching::SimilarTitles => {
                &[("similar titles", Matching::SimilarTitles), ("same service only", Matching::SameServiceOnly)]
            }
            Matching::SameServiceOnly => &[("same service only", Matching::SameServiceOnly)],
        };
        for (mode, how) in modes {
            // Warm the plan cache and the pages once.
            for s in &subjects {
                seen_before::similar(db, *how, s).await?;
            }
            let mut times = Vec::with_capacity(runs);
            let mut found = 0;
            for run in 0..runs {
                let s = &subjects[run % subjects.len()];
                let started = Instant::now();
                found += seen_before::similar(db, *how, s).await?.len();
                times.push(started.elapsed());
            }
            let shown = found as f64 / runs as f64;
            println!("  {case:<26} {mode:<18} {}  ({shown:.1} shown on average)", Latencies::new(times).summary());
        }
    }
    database.drop().await?;
    Ok(())
}
