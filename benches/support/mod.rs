//! Set-up the benchmarks share: a fresh database on the local Postgres (dropped at the end), the
//! sandbox Slack served over real HTTP, a warroom with real job workers against both, and
//! latency percentiles. A benchmark uses it with `#[path = "support/mod.rs"] mod support;`.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::Settings;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

pub const SECRET: &str = "bench-signing-secret";

/// A database of its own on `DATABASE_URL`'s server, migrated.
pub struct Database {
    pub pool: PgPool,
    name: String,
    admin: PgConnectOptions,
}

impl Database {
    pub async fn fresh() -> anyhow::Result<Self> {
        let server =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = PgConnectOptions::from_str(&server)?;
        let name = format!("warroom_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin.connect().await?)
            .await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .connect_with(admin.clone().database(&name))
            .await?;
        warroom::db::migrate(&pool).await?;
        Ok(Self { pool, name, admin })
    }

    pub async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut self.admin.connect().await?).await?;
        Ok(())
    }
}

/// The sandbox Slack on its own loopback port (system clock); returns it and its base URL.
pub async fn slack() -> anyhow::Result<(Arc<Workspace>, String)> {
    let slack = Arc::new(Workspace::new(Arc::new(SystemClock), Secret::new(SECRET)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = axum::serve(listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { server.await });
    Ok((slack, url))
}

/// A warroom on a random port with `workers` job workers, its Slack the sandbox at `slack_url`
/// (connected to it), the status page off (Slack's side is what these measure); `configure`
/// changes the settings first. Returns its address.
pub async fn start_app(
    db: &PgPool,
    slack: &Workspace,
    slack_url: &str,
    workers: usize,
    configure: impl FnOnce(&mut Settings),
) -> anyhow::Result<String> {
    let mut settings = Settings::for_slack(&format!("{slack_url}/api"), SECRET);
    for severity in settings.file.severity.values_mut() {
        severity.statuspage = warroom::config::StatuspageMode::Off;
    }
    configure(&mut settings);
    let app = Application::build(settings, db.clone(), Arc::new(SystemClock), workers).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    slack.connect(&address, slack_url);
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok(address)
}

/// Sorted durations, read as percentiles.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut v: Vec<Duration>) -> Self {
        v.sort();
        Self(v)
    }

    pub fn p(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0[((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1]
    }

    pub fn summary(&self) -> String {
        format!("p50 {}  p99 {}  max {}  (n={})", ms(self.p(0.5)), ms(self.p(0.99)), ms(self.p(1.0)), self.0.len())
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub fn env_or<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Service `name` exactly as `warroom.example.toml` configures it (packs, params, runbook).
pub fn example_service(name: &str) -> warroom::config::ServiceConfig {
    let example = std::path::Path::new("warroom.example.toml");
    let file = warroom::config::FileConfig::parse(example, include_str!("../../warroom.example.toml"))
        .expect("the example config parses");
    file.services[name].clone()
}

/// The runbook checklist of the example's service `name`.
pub fn example_checklist(name: &str) -> anyhow::Result<warroom::checklist::Checklist> {
    let services = [(name.to_string(), example_service(name))].into_iter().collect();
    let catalog = warroom::diagnostics::Catalog::built_in().map_err(anyhow::Error::msg)?;
    let runbooks = warroom::checklist::Runbooks::load(&services, &catalog).map_err(anyhow::Error::msg)?;
    runbooks.get(name).cloned().ok_or_else(|| anyhow::anyhow!("{name} has no runbook checklist"))
}
