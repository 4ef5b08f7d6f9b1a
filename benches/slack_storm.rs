//! Slack misbehaving, measured: two replicas on one database against the sandbox Slack, on a
//! manual clock moved a second at a time (the figures are in that clock's seconds).
//!
//! 1. a 60-second storm of 429s (`Retry-After: 3`) on every Web API method while BENCH_INCIDENTS
//!    P0s are declared, each updated three times and escalated by its tier timer: messages
//!    delivered, duplicates, 429s answered, and how long after the storm the last post lands;
//! 2. lost answers: BENCH_LOST posts delivered then answered 500, and as many delivered then cut
//!    off: duplicates, and how often the history look-up ran (per post, and per lost answer).
//!
//! Run: `cargo bench --bench slack_storm` (env: DATABASE_URL server, BENCH_INCIDENTS, BENCH_LOST).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::app::{AppState, Application};
use warroom::clock::ManualClock;
use warroom::config::{EscalationTier, Settings};
use warroom::duration::HumanDuration;
use warroom::incident::Severity;
use warroom::jobs::runner;
use warroom::sandbox::{self, Fault, Workspace, BOT_USER};
use warroom::secret::Secret;

const SECRET: &str = "bench-signing-secret";

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Bench {
    db: PgPool,
    clock: Arc<ManualClock>,
    slack: Arc<Workspace>,
    replicas: Vec<AppState>,
    _apps: Vec<tokio::task::JoinHandle<()>>,
}

impl Bench {
    async fn drain(&self) -> anyhow::Result<()> {
        for _ in 0..1000 {
            let ran = futures_util::future::join_all(self.replicas.iter().map(runner::run_due)).await;
            if ran.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().sum::<usize>() == 0 {
                return Ok(());
            }
        }
        anyhow::bail!("the queue did not settle")
    }

    /// Every post warroom made: (job id, channel, received at).
    fn posts(&self) -> Vec<(String, String, DateTime<Utc>)> {
        let channels = self.slack.channels();
        let bot =
            channels.iter().flat_map(|c| c.messages.iter().map(move |m| (c, m))).filter(|(_, m)| m.user == BOT_USER);
        bot.map(|(c, m)| {
            (m.metadata["event_payload"]["job"].as_str().unwrap_or("?").to_string(), c.id.clone(), m.received_at)
        })
        .collect()
    }
}

fn duplicates(posts: &[(String, String, DateTime<Utc>)]) -> usize {
    let mut per_job: HashMap<&str, usize> = HashMap::new();
    for (job, _, _) in posts {
        *per_job.entry(job).or_default() += 1;
    }
    per_job.values().map(|n| n - 1).sum()
}

async fn setup(admin: &PgConnectOptions, db_name: &str, start: DateTime<Utc>) -> anyhow::Result<Bench> {
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(admin.clone().database(db_name)).await?;
    warroom::db::migrate(&db).await?;
    let clock = Arc::new(ManualClock::new(start));
    let slack = Arc::new(Workspace::new(clock.clone(), Secret::new(SECRET)));
    let slack_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", slack_listener.local_addr()?);
    let served = slack.clone();
    tokio::spawn(async move { axum::serve(slack_listener, sandbox::http::api_router(served)).await });

    let mut settings = Settings::for_slack(&format!("{slack_url}/api"), SECRET);
    settings.listen = "127.0.0.1:0".parse()?;
    settings.slack_timeout = std::time::Duration::from_millis(500);
    settings.file.channel_post_interval = HumanDuration(std::time::Duration::ZERO);
    settings.file.responders.users = vec!["U0BOB".into()];
    let tier = EscalationTier {
        after: HumanDuration(std::time::Duration::from_secs(40)),
        notify: vec!["U0BOB".into(), "@sre-leads".into()],
        pagerduty: false,
    };
    settings.file.escalation.insert(Severity::P0, vec![tier]);
    if let Some(p0) = settings.file.severity.get_mut(&Severity::P0) {
        p0.ack_within = None;
    }
    let (mut replicas, mut apps) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let app = Application::build(settings.clone(), db.clone(), clock.clone(), 0).await?;
        replicas.push(app.state().clone());
        if replicas.len() == 1 {
            slack.connect(&format!("http://127.0.0.1:{}", app.port()), &slack_url);
        }
        apps.push(tokio::spawn(async move {
            let _ = app.run_until_stopped(std::future::pending()).await;
        }));
    }
    Ok(Bench { db, clock, slack, replicas, _apps: apps })
}

async fn storm(bench: &Bench, incidents: usize, start: DateTime<Utc>) -> anyhow::Result<()> {
    let end = start + Duration::seconds(60);
    bench.slack.inject_window("*", Fault::RateLimited { retry_after_secs: 3 }, start, end);
    for i in 0..incidents {
        bench.slack.slash("U0ALICE", "incidents", &format!("declare P0 api Storm {i}")).await?;
    }
    for second in 0..=600 {
        bench.clock.set(start + Duration::seconds(second));
        if [10, 20, 30].contains(&second) {
            for n in 1..=incidents {
                bench.slack.slash("U0ALICE", "incidents", &format!("update INC-{n} eta=\"{second}s\"")).await?;
            }
        }
        bench.drain().await?;
    }
    let posts = bench.posts();
    // The posts asked for before the storm ended (not the status update cadence after it).
    let during: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE created_at < $1").bind(end).fetch_all(&bench.db).await?;
    let during: Vec<String> = during.iter().map(i64::to_string).collect();
    let last = posts.iter().filter(|(job, _, _)| during.contains(job)).map(|(_, _, at)| *at).max().unwrap_or(end);
    let log = bench.slack.call_log();
    let throttled = log.iter().filter(|c| c.status == 429).count();
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed' AND kind NOT LIKE 'statuspage.%'")
            .fetch_one(&bench.db)
            .await?;
    println!("60 s storm of 429 (Retry-After 3) on every method, {incidents} P0s × (declaration, announcement, 3 updates, escalation + DM), 2 replicas:");
    println!("  messages delivered      {}", posts.len());
    println!("  duplicates              {}", duplicates(&posts));
    // (The bench has no status page: its pushes fail, and are not Slack's to count.)
    println!("  Slack jobs failed       {failed}");
    println!("  429s answered           {throttled} (Web API calls in all: {})", log.len());
    println!("  last post landed        {} s after the storm ended", (last - end).num_seconds());
    Ok(())
}

async fn lost_answers(bench: &Bench, lost: u32, start: DateTime<Utc>) -> anyhow::Result<()> {
    bench.clock.set(start);
    let posts_before = bench.posts().len();
    let (history_before, post_calls_before) =
        (bench.slack.call_count("conversations.history"), bench.slack.call_count("chat.postMessage"));
    bench.slack.inject("chat.postMessage", Fault::DeliveredThenStatus(500), lost);
    bench.slack.inject("chat.postMessage", Fault::DeliveredThenReset, lost);
    let channel = bench.slack.channels().into_iter().find(|c| c.name == "inc-1-api").map(|c| c.id);
    let channel = channel.ok_or_else(|| anyhow::anyhow!("no incident channel"))?;
    for i in 0..(4 * lost) {
        bench.slack.slash("U0ALICE", &channel, &format!("note lost answer {i}")).await?;
        bench.slack.slash("U0ALICE", &channel, &format!("update eta=\"lost {i}\"")).await?;
    }
    for second in 0..=300 {
        bench.clock.set(start + Duration::seconds(second));
        bench.drain().await?;
    }
    let posts = bench.posts();
    let new_posts = posts.len() - posts_before;
    let lookups = bench.slack.call_count("conversations.history") - history_before;
    let post_calls = bench.slack.call_count("chat.postMessage") - post_calls_before;
    let (ledger_lookups, needing) = warroom::jobs::post_once::lookups(&bench.db).await?;
    println!(
        "{} lost answers ({lost} delivered-then-500, {lost} delivered-then-reset) among {new_posts} posts:",
        2 * lost
    );
    println!("  duplicates              {}", duplicates(&posts));
    println!("  history look-ups        {lookups} ({:.1}% of {post_calls} chat.postMessage calls; {ledger_lookups} by the ledger, for {needing} posts)",
             100.0 * lookups as f64 / post_calls.max(1) as f64);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_storm_{}", uuid::Uuid::new_v4().simple());
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).single().unwrap_or_else(Utc::now);
    let bench = setup(&admin, &db_name, start).await?;
    let result = async {
        storm(&bench, env_or("BENCH_INCIDENTS", 5), start).await?;
        lost_answers(&bench, env_or("BENCH_LOST", 10), start + Duration::minutes(11)).await
    }
    .await;
    bench.db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    result
}
