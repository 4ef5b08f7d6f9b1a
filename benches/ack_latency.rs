//! The foundation's figures, measured on this machine against the local Postgres:
//!
//! 1. slash-command acknowledgement latency under a steady load of signed `/incident declare`
//!    requests (default 200/s for 30 s), p50 and p99, beside the latency of a single-row INSERT
//!    commit measured in the same run, as a ratio;
//! 2. declare-to-message-posted time against the sandbox (its pacing lifted), p50 and p99.
//!
//! Run: `cargo bench --bench ack_latency` (env: DATABASE_URL server, BENCH_RATE, BENCH_SECONDS).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::Settings;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

const SECRET: &str = "bench-signing-secret";
const FORM: &str = "application/x-www-form-urlencoded";

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn command(trigger: &str, service: &str) -> Vec<u8> {
    serde_urlencoded::to_string([
        ("team_id", "T0SANDBOX"),
        ("channel_id", "C0INCIDENTS"),
        ("user_id", "U0ALICE"),
        ("command", "/incident"),
        ("text", &format!("declare P0 {service} Inference API returns 100% errors")),
        ("response_url", ""),
        ("trigger_id", trigger),
    ])
    .unwrap()
    .into_bytes()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = env_or("BENCH_RATE", 200);
    let seconds: u64 = env_or("BENCH_SECONDS", 30);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;

    let clock = Arc::new(SystemClock);
    let slack = Arc::new(Workspace::new(clock.clone(), Secret::new(SECRET)));
    let slack_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", slack_listener.local_addr()?);
    let sandbox_server = axum::serve(slack_listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });
    let api_url = format!("{slack_url}/api");
    let mut settings = Settings::from_lookup(|key| {
        match key {
            "WARROOM_CONFIG" => Some("/dev/null"),
            "WARROOM_LISTEN" => Some("127.0.0.1:0"),
            "SLACK_BOT_TOKEN" => Some(sandbox::BOT_TOKEN),
            "SLACK_SIGNING_SECRET" => Some(SECRET),
            "SLACK_API_URL" => Some(api_url.as_str()),
            _ => None,
        }
        .map(str::to_string)
    })?;
    settings.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
    let app = Application::build(settings, db.clone(), clock, 2).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    slack.connect(&address, &slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    // Warm up connections and caches.
    for i in 0..50 {
        slack.send_signed("/slack/commands", FORM, command(&format!("warm-{i}"), "warmup")).await?;
    }

    // 1. Ack latency under load, workers running as in production.
    println!("ack latency: {rate} signed declares/s for {seconds} s ...");
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    let mut tasks = Vec::with_capacity(total as usize);
    let mut sent = HashMap::new();
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let slack = slack.clone();
        let service = format!("svc-{i}");
        sent.insert(service.clone(), Instant::now());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let reply = slack.send_signed("/slack/commands", FORM, command(&format!("bench-{i}"), &service)).await;
            (t0.elapsed(), reply.map(|r| r.status).unwrap_or(0))
        }));
    }
    let mut acks = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for task in tasks {
        let (latency, status) = task.await?;
        if status == 200 {
            acks.push(latency);
        } else {
            failed += 1;
        }
    }
    let offered = started.elapsed();
    acks.sort();

    // The floor: one single-row INSERT commit, measured in the same run on the same server.
    sqlx::query("CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
        .execute(&db)
        .await?;
    let mut inserts = Vec::new();
    for i in 0..2000 {
        let t0 = Instant::now();
        sqlx::query("INSERT INTO bench_insert (v) VALUES ($1)").bind(i.to_string()).execute(&db).await?;
        inserts.push(t0.elapsed());
    }
    inserts.sort();

    // Let the workers finish the load's Slack work before measuring end to end.
    let drained = Instant::now();
    while warroom::jobs::queue::unfinished(&db).await? > 0 && drained.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let backlog = drained.elapsed();

    // 2. Declare-to-message-posted, at a pace the workers keep up with.
    let mut posted = Vec::new();
    for i in 0..200 {
        let service = format!("e2e-{i}");
        let t0 = Instant::now();
        slack.send_signed("/slack/commands", FORM, command(&format!("e2e-{i}"), &service)).await?;
        loop {
            let suffix = format!("-{service}");
            let found = slack
                .channels()
                .iter()
                .rev()
                .find(|c| c.name.ends_with(&suffix))
                .and_then(|c| c.messages.first().and_then(|m| m.received));
            if let Some(at) = found {
                posted.push(at.duration_since(t0));
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("declaration for {service} was never posted");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    posted.sort();

    let declared: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents").fetch_one(&db).await?;
    println!("\n== warroom foundation benchmark ==");
    println!(
        "load: {} declares in {:.1} s ({} non-200), {} incidents recorded",
        total,
        offered.as_secs_f64(),
        failed,
        declared
    );
    println!(
        "slash-command ack latency:  p50 {}  p99 {}  max {}",
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        ms(percentile(&acks, 1.0))
    );
    println!(
        "single-row INSERT commit:   p50 {}  p99 {}",
        ms(percentile(&inserts, 0.5)),
        ms(percentile(&inserts, 0.99))
    );
    println!(
        "ack / INSERT ratio:         p50 {:.1}x  p99 {:.1}x",
        percentile(&acks, 0.5).as_secs_f64() / percentile(&inserts, 0.5).as_secs_f64(),
        percentile(&acks, 0.99).as_secs_f64() / percentile(&inserts, 0.99).as_secs_f64()
    );
    println!("Slack work for the load drained {:.1} s after the load ended", backlog.as_secs_f64());
    println!(
        "declare -> declaration posted (sandbox, 200 sequential): p50 {}  p99 {}",
        ms(percentile(&posted, 0.5)),
        ms(percentile(&posted, 0.99))
    );

    db.close().await;
    sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)")).execute(&mut admin.connect().await?).await?;
    Ok(())
}
