//! The status page's figures, against the sandbox status page over HTTP on the local Postgres.
//!
//! 1. update latency: a real `warroom serve` process (4 workers); `/incident update` is typed in
//!    the incident channel (a signed slash command) and timed until the status page has it,
//!    p50/p99. Updates are spaced 1.1 s apart, so each finds the 1 request/s budget free.
//! 2. outage catch-up: 50 open P0 incidents, each updated every 5 minutes, while the status page
//!    answers 503 for 10 minutes. Simulated on warroom's injected clock (1-second steps, the job
//!    queue drained at each), so ten minutes take seconds: how long after recovery every update
//!    made during the outage is delivered, whether each incident's updates arrive in order, once.
//!
//! Run: `cargo bench --bench statuspage` (env: DATABASE_URL server, BENCH_SAMPLES, BENCH_INCIDENTS).

use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::clock::{ManualClock, SystemClock};
use warroom::config::{ServiceConfig, Settings};
use warroom::sandbox::statuspage::{Fault, StatusPage};
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

const KEY: &str = "bench-statuspage-key";
const PAGE: &str = "pgbench";
const COMPONENT: &str = "cmpbench";

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A fresh database on the server at DATABASE_URL: its pool and URL.
async fn database(admin: &PgConnectOptions, server: &str) -> anyhow::Result<(PgPool, String, String)> {
    let name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(8).connect_with(admin.clone().database(&name)).await?;
    warroom::db::migrate(&db).await?;
    let base = server.split('?').next().unwrap_or(server);
    let url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));
    Ok((db, url, name))
}

/// Serves `page` on a loopback port; returns its API base URL.
async fn serve_page(page: Arc<StatusPage>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1", listener.local_addr()?);
    let server = axum::serve(listener, sandbox::statuspage::router(page));
    tokio::spawn(async move { server.await });
    Ok(url)
}

/// Part 1: `/incident update` → the status page has it, through a real warroom process.
async fn update_latency(admin: &PgConnectOptions, server: &str, samples: usize) -> anyhow::Result<Vec<f64>> {
    let (db, database_url, name) = database(admin, server).await?;
    let clock = Arc::new(SystemClock);
    let slack = Arc::new(Workspace::new(clock.clone(), Secret::new("bench")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let slack_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { slack_server.await });
    let page = Arc::new(StatusPage::new(clock, KEY, PAGE));
    page.add_component(COMPONENT, "Bench API");
    let page_url = serve_page(page.clone()).await?;

    let config = std::env::temp_dir().join(format!("warroom-bench-{name}.toml"));
    std::fs::write(&config, format!("[services.bench-api]\nstatuspage_components = [\"{COMPONENT}\"]\n"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let warroom_url = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", &database_url)
        .env("WARROOM_LISTEN", format!("127.0.0.1:{port}"))
        .env("WARROOM_CONFIG", &config)
        .env("SLACK_BOT_TOKEN", sandbox::BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", "bench")
        .env("SLACK_API_URL", format!("{slack_url}/api"))
        .env("STATUSPAGE_API_KEY", KEY)
        .env("STATUSPAGE_PAGE_ID", PAGE)
        .env("STATUSPAGE_API_URL", &page_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    slack.connect(&warroom_url, &slack_url);
    let started = Instant::now();
    while !warroom::tls::http_client()
        .get(format!("{warroom_url}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "warroom did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    slack.slash("U0ALICE", "incidents", "declare P0 bench-api Bench API is down").await?;
    let channel = loop {
        let channel: Option<String> =
            sqlx::query_scalar("SELECT channel_id FROM incidents").fetch_optional(&db).await?.flatten();
        if let (Some(channel), false) = (channel, page.incidents().is_empty()) {
            break channel;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the incident was not opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let mut latencies = Vec::new();
    for i in 0..samples {
        let marker = format!("sample {i}");
        let sent = Utc::now();
        let spaced = Instant::now();
        slack.slash("U0ALICE", &channel, &format!("update status=\"{marker}\"")).await?;
        let arrived = loop {
            let hit = page.requests().into_iter().rev().find(|r| {
                r.method == "PATCH"
                    && r.status == 200
                    && r.body.to_string().contains(&format!("Investigating - {marker}"))
            });
            if let Some(hit) = hit {
                break hit.at;
            }
            anyhow::ensure!(spaced.elapsed() < Duration::from_secs(30), "{marker} never reached the status page");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        latencies.push((arrived - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        tokio::time::sleep(Duration::from_millis(1100).saturating_sub(spaced.elapsed())).await;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let _ = std::fs::remove_file(&config);
    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// What part 2 measured.
struct CatchUp {
    made: usize,
    made_during_outage: usize,
    delivered: usize,
    in_order: bool,
    doubled: usize,
    catch_up_secs: i64,
    requests: usize,
    after_recovery: usize,
    failed_after: usize,
    wall: Duration,
}

/// Part 2: a 10-minute 503 outage with `n` incidents updating every 5 minutes, on the injected clock.
async fn outage_catch_up(admin: &PgConnectOptions, server: &str, n: usize) -> anyhow::Result<CatchUp> {
    let (db, _, name) = database(admin, server).await?;
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-23T15:00:00Z")?.with_timezone(&Utc);
    let clock = Arc::new(ManualClock::new(t0));
    let slack = Arc::new(Workspace::new(clock.clone(), Secret::new("bench")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let slack_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { slack_server.await });
    let page = Arc::new(StatusPage::new(clock.clone(), KEY, PAGE));
    page.add_component(COMPONENT, "Bench API");

    let mut settings = Settings::for_slack(&format!("{slack_url}/api"), "bench");
    settings.statuspage_api_key = Some(Secret::new(KEY));
    settings.statuspage_page_id = Some(PAGE.into());
    settings.statuspage_api_url = serve_page(page.clone()).await?;
    settings.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
    let service = ServiceConfig { statuspage_components: vec![COMPONENT.into()], ..Default::default() };
    settings.file.services.insert("bench-api".into(), service);
    // This part measures people's updates catching up. Scheduled status updates would push the
    // page too (carrying the same status text, which the counting below could not tell apart):
    // they are tested in tests/integration/statuspage_schedule.rs, and kept out of these figures.
    settings.file.severity.get_mut(&warroom::incident::Severity::P0).expect("P0 is configured").status_update_every =
        None;
    let app = warroom::app::Application::build(settings, db.clone(), clock.clone(), 0).await?;
    let state = app.state().clone();
    slack.connect(&format!("http://127.0.0.1:{}", app.port()), &slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let step = |state: &warroom::app::AppState| {
        let state = state.clone();
        async move {
            while warroom::jobs::runner::run_due(&state).await? > 0 {}
            anyhow::Ok(())
        }
    };
    let mut ids = Vec::new();
    for i in 0..n {
        let new = warroom::incident::store::NewIncident {
            title: format!("Bench outage {i}"),
            service: "bench-api".into(),
            severity: warroom::incident::Severity::P0,
            commander: "U0ALICE".into(),
            declared_by: "U0ALICE".into(),
            impact: None,
            origin_channel: None,
            response_url: None,
            detected_at: None,
            runbook_url: None,
            roles: Vec::new(),
            private: false,
        };
        ids.push(
            warroom::incident::declare::declare(
                &mut *db.acquire().await?,
                state.reactions(),
                t0,
                &format!("bench:{i}"),
                "bench",
                &new,
            )
            .await?
            .id,
        );
    }
    // Every incident is open on the status page (1 request/s) before the outage starts.
    let outage = t0 + chrono::Duration::seconds(n as i64 + 30);
    let recovery = outage + chrono::Duration::minutes(10);
    let end = recovery + chrono::Duration::minutes(10);
    page.fail_between(outage, recovery, Fault::Status(503));
    let mut made = Vec::new();
    let wall = Instant::now();
    let mut now = t0;
    while now < end {
        step(&state).await?;
        now += chrono::Duration::seconds(1);
        clock.set(now);
        // Incident i updates at outage + 6i s, and every 5 minutes after.
        for (i, id) in ids.iter().enumerate() {
            let since = (now - outage).num_seconds() - 6 * i as i64;
            if since >= 0 && since % 300 == 0 && now < recovery + chrono::Duration::minutes(5) {
                let incident = warroom::incident::store::get(&db, *id).await?.expect("seeded");
                let marker = format!("round {} of {i}", since / 300);
                let fields =
                    warroom::incident::store::UpdateFields { status_text: Some(marker.clone()), ..Default::default() };
                warroom::incident::lifecycle::update(&db, state.reactions(), now, &incident, "U0ALICE", &fields)
                    .await?;
                made.push((incident.number, marker, now < recovery));
            }
        }
    }
    let wall = wall.elapsed();

    let pages = page.incidents();
    let mut in_order = true;
    let mut doubled = 0;
    let mut delivered = 0;
    let mut last_outage_delivery = recovery;
    for incident_page in &pages {
        let number = incident_page.metadata["warroom"]["number"].as_str().unwrap_or("").trim_start_matches("INC-");
        let number: i64 = number.parse().unwrap_or(0);
        let expected: Vec<&(i64, String, bool)> = made.iter().filter(|(n, _, _)| *n == number).collect();
        let mut seen = Vec::new();
        for update in &incident_page.updates {
            if let Some(made) =
                expected.iter().find(|(_, m, _)| update.body.contains(&format!("Investigating - {m}\n")))
            {
                seen.push(made.1.clone());
                if made.2 {
                    last_outage_delivery = last_outage_delivery.max(update.created_at);
                }
            }
        }
        delivered += seen.len();
        let wanted: Vec<String> = expected.iter().map(|(_, m, _)| m.clone()).collect();
        let mut unique = seen.clone();
        unique.dedup();
        doubled += seen.len() - unique.len();
        in_order &= unique == wanted;
    }
    let all = page.requests();
    let requests = all.len();
    let after_recovery = all.iter().filter(|r| r.at >= recovery).count();
    let failed_after = all.iter().filter(|r| r.at >= recovery && r.status >= 300).count();
    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    Ok(CatchUp {
        made: made.len(),
        made_during_outage: made.iter().filter(|m| m.2).count(),
        delivered,
        in_order,
        doubled,
        catch_up_secs: (last_outage_delivery - recovery).num_seconds(),
        requests,
        after_recovery,
        failed_after,
        wall,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples: usize = env_or("BENCH_SAMPLES", 50);
    let incidents: usize = env_or("BENCH_INCIDENTS", 50);
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;

    let latencies = update_latency(&admin, &server, samples).await?;
    let catch_up = outage_catch_up(&admin, &server, incidents).await?;

    println!("\n== warroom status page benchmark ==");
    println!(
        "/incident update → status page has it ({} updates, 1.1 s apart): p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "10-minute 503 outage, {incidents} open P0 incidents updating every 5 minutes: {} updates made during it; \
         all delivered {} s after recovery; {} of {} updates delivered, in order per incident: {}, doubled: {}; \
         {} requests in all ({} after recovery, {} of them failed); simulated in {:.1} s",
        catch_up.made_during_outage,
        catch_up.catch_up_secs,
        catch_up.delivered,
        catch_up.made,
        catch_up.in_order,
        catch_up.doubled,
        catch_up.requests,
        catch_up.after_recovery,
        catch_up.failed_after,
        catch_up.wall.as_secs_f64()
    );
    Ok(())
}
