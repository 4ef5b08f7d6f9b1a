//! `spawn_app`: the real warroom on a random port, against a fresh Postgres database and a
//! sandbox Slack served over real HTTP, with a manual clock and no background workers — tests
//! drain the job queue themselves.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::BoxFuture;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use warroom::app::{AppState, Application};
use warroom::clock::ManualClock;
use warroom::config::Settings;
use warroom::diagnostics::net::{Network, SharedNetwork};
use warroom::incident::store::Incident;
use warroom::jobs::runner;
use warroom::sandbox::pagerduty::PagerDutySandbox;
use warroom::sandbox::pagerduty_rest::PagerDutyRest;
use warroom::sandbox::statuspage::StatusPage;
use warroom::sandbox::trackers::TrackerSandbox;
use warroom::sandbox::{self, Workspace};
use warroom::secret::Secret;

pub const SIGNING_SECRET: &str = "test-signing-secret";
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const CAROL: &str = "U0CAROL";
pub const STATUSPAGE_KEY: &str = "test-statuspage-key";
pub const STATUSPAGE_PAGE: &str = "pg0test";
pub const PAGERDUTY_KEY: &str = "R0TESTROUTINGKEY0000000000000000";
/// The sandbox status page's component for `inference-gateway` (configure it per test).
pub const GATEWAY_COMPONENT: &str = "cmp0gateway";
/// `WARROOM_API_TOKEN` of the test app (the API and the alert webhooks).
pub const API_TOKEN: &str = "test-api-token";

pub struct TestApp {
    pub address: String,
    slack_url: String,
    pub db: PgPool,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub slack: Arc<Workspace>,
    /// The sandbox status page warroom pushes to (over HTTP, with an API key).
    pub statuspage: Arc<StatusPage>,
    /// Its API base URL (`http://127.0.0.1:port/v1`).
    pub statuspage_url: String,
    /// The sandbox PagerDuty (Events API v2) warroom pages through.
    pub pagerduty: Arc<PagerDutySandbox>,
    /// The sandbox PagerDuty's REST API (on-call schedules), on the same server; its default
    /// world until a test adds schedules.
    pub oncall: Arc<PagerDutyRest>,
    /// The sandbox GitHub, Jira and Linear the follow-ups go to (a service needs `tracker`).
    pub trackers: Arc<TrackerSandbox>,
    settings: Settings,
    network: SharedNetwork,
    db_name: String,
    admin: PgConnectOptions,
}

/// 2026-11-23 15:00:00 UTC, the moment every test starts at.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_network(Arc::new(LoopbackOnly), configure).await
}

/// The network every test's built-in checks use unless it gives its own: literal addresses and
/// `localhost` only, connections only to loopback, so no check can send a packet elsewhere.
pub struct LoopbackOnly;

impl Network for LoopbackOnly {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            match host {
                "localhost" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
                literal => literal
                    .parse::<std::net::IpAddr>()
                    .map(|ip| vec![SocketAddr::new(ip, port)])
                    .map_err(|_| std::io::Error::other(format!("tests resolve no names (`{host}`)"))),
            }
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
        Box::pin(async move {
            if !addr.ip().is_loopback() {
                return Err(std::io::Error::other(format!("tests connect only to loopback, not {addr}")));
            }
            tokio::net::TcpStream::connect(addr).await
        })
    }
}

/// [`spawn_app_with`], the built-in checks resolving and connecting through `network`.
pub async fn spawn_app_with_network(network: SharedNetwork, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER.into());
    let admin = PgConnectOptions::from_str(&server).expect("DATABASE_URL is a Postgres URL");
    let db_name = format!("warroom_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin.connect().await.expect("Postgres is reachable at DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut conn).await.unwrap();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(admin.clone().database(&db_name))
        .await
        .unwrap();
    warroom::db::migrate(&db).await.unwrap();

    let clock = Arc::new(ManualClock::new(start_time()));
    let slack = Arc::new(Workspace::new(clock.clone(), Secret::new(SIGNING_SECRET)));
    let slack_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slack_url = format!("http://{}", slack_listener.local_addr().unwrap());
    let sandbox_server = axum::serve(slack_listener, sandbox::http::api_router(slack.clone()));
    tokio::spawn(async move { sandbox_server.await });

    let statuspage = Arc::new(StatusPage::new(clock.clone(), STATUSPAGE_KEY, STATUSPAGE_PAGE));
    statuspage.add_component(GATEWAY_COMPONENT, "ML Inference API");
    let statuspage_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let statuspage_url = format!("http://{}/v1", statuspage_listener.local_addr().unwrap());
    let statuspage_server = axum::serve(statuspage_listener, sandbox::statuspage::router(statuspage.clone()));
    tokio::spawn(async move { statuspage_server.await });

    let pagerduty = Arc::new(PagerDutySandbox::new(clock.clone(), PAGERDUTY_KEY));
    let oncall = Arc::new(PagerDutyRest::with_default_world(clock.clone()));
    let pagerduty_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pagerduty_base = format!("http://{}", pagerduty_listener.local_addr().unwrap());
    let pagerduty_url = format!("{pagerduty_base}/v2/enqueue");
    let pagerduty_routes =
        sandbox::pagerduty::router(pagerduty.clone()).merge(sandbox::pagerduty_rest::router(oncall.clone()));
    let pagerduty_server = axum::serve(pagerduty_listener, pagerduty_routes);
    tokio::spawn(async move { pagerduty_server.await });

    let trackers = Arc::new(TrackerSandbox::new(clock.clone()));
    let trackers_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trackers_url = format!("http://{}", trackers_listener.local_addr().unwrap());
    let trackers_server = axum::serve(trackers_listener, sandbox::trackers::router(trackers.clone()));
    tokio::spawn(async move { trackers_server.await });

    let api_url = format!("{slack_url}/api");
    let mut settings = Settings::for_slack(&api_url, SIGNING_SECRET);
    settings.statuspage_api_key = Some(Secret::new(STATUSPAGE_KEY));
    settings.statuspage_page_id = Some(STATUSPAGE_PAGE.into());
    settings.statuspage_api_url = statuspage_url.clone();
    settings.pagerduty_routing_key = Some(Secret::new(PAGERDUTY_KEY));
    settings.pagerduty_events_url = pagerduty_url;
    settings.pagerduty_api_token = Some(Secret::new(sandbox::pagerduty::REST_TOKEN));
    settings.pagerduty_api_url = pagerduty_base;
    settings.api_token = Some(Secret::new(API_TOKEN));
    settings.trackers = sandbox::trackers::env(&trackers_url);
    // The per-channel pacing is unit-tested; here it would only need clock moves between posts.
    settings.file.channel_post_interval = warroom::duration::HumanDuration(std::time::Duration::ZERO);
    // The workspace's people: bob is the team's responder (`[roles] responders`); alice declares
    // in most tests (so she is declarer and commander); carol holds no role.
    settings.file.responders.users = vec![BOB.into()];
    configure(&mut settings);

    let app =
        Application::build_with_network(settings.clone(), db.clone(), clock.clone(), 0, network.clone()).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    slack.connect(&address, &slack_url);
    if let Some(app_token) = &settings.slack_app_token {
        // Socket Mode: the sandbox accepts the token and talks to warroom over its connections.
        slack.enable_socket_mode(app_token.expose());
    }
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        slack_url,
        db,
        state,
        clock,
        slack,
        statuspage,
        statuspage_url,
        pagerduty,
        oncall,
        trackers,
        settings,
        network,
        db_name,
        admin,
    }
}

impl TestApp {
    /// The URL of this test's database, for processes the test starts.
    pub fn database_url(&self) -> String {
        let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER.into());
        let base = server.split('?').next().unwrap_or(&server);
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        format!("{base}/{}", self.db_name)
    }

    /// The sandbox Slack's base URL and its Web API URL.
    pub fn slack_url(&self) -> String {
        self.slack_url.clone()
    }

    pub fn slack_api_url(&self) -> String {
        format!("{}/api", self.slack_url)
    }

    /// A second warroom on the same database, Slack and status page (another replica, or this
    /// one after a restart): its state, to run jobs with.
    pub async fn replica(&self) -> AppState {
        self.build_replica().await.state().clone()
    }

    /// Another replica on the same database, Slack and status page, running (its Slack
    /// ingress, and in Socket Mode its connections; no job workers): its state.
    pub async fn running_replica(&self) -> AppState {
        let app = self.build_replica().await;
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        state
    }

    async fn build_replica(&self) -> Application {
        let mut settings = self.settings.clone();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        Application::build_with_network(settings, self.db.clone(), self.clock.clone(), 0, self.network.clone())
            .await
            .unwrap()
    }

    /// Runs every due job (and the jobs they queue) until nothing is due.
    pub async fn drain(&self) {
        for _ in 0..100 {
            if runner::run_due(&self.state).await.unwrap() == 0 {
                return;
            }
        }
        panic!("the job queue did not settle after 100 rounds");
    }

    /// Drains, moving the clock to each later due job, until only timers (the status update
    /// cadence, which never ends while an incident is open) are left: retries included.
    pub async fn settle(&self) {
        self.drain().await;
        let timers: Vec<String> = warroom::jobs::kind::TIMERS.iter().map(|k| k.to_string()).collect();
        loop {
            let next: Option<DateTime<Utc>> =
                sqlx::query_scalar("SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind <> ALL($1)")
                    .bind(&timers)
                    .fetch_one(&self.db)
                    .await
                    .unwrap();
            let Some(next) = next else { break };
            if next > self.clock.now_utc() {
                self.clock.set(next);
            }
            self.drain().await;
        }
    }

    pub async fn incidents(&self) -> Vec<Incident> {
        sqlx::query_as!(Incident, "SELECT * FROM incidents ORDER BY number").fetch_all(&self.db).await.unwrap()
    }

    /// Resolves `incident` through the domain, as a command would (the app's reactions, its clock).
    pub async fn resolve_directly(
        &self,
        incident: &Incident,
        actor: &str,
        fields: &warroom::incident::store::UpdateFields,
        resolution: Option<&str>,
    ) -> Incident {
        let now = self.clock.now_utc();
        warroom::incident::lifecycle::resolve(
            &self.db,
            self.state.reactions(),
            now,
            incident,
            actor,
            fields,
            resolution,
        )
        .await
        .unwrap()
    }

    pub async fn only_incident(&self) -> Incident {
        let mut all = self.incidents().await;
        assert_eq!(all.len(), 1, "expected exactly one incident");
        all.remove(0)
    }

    /// The kinds of the incident's timeline events, in order.
    pub async fn timeline(&self, incident: &Incident) -> Vec<String> {
        warroom::timeline::list(&self.db, incident.id).await.unwrap().into_iter().map(|e| e.kind).collect()
    }

    /// The ephemeral replies `user` saw, oldest first, without the catch-up cards a join brings
    /// (for tests of what a command or click answered).
    pub fn replies(&self, user: &str) -> Vec<sandbox::Ephemeral> {
        let mut replies = self.slack.ephemerals(user);
        replies.retain(|e| !(e.via == "chat.postEphemeral" && e.text.starts_with("Catching up on ")));
        replies
    }

    /// `/incident <text>` typed by `user` in #incidents.
    pub async fn slash(&self, user: &str, text: &str) -> sandbox::actor::Reply {
        self.slack.slash(user, "incidents", text).await.unwrap()
    }

    /// Fails the test if due work was left in the queue, then drops the database. (Timers due
    /// later, like an open incident's next status update, are not left-over work.)
    pub async fn finish(self) {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= $1")
                .bind(self.clock.now_utc())
                .fetch_one(&self.db)
                .await
                .unwrap();
        self.db.close().await;
        let mut conn = self.admin.connect().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.db_name)))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "jobs were left unprocessed at the end of the test");
    }
}

/// `now()` on the manual clock, without importing the trait in every test.
pub trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        warroom::clock::Clock::now(self)
    }
}
