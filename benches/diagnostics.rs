//! Diagnostics figures, measured on this machine:
//!
//! 1. from an Approve click (signed, over HTTP) to the approved command starting, p50/p99, run
//!    in-process by warroom's job workers and through a remote runner on loopback (the `docker`
//!    it runs is a shim that notes the time it started);
//! 2. the overhead of running a trivial diagnostic (`true`) through warroom's executor (cleared
//!    environment, process group, capped pipes, time limit) against spawning it directly.
//!
//! Run: `cargo bench --bench diagnostics` (env: DATABASE_URL server, BENCH_APPROVALS, BENCH_RUNS).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::{ServiceConfig, Settings};
use warroom::diagnostics::exec;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

const SECRET: &str = "bench-signing-secret";

fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn now_ns() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let approvals: usize = env_or("BENCH_APPROVALS", 200);
    let runs: usize = env_or("BENCH_RUNS", 1000);

    // A `docker` shim that writes the nanosecond it started to the file named by its last argument.
    let dir = std::env::temp_dir().join(format!("warroom-bench-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let shim = dir.join("docker");
    std::fs::write(&shim, format!("#!/bin/sh\ndate +%s%N > {}/started-$2\n", dir.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))?;

    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = PgConnectOptions::from_str(&server)?;
    let db_name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin.connect().await?).await?;
    let db =
        sqlx::postgres::PgPoolOptions::new().max_connections(8).connect_with(admin.clone().database(&db_name)).await?;
    warroom::db::migrate(&db).await?;

    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new(SECRET)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let slack_url = format!("http://{}", listener.local_addr()?);
    let sandbox_server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });
    let api_url = format!("{slack_url}/api");
    let mut settings = Settings::for_slack(&api_url, SECRET);
    settings.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
    settings.file.approvals.approvers = vec!["U0BOB".into()];
    // Each request names its own container, which the services allow (`local0`, `edge1`, ...).
    let allow =
        warroom::config::Allow::from_pairs([("container", "(local|edge)[0-9]+")]).map_err(anyhow::Error::msg)?;
    let api = ServiceConfig { packs: vec!["docker".into()], allow: allow.clone(), ..Default::default() };
    settings.file.services.insert("api".into(), api);
    let remote =
        ServiceConfig { packs: vec!["docker".into()], runner: Some("edge-1".into()), allow, ..Default::default() };
    settings.file.services.insert("edge".into(), remote);
    settings.runner_tokens =
        warroom::config::RunnerTokens::parse("edge-1=bench-runner-token").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    settings.diagnostics_path = Some(format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()));
    let app = Application::build(settings, db.clone(), Arc::new(SystemClock), warroom::app::DEFAULT_WORKERS).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    slack.connect(&address, &slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    // A remote runner on loopback, with the docker pack and the shim, long-polling.
    let pack = std::fs::read_to_string(format!("{}/diagnostics/docker.toml", env!("CARGO_MANIFEST_DIR")))?;
    std::fs::write(dir.join("docker.toml"), pack)?;
    let runner_catalog =
        warroom::diagnostics::Catalog::from_file(&dir.join("docker.toml")).map_err(anyhow::Error::msg)?;
    let runner = warroom::diagnostics::runner::Runner::new(&address, Secret::new("bench-runner-token"), runner_catalog)
        .named(Some("edge-1".into()))
        .with_path(Some(format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())));
    let (_stop_runner, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move { runner.run(stop_rx).await });

    let mut in_process = approve_to_start(&slack, &dir, "api", "inc-1-api", "local", approvals).await?;
    let mut remote = approve_to_start(&slack, &dir, "edge", "inc-2-edge", "edge", approvals).await?;
    in_process.sort();
    remote.sort();

    // 2. `true` through the executor against a direct spawn.
    let mut direct = Vec::new();
    let mut through = Vec::new();
    let invocation =
        exec::Invocation { argv: vec!["true".into()], timeout: Duration::from_secs(10), output_cap: 65536, path: None };
    for _ in 0..runs {
        let t0 = Instant::now();
        tokio::process::Command::new("true").status().await?;
        direct.push(t0.elapsed());
        let t0 = Instant::now();
        let outcome = exec::run(&invocation).await?;
        through.push(t0.elapsed());
        anyhow::ensure!(outcome.exit_code == Some(0), "true failed: {outcome:?}");
    }
    direct.sort();
    through.sort();

    println!("\n== warroom diagnostics benchmark ==");
    for (how, latencies) in [("in-process", &in_process), ("remote runner", &remote)] {
        println!(
            "Approve click -> command started ({how}, {} approvals): p50 {}  p99 {}  max {}",
            latencies.len(),
            ms(pct(latencies, 0.5)),
            ms(pct(latencies, 0.99)),
            ms(pct(latencies, 1.0))
        );
    }
    println!("`true` spawned directly:         p50 {}  p99 {}", ms(pct(&direct, 0.5)), ms(pct(&direct, 0.99)));
    println!("`true` through warroom's executor: p50 {}  p99 {}", ms(pct(&through, 0.5)), ms(pct(&through, 0.99)));
    println!("executor overhead:               p50 {}", ms(pct(&through, 0.5).saturating_sub(pct(&direct, 0.5))));

    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db_name} WITH (FORCE)")))
        .execute(&mut admin.connect().await?)
        .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Declares an incident for `service`, then `n` times: alice asks for `docker restart`, bob
/// approves it; returns the times from the click to the shim starting.
async fn approve_to_start(
    slack: &Workspace,
    dir: &std::path::Path,
    service: &str,
    channel_name: &str,
    tag: &str,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    slack.slash("U0ALICE", "incidents", &format!("declare P0 {service} Everything 500s")).await?;
    let channel = loop {
        if let Some(c) = slack.channels().into_iter().find(|c| c.name == channel_name && !c.messages.is_empty()) {
            break c.id;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!("{n} changes requested by alice and approved by bob ({tag}) ...");
    let mut latencies = Vec::new();
    for i in 0..n {
        let container = format!("{tag}{i}");
        slack.slash("U0ALICE", &channel, &format!("run docker.restart container={container}")).await?;
        let ts = loop {
            let found = slack.channel(&channel).and_then(|c| {
                let needle = format!("docker restart {container}`");
                c.messages.iter().rev().find(|m| m.blocks.to_string().contains(&needle)).map(|m| m.ts.clone())
            });
            if let Some(ts) = found {
                break ts;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let clicked = now_ns();
        slack.click("U0BOB", &channel, &ts, "approval.approve").await?;
        let started_file = dir.join(format!("started-{container}"));
        let t0 = Instant::now();
        let started: u128 = loop {
            if let Some(ns) = std::fs::read_to_string(&started_file).ok().and_then(|s| s.trim().parse().ok()) {
                break ns;
            }
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(10), "{container} never started");
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push(Duration::from_nanos(started.saturating_sub(clicked) as u64));
    }
    Ok(latencies)
}
