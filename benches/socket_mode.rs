//! Socket Mode figures, measured on this machine against the local Postgres and the sandbox
//! workspace speaking Socket Mode over real WebSockets:
//!
//! 1. envelope -> acknowledgement latency of `/incident declare` under a steady load (default
//!    200/s for 20 s), p50 and p99 (Slack's limit is 3 s);
//! 2. recovery from a dropped network: every connection dropped without a close frame, a command
//!    sent at once; the time until it is acknowledged (reconnection included) and until both
//!    connections are back, over 20 drops;
//! 3. refreshes (`disconnect`) and drops in the middle of a load of 50 declares/s: every declare
//!    acknowledged, and exactly one incident for each (nothing lost, nothing doubled).
//!
//! Run: `cargo bench --bench socket_mode` (env: DATABASE_URL server, BENCH_RATE, BENCH_SECONDS).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::Settings;
use warroom::sandbox::socket::APP_TOKEN;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1].as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})", p(0.5), p(0.99), p(1.0), v.len())
}

/// Sends `count` declares at `rate`/s; returns their acknowledgement latencies and failures.
async fn load(slack: &Arc<Workspace>, tag: &str, rate: u64, count: u64) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    let mut tasks = Vec::new();
    for i in 0..count {
        tick.tick().await;
        let slack = slack.clone();
        let text = format!("declare P0 {tag}-{i} Inference API returns 100% errors");
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let reply = slack.slash("U0ALICE", "incidents", &text).await;
            (t0.elapsed(), reply.map(|r| r.text().contains("Declared")).unwrap_or(false))
        }));
    }
    let (mut acks, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (latency, ok) = task.await?;
        if ok {
            acks.push(latency);
        } else {
            failed += 1;
        }
    }
    Ok((acks, failed))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = env_or("BENCH_RATE", 200);
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;

    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new("unused in Socket Mode")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let sandbox_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });
    slack.enable_socket_mode(APP_TOKEN);

    // Acknowledgements only (no job workers), as in the HTTP benchmark's first phase.
    let mut settings = Settings::for_slack(&format!("{slack_url}/api"), "unused");
    settings.slack_app_token = Some(Secret::new(APP_TOKEN));
    let app = Application::build(settings, db.clone(), Arc::new(SystemClock), 0).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    slack.connect(&address, &slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    slack.await_socket_connections(2).await?;
    load(&slack, "warm", 100, 100).await?;

    println!("phase 1: {rate} declares/s for {seconds} s over Socket Mode ...");
    let (acks, failed) = load(&slack, "steady", rate, rate * seconds).await?;

    println!("phase 2: 20 dropped networks, a command sent at each ...");
    let (mut recovered, mut reconnected) = (Vec::new(), Vec::new());
    for i in 0..20 {
        slack.drop_sockets();
        let t0 = Instant::now();
        let reply = slack.slash("U0ALICE", "incidents", &format!("declare P0 drop-{i} Down")).await?;
        anyhow::ensure!(reply.text().contains("Declared"), "drop {i}: {}", reply.body);
        recovered.push(t0.elapsed());
        slack.await_socket_connections(2).await?;
        reconnected.push(t0.elapsed());
    }

    println!("phase 3: 50 declares/s for 20 s with a refresh or a drop every 2 s ...");
    let churn = {
        let slack = slack.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if i % 2 == 0 {
                    slack.refresh_sockets();
                } else {
                    slack.drop_sockets();
                }
            }
        })
    };
    let sent_before = slack.envelopes_sent();
    let (churn_acks, churn_failed) = load(&slack, "churn", 50, 1000).await?;
    churn.await?;
    let repeats = slack.envelopes_sent() - sent_before - 1000;
    let incidents: i64 =
        sqlx::query_scalar("SELECT count(*) FROM incidents WHERE service LIKE 'churn-%'").fetch_one(&db).await?;
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT service) FROM incidents WHERE service LIKE 'churn-%'")
            .fetch_one(&db)
            .await?;

    println!("\n== warroom Socket Mode benchmark ==");
    println!("envelope -> ack ({rate} declares/s for {seconds} s): {}  ({failed} failed)", summary(acks));
    println!("after a dropped network, command acknowledged in:    {}", summary(recovered));
    println!("after a dropped network, both connections back in:   {}", summary(reconnected));
    println!(
        "under refreshes and drops (50/s, 1000 declares):    {}  ({churn_failed} failed, {repeats} envelopes sent again)",
        summary(churn_acks)
    );
    println!("  incidents: {incidents} for 1000 declares ({distinct} distinct services)");

    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(())
}
