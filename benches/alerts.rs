//! The alert webhooks' figures, on the local Postgres, with warroom in process (its 4 job
//! workers running) and the sandbox Slack over HTTP:
//!
//! 1. latency: Alertmanager notifications for distinct alert groups at a steady rate (default 20/s,
//!    200 groups), each timed from sending the webhook to its incident channel existing in the
//!    sandbox (polled every 0.5 ms) and to the declaration being posted there, p50/p99;
//! 2. throughput: 1,000 distinct firing groups sent as fast as 16 concurrent senders can
//!    (requests/s, and incidents declared: must be 1,000), then the workers' Slack work for them;
//! 3. one group resent 1,000 times the same way (requests/s; incidents declared: must be 1).
//!
//! P0 incidents skip the status page here (`statuspage = "off"`): its one request per second
//! budget would pace the workers, and it is measured by the statuspage bench.
//!
//! Run: `cargo bench --bench alerts` (env: DATABASE_URL server, BENCH_RATE, BENCH_GROUPS,
//! BENCH_BURST, BENCH_SENDERS).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::{Settings, StatuspageMode};
use warroom::incident::Severity;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

const TOKEN: &str = "bench-api-token";

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    format!(
        "p50 {}  p99 {}  max {}  (n={})",
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.99)),
        ms(percentile(&v, 1.0)),
        v.len()
    )
}

/// Alertmanager's webhook body (version 4) for `ServiceDown` of `job`, in group `key`.
fn notification(key: &str, job: &str) -> Vec<u8> {
    json!({
        "version": "4", "groupKey": key, "truncatedAlerts": 0, "status": "firing", "receiver": "warroom",
        "groupLabels": { "alertname": "ServiceDown", "job": job },
        "commonLabels": { "alertname": "ServiceDown", "job": job, "severity": "page" },
        "commonAnnotations": { "summary": format!("{job} is down") },
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": { "alertname": "ServiceDown", "job": job, "instance": format!("{job}:8000"), "severity": "page" },
            "annotations": { "summary": format!("{job} is down"), "runbook_url": "https://runbooks.example.com/service-down" },
            "startsAt": "2026-11-23T14:58:30.512Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
            "fingerprint": format!("fp-{job}"),
        }],
    })
    .to_string()
    .into_bytes()
}

async fn send(http: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<(u16, Value)> {
    let response =
        http.post(url).bearer_auth(TOKEN).header("content-type", "application/json").body(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn count(db: &PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(db).await?)
}

/// Waits until no job is due (the incidents' first status updates, 5 minutes out, are not);
/// returns how long that took.
async fn drain(db: &PgPool) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let due = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= now()";
    while count(db, due).await? > 0 {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(900), "the job queue did not drain in 15 minutes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(t0.elapsed())
}

/// Sends `bodies` from `senders` concurrent senders; returns (elapsed, non-200 answers).
async fn burst(
    http: &reqwest::Client,
    url: &str,
    bodies: Vec<Vec<u8>>,
    senders: usize,
) -> anyhow::Result<(Duration, usize)> {
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (http, url, queue) = (http.clone(), url.to_string(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            loop {
                let Some(body) = queue.lock().unwrap().pop() else { break };
                if send(&http, &url, body).await?.0 != 200 {
                    failed += 1;
                }
            }
            anyhow::Ok(failed)
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await??;
    }
    Ok((t0.elapsed(), failed))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = env_or("BENCH_RATE", 20);
    let groups: u64 = env_or("BENCH_GROUPS", 200);
    let burst_size: usize = env_or("BENCH_BURST", 1000);
    let senders: usize = env_or("BENCH_SENDERS", 16);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;

    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new("bench-signing-secret")));
    let slack_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", slack_listener.local_addr()?);
    let sandbox_server = axum::serve(slack_listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });

    let mut settings = Settings::for_slack(&format!("{slack_url}/api"), "bench-signing-secret");
    settings.api_token = Some(Secret::new(TOKEN));
    settings.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
    if let Some(p0) = settings.file.severity.get_mut(&Severity::P0) {
        p0.statuspage = StatuspageMode::Off;
    }
    let app = Application::build(settings, db.clone(), Arc::new(SystemClock), warroom::app::DEFAULT_WORKERS).await?;
    let warroom_url = format!("http://127.0.0.1:{}", app.port());
    slack.connect(&warroom_url, &slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let webhook = format!("{warroom_url}/webhooks/alertmanager");
    let http = warroom::tls::http_client_builder().pool_max_idle_per_host(64).build()?;
    // Warm up: connections, the bot user id, the first channel.
    send(&http, &webhook, notification("warm", "warmup")).await?;
    drain(&db).await?;

    println!("part 1: {groups} distinct alert groups at {rate}/s, each until its channel exists ...");
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    let mut tasks = Vec::new();
    for i in 0..groups {
        tick.tick().await;
        let (http, webhook, slack) = (http.clone(), webhook.clone(), slack.clone());
        tasks.push(tokio::spawn(async move {
            let job = format!("lat-{i}");
            let t0 = Instant::now();
            let (status, answer) =
                send(&http, &webhook, notification(&format!("{{}}:{{job=\"{job}\"}}"), &job)).await?;
            let acked = t0.elapsed();
            anyhow::ensure!(status == 200, "webhook answered {status}: {answer}");
            let number = answer["incident"].as_str().unwrap_or_default().trim_start_matches("INC-").to_string();
            let channel = format!("inc-{number}-{job}");
            let created = loop {
                if slack.channel(&channel).is_some() {
                    break t0.elapsed();
                }
                anyhow::ensure!(t0.elapsed() < Duration::from_secs(30), "no channel for {job}");
                tokio::time::sleep(Duration::from_micros(500)).await;
            };
            let posted = loop {
                if let Some(at) = slack.first_post_received(&channel) {
                    break at.duration_since(t0);
                }
                anyhow::ensure!(t0.elapsed() < Duration::from_secs(30), "no declaration for {job}");
                tokio::time::sleep(Duration::from_micros(500)).await;
            };
            anyhow::Ok((acked, created, posted))
        }));
    }
    let (mut acks, mut created, mut posted) = (Vec::new(), Vec::new(), Vec::new());
    for task in tasks {
        let (a, c, p) = task.await??;
        acks.push(a);
        created.push(c);
        posted.push(p);
    }
    drain(&db).await?;

    println!("part 2: {burst_size} distinct firing groups, {senders} senders ...");
    let before = count(&db, "SELECT count(*) FROM incidents").await?;
    let bodies: Vec<Vec<u8>> =
        (0..burst_size).map(|i| notification(&format!("{{}}:{{job=\"burst-{i}\"}}"), &format!("burst-{i}"))).collect();
    let (distinct_time, distinct_failed) = burst(&http, &webhook, bodies, senders).await?;
    let distinct_incidents = count(&db, "SELECT count(*) FROM incidents").await? - before;
    let slack_work = drain(&db).await?;
    let channels = slack.channels().iter().filter(|c| c.name.contains("-burst-")).count();

    println!("part 3: one group resent {burst_size} times, {senders} senders ...");
    let body = notification("{}:{job=\"resent\"}", "resent");
    let (resent_time, resent_failed) = burst(&http, &webhook, vec![body; burst_size], senders).await?;
    let resent_incidents = count(&db, "SELECT count(*) FROM incidents WHERE service = 'resent'").await?;
    let resent_events = count(
        &db,
        "SELECT count(*) FROM timeline_events e JOIN incidents i ON i.id = e.incident_id WHERE i.service = 'resent' AND e.kind = 'alert_received'",
    )
    .await?;
    drain(&db).await?;

    println!("\n== warroom alert webhook benchmark ==");
    println!("webhook answered ({groups} groups at {rate}/s):        {}", summary(acks));
    println!("webhook -> incident channel created:           {}", summary(created));
    println!("webhook -> declaration posted in the channel:  {}", summary(posted));
    println!(
        "{burst_size} distinct firing groups: {:.0} requests/s ({:.2} s, {distinct_failed} non-200), incidents declared: {distinct_incidents}; their Slack work done {:.1} s later ({channels} channels)",
        burst_size as f64 / distinct_time.as_secs_f64(),
        distinct_time.as_secs_f64(),
        slack_work.as_secs_f64()
    );
    println!(
        "one group resent {burst_size} times: {:.0} requests/s ({:.2} s, {resent_failed} non-200), incidents declared: {resent_incidents}, alert_received events: {resent_events}",
        burst_size as f64 / resent_time.as_secs_f64(),
        resent_time.as_secs_f64()
    );

    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(())
}
