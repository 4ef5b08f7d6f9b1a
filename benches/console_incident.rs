//! An incident's console page over HTTP, signed in: time to first byte (the response's headers)
//! and total time (the whole body), p50 and p99, for an open incident of 10,000 timeline events
//! and for one of 5, among 100,000 incidents (`support/history.rs`); and the Markdown download
//! of the long one (the whole report, streamed).
//!
//! Run: `cargo bench --bench console_incident` (env: DATABASE_URL server, BENCH_INCIDENTS
//! (default 100000), BENCH_EVENTS (default 10000), BENCH_REQUESTS (default 200)).

#[path = "support/history.rs"]
mod history;
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{env_or, Database, Latencies};

/// Incident 7 is open in the seeded history (every 50th from 7); 107 too.
const LONG: i64 = 7;
const SHORT: i64 = 107;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let incidents: i64 = env_or("BENCH_INCIDENTS", 100_000);
    let events: i64 = env_or("BENCH_EVENTS", 10_000);
    let requests: usize = env_or("BENCH_REQUESTS", 200);
    let db = Database::fresh().await?;
    let now = chrono::Utc::now();
    let seeding = Instant::now();
    history::seed_incidents(&db.pool, incidents, now).await?;
    history::seed_long_timeline(&db.pool, LONG, events).await?;
    // The seeded open incident has three events; two more make the short one's five.
    history::seed_long_timeline(&db.pool, SHORT, 2).await?;
    println!("seeded {incidents} incidents, INC-{LONG} with {events} more events, in {:.1?}", seeding.elapsed());

    let (slack, slack_url) = support::slack().await?;
    let address = support::start_app(&db.pool, &slack, &slack_url, 0, |_| {}).await?;
    let viewer = warroom::console::session::Viewer {
        user_id: "U0BOB".into(),
        team_id: warroom::sandbox::TEAM_ID.into(),
        name: "bob".into(),
        email: None,
    };
    let token = warroom::console::session::create(&db.pool, &viewer, now).await?;
    let cookie = format!("{}={token}", warroom::console::session::COOKIE);
    let client = warroom::tls::http_client();

    for (what, path) in [
        (format!("INC-{LONG} page ({} events, newest page)", events + 3), format!("/console/incidents/{LONG}")),
        (format!("INC-{SHORT} page (5 events)"), format!("/console/incidents/{SHORT}")),
        (format!("INC-{LONG} report.md (whole timeline)"), format!("/console/incidents/{LONG}/report.md")),
    ] {
        let url = format!("{address}{path}");
        let mut first_byte = Vec::with_capacity(requests);
        let mut total = Vec::with_capacity(requests);
        let mut size = 0;
        // A few to warm the pool and the caches, not counted.
        for n in 0..requests + 5 {
            let t0 = Instant::now();
            let response = client.get(&url).header("cookie", &cookie).send().await?;
            let headers: Duration = t0.elapsed();
            anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
            size = response.bytes().await?.len();
            if n >= 5 {
                first_byte.push(headers);
                total.push(t0.elapsed());
            }
        }
        println!("{what}: {} KiB", size / 1024);
        println!("  first byte  {}", Latencies::new(first_byte).summary());
        println!("  total       {}", Latencies::new(total).summary());
    }
    db.drop().await?;
    Ok(())
}
