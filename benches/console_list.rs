//! The console's incidents list (`GET /console`): time to first byte (the request sent until
//! the answer's status and headers are in; the page is then read whole, and checked), p50 and
//! p99, over a running warroom with a long history (`support/history.rs`: 100,000 incidents over
//! a year, 2% private) and, for comparison, with 100 incidents. Each case is one kind of page: the
//! first, a deep one (a cursor near the oldest incident), one service and severity, a title
//! search that matches many and one that matches one, the open incidents, and a week half a year
//! back. The viewer is bob, commander of a third of them (so some private ones are his).
//!
//! Run: `cargo bench --bench console_list` (env: DATABASE_URL server, BENCH_SIZES="100,100000",
//! BENCH_REQUESTS (per case, default 300)).

#[path = "support/history.rs"]
#[allow(dead_code)] // seed_long_timeline is for the incident page's bench
mod history;
#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::{Duration, Utc};
use support::{env_or, Database, Latencies};
use warroom::console::session::{self, Viewer};

/// The cases: a name and the query string for `n` incidents.
fn cases(n: i64) -> Vec<(&'static str, String)> {
    let deep = (n / 1000).max(20);
    let rare = n / 2 + 1;
    vec![
        ("first page", String::new()),
        ("deep page (before near the oldest)", format!("?before={deep}")),
        ("second page", format!("?before={}", n - 49)),
        ("severity + service", "?severity=P1&service=svc-5".into()),
        ("title search, many match", "?q=disk+full".into()),
        ("title search, one matches", format!("?q=%28{rare}%29")),
        ("open incidents", "?status=open".into()),
        ("a week, half a year back", {
            let from = (Utc::now() - Duration::days(182)).date_naive();
            format!("?from={from}&to={}", from + Duration::days(6))
        }),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<i64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,100000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let requests: usize = env_or("BENCH_REQUESTS", 300);
    let client = warroom::tls::http_client_builder().redirect(reqwest::redirect::Policy::none()).build()?;
    println!("GET /console, time to first byte, {requests} requests per case (after {} to warm up)", requests / 10);
    for n in sizes {
        let db = Database::fresh().await?;
        let seeding = Instant::now();
        history::seed_incidents(&db.pool, n, Utc::now()).await?;
        println!("\n{n} incidents (seeded in {:.1} s)", seeding.elapsed().as_secs_f64());
        let (slack, slack_url) = support::slack().await?;
        let address = support::start_app(&db.pool, &slack, &slack_url, 0, |_| {}).await?;
        let viewer = Viewer {
            user_id: "U0BOB".into(),
            team_id: warroom::sandbox::TEAM_ID.into(),
            name: "bob".into(),
            email: None,
        };
        let cookie = format!("{}={}", session::COOKIE, session::create(&db.pool, &viewer, Utc::now()).await?);
        for (name, query) in cases(n) {
            let url = format!("{address}/console{query}");
            let mut times = Vec::with_capacity(requests);
            let mut listed = 0;
            for i in 0..requests + requests / 10 {
                let t0 = Instant::now();
                let response = client.get(&url).header("cookie", &cookie).send().await?;
                let took = t0.elapsed();
                anyhow::ensure!(response.status().is_success(), "{url}: {}", response.status());
                let html = response.text().await?;
                listed = html.matches("class=\"number\"").count();
                if i >= requests / 10 {
                    times.push(took);
                }
            }
            println!("  {name:<36} {:>2} rows  {}", listed, Latencies::new(times).summary());
        }
        db.drop().await?;
    }
    println!("\n(the machine is shared: other builds and tests ran at the same time)");
    Ok(())
}
