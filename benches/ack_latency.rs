//! The foundation's figures, measured on this machine against the local Postgres:
//!
//! 1. slash-command acknowledgement latency under a steady load of signed `/incident declare`
//!    requests (default 200/s for 30 s), p50 and p99 — once with the ack path alone, once with the
//!    job workers running too — beside the latency of a single-row INSERT commit sampled during
//!    the same load, as a ratio;
//! 2. how fast the workers get the load's Slack work done (jobs/s);
//! 3. declare-to-message-posted time against the sandbox (its pacing lifted), p50 and p99;
//! 4. the cost of the permission checks: the ack latency of `/incident run INC-n http.health`
//!    by carol, who is in no incident channel, so that every request looks up the incident and
//!    the channel's members before it is refused — the longest path a check takes.
//!
//! Run: `cargo bench --bench ack_latency` (env: DATABASE_URL server, BENCH_RATE, BENCH_SECONDS).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
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

struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut v: Vec<Duration>) -> Self {
        v.sort();
        Self(v)
    }

    fn p(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0[((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1]
    }

    fn summary(&self) -> String {
        format!("p50 {}  p99 {}  max {}  (n={})", ms(self.p(0.5)), ms(self.p(0.99)), ms(self.p(1.0)), self.0.len())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn command(trigger: &str, service: &str) -> Vec<u8> {
    slash("U0ALICE", trigger, &format!("declare P0 {service} Inference API returns 100% errors"))
}

fn slash(user: &str, trigger: &str, text: &str) -> Vec<u8> {
    serde_urlencoded::to_string([
        ("team_id", "T0SANDBOX"),
        ("channel_id", "C0INCIDENTS"),
        ("user_id", user),
        ("command", "/incident"),
        ("text", text),
        ("response_url", ""),
        ("trigger_id", trigger),
    ])
    .unwrap()
    .into_bytes()
}

/// A warroom on a random port, its Slack the shared sandbox.
async fn start_app(db: &PgPool, slack_url: &str, workers: usize) -> anyhow::Result<String> {
    let api_url = format!("{slack_url}/api");
    let mut settings = Settings::for_slack(&api_url, SECRET);
    settings.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
    // The Slack side is what this measures; 6,000 status page pushes at Statuspage's 1 request a
    // second would keep the drains waiting for well over an hour.
    // The incidents' own timers are off too: 6,000 P0s' 5-minute updates and acknowledgement
    // checks would fall due together during a later phase and measure that backlog instead.
    for severity in settings.file.severity.values_mut() {
        severity.statuspage = warroom::config::StatuspageMode::Off;
        severity.status_update_every = None;
        severity.ack_within = None;
    }
    let app = Application::build(settings, db.clone(), Arc::new(SystemClock), workers).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok(address)
}

/// Offers `rate` requests/s (the i-th is `body(i)`) for `seconds` while sampling single-row INSERT commits; returns
/// (ack latencies, INSERT latencies, non-200 answers).
async fn load(
    slack: &Arc<Workspace>,
    db: &PgPool,
    rate: u64,
    seconds: u64,
    body: impl Fn(u64) -> Vec<u8>,
) -> anyhow::Result<(Latencies, Latencies, usize)> {
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (db, done) = (db.clone(), done.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                let t0 = Instant::now();
                sqlx::query("INSERT INTO bench_insert (v) VALUES ('x')").execute(&db).await?;
                samples.push(t0.elapsed());
            }
            anyhow::Ok(samples)
        })
    };
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    let mut tasks = Vec::new();
    for i in 0..rate * seconds {
        tick.tick().await;
        let slack = slack.clone();
        let body = body(i);
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let reply = slack.send_signed("/slack/commands", FORM, body).await;
            (t0.elapsed(), reply.map(|r| r.status).unwrap_or(0))
        }));
    }
    let (mut acks, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (latency, status) = task.await?;
        if status == 200 {
            acks.push(latency);
        } else {
            failed += 1;
        }
    }
    done.store(true, Ordering::Relaxed);
    let inserts = sampler.await??;
    Ok((Latencies::new(acks), Latencies::new(inserts), failed))
}

/// Waits for the queue to empty; returns how many jobs finished meanwhile and how long it took.
async fn drain(db: &PgPool) -> anyhow::Result<(i64, Duration)> {
    let finished =
        || sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')").fetch_one(db);
    let before = finished().await?;
    let t0 = Instant::now();
    // Due work only: the incidents' timers (status updates, escalation tiers) lie minutes ahead.
    let due = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= now()",
        )
        .fetch_one(db)
    };
    while due().await? > 0 {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(900), "the job queue did not drain in 15 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((finished().await? - before, t0.elapsed()))
}

fn report(title: &str, acks: &Latencies, inserts: &Latencies, failed: usize) {
    println!("{title}");
    println!("  slash-command ack:         {}  ({failed} non-200)", acks.summary());
    println!("  single-row INSERT commit:  {}", inserts.summary());
    println!(
        "  ack / INSERT:              p50 {:.1}x  p99 {:.1}x",
        acks.p(0.5).as_secs_f64() / inserts.p(0.5).as_secs_f64(),
        acks.p(0.99).as_secs_f64() / inserts.p(0.99).as_secs_f64()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = env_or("BENCH_RATE", 200);
    let seconds: u64 = env_or("BENCH_SECONDS", 30);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(16).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;
    sqlx::query("CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
        .execute(&db)
        .await?;

    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new(SECRET)));
    let slack_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", slack_listener.local_addr()?);
    let sandbox_server = axum::serve(slack_listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });

    // The front door: takes the requests, runs no jobs.
    let front = start_app(&db, &slack_url, 0).await?;
    slack.connect(&front, &slack_url);
    // Warm-up at the load's own rate, not measured: the pool opens its connections and each new
    // backend reads the catalogs, as in any service's first seconds after a start.
    load(&slack, &db, rate, 2, |i| command(&format!("warm-{i}"), "warmup")).await?;

    println!("phase 1: {rate} declares/s for {seconds} s, ack path alone ...");
    let declares = |tag: &'static str| move |i| command(&format!("{tag}-{i}"), &format!("{tag}-svc-{i}"));
    let (acks_alone, inserts_alone, failed_alone) = load(&slack, &db, rate, seconds, declares("alone")).await?;
    report("ack path alone:", &acks_alone, &inserts_alone, failed_alone);

    // Workers join (a second instance on the same database, as a replica would) and work off
    // the backlog the load left.
    start_app(&db, &slack_url, warroom::app::DEFAULT_WORKERS).await?;
    let (jobs_done, drained) = drain(&db).await?;

    println!(
        "phase 2: {rate} declares/s for {seconds} s, with {} job workers running ...",
        warroom::app::DEFAULT_WORKERS
    );
    let (acks_busy, inserts_busy, failed_busy) = load(&slack, &db, rate, seconds, declares("busy")).await?;
    drain(&db).await?;

    println!("phase 4: {rate} refused diagnostics/s for {seconds} s (the permission check's longest path) ...");
    let declared = (rate * seconds) as i64;
    let refused = move |i: u64| {
        let number = 1 + (i as i64 * 7919) % declared;
        slash("U0CAROL", &format!("checked-{i}"), &format!("run INC-{number} http.health"))
    };
    let (acks_checked, inserts_checked, failed_checked) = load(&slack, &db, rate, seconds, refused).await?;
    drain(&db).await?;

    println!("phase 3: 200 declares one after another, each until its declaration is posted ...");
    let mut posted = Vec::new();
    for i in 0..200 {
        let service = format!("e2e-{i}");
        let t0 = Instant::now();
        slack.send_signed("/slack/commands", FORM, command(&format!("e2e-{i}"), &service)).await?;
        loop {
            if let Some(at) = slack.first_post_received(&format!("-{service}")) {
                posted.push(at.duration_since(t0));
                break;
            }
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(10), "declaration for {service} was never posted");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    drain(&db).await?;

    println!("\n== warroom foundation benchmark ({rate} declares/s for {seconds} s) ==");
    report("ack path alone:", &acks_alone, &inserts_alone, failed_alone);
    report(
        &format!("with {} job workers running:", warroom::app::DEFAULT_WORKERS),
        &acks_busy,
        &inserts_busy,
        failed_busy,
    );
    println!(
        "job workers: the first load's Slack work ({jobs_done} jobs) done in {:.1} s ({:.0} jobs/s, {:.0} declarations/s)",
        drained.as_secs_f64(),
        jobs_done as f64 / drained.as_secs_f64(),
        (rate * seconds) as f64 / drained.as_secs_f64()
    );
    println!("declare -> declaration posted (sandbox): {}", Latencies::new(posted).summary());
    report(
        "permission checks (carol's refused `run`, workers running; incident + channel members looked up):",
        &acks_checked,
        &inserts_checked,
        failed_checked,
    );

    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(())
}
