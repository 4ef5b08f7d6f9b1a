//! The scheduler's figures: 10,000 open P0 incidents on a 5-minute status update cadence,
//! served by a real `warroom serve` process against the sandbox Slack (no rate limits), on the
//! local Postgres.
//!
//! 1. steady state: every incident's update falls due once within the 5 minutes (due times
//!    spread evenly); lag = when the post reached Slack minus when it was due, p50/p99;
//! 2. a thundering herd: 10,000 updates all due at once (as after downtime); how many jobs per
//!    second the queue sustains, and the lag at the tail;
//! 3. warroom's peak memory (VmHWM) over the run.
//!
//! Run: `cargo bench --bench scheduler` (env: DATABASE_URL server, BENCH_INCIDENTS, BENCH_WINDOW_SECS).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::clock::SystemClock;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Kilobytes from a `/proc/<pid>/status` line such as `VmHWM:   123456 kB`.
fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Seeds `n` open P0 incidents, each with a channel in the sandbox, an update a minute before
/// its first status update, and that status update due at `due(i)`.
async fn seed(db: &PgPool, slack: &Workspace, n: usize, due: impl Fn(usize) -> DateTime<Utc>) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut ids = Vec::new();
        let mut channels = Vec::new();
        let mut dues = Vec::new();
        for &i in chunk {
            ids.push(uuid::Uuid::new_v4());
            channels.push(slack.create_bot_channel(&format!("inc-bench-{i}")));
            dues.push(warroom::clock::whole_seconds(due(i)));
        }
        sqlx::query(
            r#"WITH seeded AS (
                   INSERT INTO incidents (id, title, service, severity, commander, declared_by, channel_id, channel_name,
                                          declared_at, next_update_at, last_update_at)
                   SELECT id, 'Bench incident', 'bench-svc', 'P0', 'U0ALICE', 'U0ALICE', channel, channel,
                          due - interval '5 minutes', due, due - interval '1 minute'
                   FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(id, channel, due)
                   RETURNING id, next_update_at)
               INSERT INTO jobs (incident_id, kind, slot, payload, run_at, created_at)
               SELECT id, 'incident.status_update', extract(epoch FROM next_update_at)::bigint::text,
                      jsonb_build_object('due', next_update_at), next_update_at, now()
               FROM seeded"#,
        )
        .bind(&ids)
        .bind(&channels)
        .bind(&dues)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Lags (ms) of the status updates posted for slots due in [from, to).
async fn lags(db: &PgPool, slack: &Workspace, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<f64>> {
    let receipts: HashMap<(String, String), DateTime<Utc>> =
        slack.receipts().into_iter().map(|(c, ts, at)| ((c, ts), at)).collect();
    let posted: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        r#"SELECT payload->>'channel', payload->>'ts', (payload->>'due')::timestamptz FROM timeline_events
           WHERE kind = 'status_update_posted' AND (payload->>'due')::timestamptz >= $1 AND (payload->>'due')::timestamptz < $2"#,
    )
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    let mut lags: Vec<f64> = posted
        .into_iter()
        .filter_map(|(c, ts, due)| {
            receipts.get(&(c, ts)).map(|at| (*at - due).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    Ok(lags)
}

async fn count(db: &PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(db).await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = env_or("BENCH_INCIDENTS", 10_000);
    let window: u64 = env_or("BENCH_WINDOW_SECS", 300);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(4).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;

    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new("bench")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let sandbox_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });

    // Phase 1: the updates fall due evenly over the window, starting 10 s from now.
    let start = Utc::now() + chrono::Duration::seconds(10);
    let step = window as f64 / n as f64;
    seed(&db, &slack, n, |i| start + chrono::Duration::milliseconds((i as f64 * step * 1000.0) as i64)).await?;
    println!("seeded {n} open P0 incidents; their updates fall due over {window} s from {start}");

    let base = server.split('?').next().unwrap_or(&server);
    let database_url = format!("{}/{db_name}", base.rsplit_once('/').map_or(base, |(b, _)| b));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", &database_url)
        .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
        .env("WARROOM_CONFIG", "/dev/null")
        .env("SLACK_BOT_TOKEN", sandbox::BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", "bench")
        .env("SLACK_API_URL", format!("{slack_url}/api"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();

    let end = start + chrono::Duration::seconds(window as i64);
    let posted_sql = "SELECT count(*) FROM timeline_events WHERE kind = 'status_update_posted'";
    let started = Instant::now();
    loop {
        let posted = count(&db, posted_sql).await?;
        if posted >= n as i64 && Utc::now() > end {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(window + 120),
            "only {posted} of {n} updates were posted"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let steady = lags(&db, &slack, start, end + chrono::Duration::seconds(1)).await?;
    let steady_rss = proc_kb(pid, "VmHWM:");

    // Phase 2: a thundering herd. Every incident's next update is moved to the same second.
    let herd_due = warroom::clock::whole_seconds(Utc::now() + chrono::Duration::seconds(3));
    sqlx::query(
        r#"WITH moved AS (
               UPDATE incidents SET next_update_at = $1 RETURNING id)
           UPDATE jobs SET run_at = $1, payload = jsonb_build_object('due', $1::timestamptz), slot = 'herd'
           WHERE kind = 'incident.status_update' AND state = 'queued' AND incident_id IN (SELECT id FROM moved)"#,
    )
    .bind(herd_due)
    .execute(&db)
    .await?;
    sqlx::query("SELECT pg_notify('warroom_jobs', '')").execute(&db).await?;
    let herd_started = Instant::now();
    loop {
        if count(&db, "SELECT count(*) FROM jobs WHERE slot = 'herd' AND state <> 'done'").await? == 0 {
            break;
        }
        anyhow::ensure!(herd_started.elapsed() < Duration::from_secs(600), "the herd did not drain in 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Throughput from warroom's own records: every job it finished between the herd falling due
    // and the herd's last update (the updates and the declaration refreshes they queue).
    let herd_n = count(&db, "SELECT count(*) FROM jobs WHERE slot = 'herd'").await?;
    let last: DateTime<Utc> =
        sqlx::query_scalar("SELECT max(finished_at) FROM jobs WHERE slot = 'herd'").fetch_one(&db).await?;
    let herd_jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'done' AND finished_at BETWEEN $1 AND $2")
            .bind(herd_due)
            .bind(last)
            .fetch_one(&db)
            .await?;
    let herd_secs = (last - herd_due).num_milliseconds() as f64 / 1000.0;
    let herd = lags(&db, &slack, herd_due, herd_due + chrono::Duration::seconds(1)).await?;
    let peak_rss = proc_kb(pid, "VmHWM:");

    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();

    println!("\n== warroom scheduler benchmark ({n} open P0 incidents, 5-minute cadence) ==");
    println!(
        "steady state ({} updates due over {window} s): lag p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        steady.len(),
        percentile(&steady, 0.5),
        percentile(&steady, 0.99),
        percentile(&steady, 1.0)
    );
    println!(
        "thundering herd ({herd_n} updates due at once): {herd_jobs} jobs done in {herd_secs:.1} s = {:.0} jobs/s; lag p50 {:.0} ms  p99 {:.0} ms",
        herd_jobs as f64 / herd_secs,
        percentile(&herd, 0.5),
        percentile(&herd, 0.99)
    );
    println!(
        "warroom peak memory (VmHWM): {:.1} MiB after the steady state, {:.1} MiB at the end",
        steady_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );

    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(())
}
