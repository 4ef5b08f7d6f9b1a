//! The application: [`AppState`] (what every handler and job gets) and [`Application`], which
//! binds the listener, wires the routers, and runs the server and the job workers until stopped.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::sandbox::statuspage::StatusPage;
use crate::sandbox::{self, Workspace};
use crate::secret::Secret;
use crate::slack::api::SlackClient;
use crate::slack::limiter::ChannelLimiter;
use crate::templates::Templates;

/// Everything a request handler or a job needs, passed in (never global).
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// The Postgres pool: incidents, timeline, jobs.
    pub db: sqlx::PgPool,
    /// A small pool of its own for `/metrics` and `/readyz` ([`PROBE_CONNECTIONS`], a short
    /// [`PROBE_ACQUIRE`] wait), so that scrapes and probes piling up never take the connections
    /// that acknowledge Slack, and still answer when those are all busy.
    pub probe_db: sqlx::PgPool,
    /// Where "now" comes from.
    pub clock: SharedClock,
    /// The Slack Web API (real Slack, or the sandbox).
    pub slack: SlackClient,
    /// Verifies that requests come from Slack (or the sandbox).
    pub signing_secret: Secret,
    /// Message templates.
    pub templates: Arc<Templates>,
    /// The diagnostics catalog: the shipped packs and the team's (`[diagnostics] dirs`).
    pub catalog: Arc<crate::diagnostics::Catalog>,
    /// Each service's runbook checklist, read at start (`[services.x] runbook`).
    pub runbooks: Arc<crate::checklist::Runbooks>,
    /// Per-channel `chat.postMessage` pacing.
    pub limiter: Arc<ChannelLimiter>,
    /// Wakes the job workers when work was queued.
    pub jobs_ready: Arc<Notify>,
    /// Wakes remote runners' long polls when a task for them was queued (here).
    pub runner_tasks_ready: Arc<Notify>,
    /// Set while a cross-replica wake-up (NOTIFY) is being sent.
    pub notify_in_flight: Arc<std::sync::atomic::AtomicBool>,
    /// The status page (Statuspage, or the sandbox status page).
    pub statuspage: crate::statuspage::StatuspageClient,
    /// PagerDuty's Events API, when `PAGERDUTY_ROUTING_KEY` is set.
    pub pagerduty: Option<crate::escalation::pagerduty::PagerDuty>,
    /// PagerDuty's REST API for who is on call: with `PAGERDUTY_API_TOKEN`, or the sandbox's in
    /// sandbox mode; `None` turns on-call look-ups off.
    pub oncall: Option<crate::oncall::PagerDutyRest>,
    /// The follow-ups' trackers (GitHub, Jira, Linear) warroom has credentials for, or the
    /// sandbox trackers in sandbox mode.
    pub trackers: crate::trackers::Trackers,
    /// How "seen before" finds similar incidents: with `pg_trgm`, or the same service only
    /// (decided, and said, once at start).
    pub seen_before: crate::seen_before::Matching,
    /// This process's counters and histograms for `GET /metrics` (the clients above share it).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How the built-in network checks resolve and connect (the machine's; tests give a fake).
    pub network: crate::diagnostics::net::SharedNetwork,
    /// The console's Sign in with Slack: the Slack app (or the sandbox's), the redirect URL,
    /// the workspace whose members may sign in.
    pub console: Arc<crate::console::auth::SignIn>,
}

/// Connections of [`AppState::probe_db`]: a scrape and a probe at the same time.
pub const PROBE_CONNECTIONS: u32 = 2;

/// How long `/metrics` and `/readyz` wait for a connection before they answer "database
/// unreachable": under Kubernetes' default 1 s probe timeout.
pub const PROBE_ACQUIRE: std::time::Duration = std::time::Duration::from_millis(500);

/// Job workers per process. Jobs wait on Postgres and Slack, not on the CPU, so a few more
/// workers than cores keep the queue moving.
pub const DEFAULT_WORKERS: usize = 4;

/// A built, bound, not yet running warroom.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    sandbox: Option<Arc<Workspace>>,
    statuspage_sandbox: Option<Arc<StatusPage>>,
    /// The sandbox PagerDuty REST API, in sandbox mode without `PAGERDUTY_API_TOKEN`.
    oncall_sandbox: Option<Arc<sandbox::pagerduty_rest::PagerDutyRest>>,
    /// With real Slack, the sandbox status page's own loopback listener: nothing under
    /// `/sandbox` is served on warroom's listener outside sandbox mode.
    statuspage_listener: Option<TcpListener>,
    workers: usize,
}

impl Application {
    /// Binds `settings.listen` and wires everything. With no `SLACK_BOT_TOKEN` the sandbox
    /// workspace is served under `/sandbox` and warroom talks to it — only where
    /// [`Settings::check_serve`] allows it; with a token nothing is served under `/sandbox`.
    /// `workers` job workers run with the server (tests use none and drain the queue themselves).
    pub async fn build(
        settings: Settings,
        db: sqlx::PgPool,
        clock: SharedClock,
        workers: usize,
    ) -> anyhow::Result<Self> {
        Self::build_with_network(settings, db, clock, workers, Arc::new(crate::diagnostics::net::SystemNetwork)).await
    }

    /// [`Application::build`], with the built-in checks reaching their targets through `network`.
    pub async fn build_with_network(
        mut settings: Settings,
        db: sqlx::PgPool,
        clock: SharedClock,
        workers: usize,
        network: crate::diagnostics::net::SharedNetwork,
    ) -> anyhow::Result<Self> {
        settings.check_serve()?;
        let listener = TcpListener::bind(settings.listen).await?;
        let local = listener.local_addr()?;
        let base_url = format!("http://{}", loopback_of(local));
        let templates = Arc::new(Templates::load(settings.file.templates_dir.as_deref())?);
        let http = crate::tls::http_client_builder().timeout(std::time::Duration::from_secs(10)).build()?;
        let slack_http = crate::tls::http_client_builder().timeout(settings.slack_timeout).build()?;
        let pauses = crate::slack::pauses::Pauses::new(db.clone(), clock.clone());

        let (slack, signing_secret, sandbox, api_url) = match &settings.slack_bot_token {
            Some(token) => {
                let secret = settings.slack_signing_secret.clone().unwrap_or_else(|| Secret::new(""));
                let client = SlackClient::new(slack_http, settings.slack_api_url.clone(), token.clone());
                (client.with_pauses(pauses), secret, None, settings.slack_api_url.clone())
            }
            None => {
                let secret = Secret::new(uuid::Uuid::new_v4().simple().to_string());
                let workspace = Arc::new(Workspace::new(clock.clone(), secret.clone()));
                workspace.connect(&base_url, &format!("{base_url}/sandbox"));
                if let Some(app_token) = &settings.slack_app_token {
                    workspace.enable_socket_mode(app_token.expose());
                }
                workspace.enforce_rate_limits();
                let api = format!("{base_url}/sandbox/api");
                let client = SlackClient::new(slack_http, api.clone(), Secret::new(sandbox::BOT_TOKEN));
                (client.with_pauses(pauses), secret, Some(workspace), api)
            }
        };

        let statuspage_listener = match (&sandbox, &settings.statuspage_api_key, &settings.statuspage_page_id) {
            (None, None, _) | (None, _, None) => Some(TcpListener::bind(("127.0.0.1", 0)).await?),
            _ => None,
        };
        let statuspage_base = match &statuspage_listener {
            Some(private) => format!("http://{}", private.local_addr()?),
            None => format!("{base_url}/sandbox/statuspage"),
        };
        let (statuspage, statuspage_sandbox) = statuspage_client(&settings, &clock, &statuspage_base)?;
        let pagerduty = settings.pagerduty_routing_key.as_ref().map(|key| {
            crate::escalation::pagerduty::PagerDuty::new(http.clone(), &settings.pagerduty_events_url, key.clone())
        });
        let (oncall, oncall_sandbox) = oncall_client(&mut settings, &clock, &http, &base_url, sandbox.is_some());
        let (trackers, trackers_sandbox) = trackers_client(&settings, &clock, &base_url, sandbox.is_some())?;
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let slack = slack.with_metrics(metrics.clone());
        let statuspage = statuspage.with_metrics(metrics.clone());
        let pagerduty = pagerduty.map(|p| p.with_metrics(metrics.clone()));

        // Same database, own connections, opened on first use.
        let probe_db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(PROBE_CONNECTIONS)
            .acquire_timeout(PROBE_ACQUIRE)
            .connect_lazy_with((*db.connect_options()).clone());
        // The shipped packs and the team's own: a bad team pack stops the start, every problem said.
        let catalog = crate::diagnostics::Catalog::load(&settings.file.diagnostics.dirs).map_err(|problems| {
            anyhow::anyhow!("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        })?;
        let catalog = Arc::new(catalog);
        // A runbook that cannot be read stops the start, with the service and the file named.
        let runbooks = crate::checklist::Runbooks::load(&settings.file.services, &catalog)
            .map_err(|problems| anyhow::anyhow!("cannot start: {problems}"))?;
        let seen_before = crate::seen_before::Matching::at_start(&db).await?;
        let sandbox_team = sandbox.is_some().then_some(sandbox::TEAM_ID);
        let console =
            crate::console::auth::SignIn::new(&settings.console, &api_url, &base_url, sandbox_team, http.clone());
        if let (Some(workspace), Some(redirect)) = (&sandbox, console.redirect_uri()) {
            // The sandbox's Slack app lists warroom's callback, as the manifest's redirect_urls do.
            workspace.allow_redirect_url(redirect);
        }
        let state = AppState {
            limiter: Arc::new(ChannelLimiter::new(settings.file.channel_post_interval.0)),
            settings: Arc::new(settings),
            db,
            probe_db,
            clock,
            slack,
            signing_secret,
            templates,
            catalog,
            runbooks: Arc::new(runbooks),
            jobs_ready: Arc::new(Notify::new()),
            notify_in_flight: Arc::default(),
            runner_tasks_ready: Arc::new(Notify::new()),
            statuspage,
            pagerduty,
            oncall,
            trackers,
            seen_before,
            metrics: metrics.clone(),
            network,
            console: Arc::new(console),
        };
        let mut router = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(crate::metrics::scrape::metrics));
        // In Socket Mode Slack reaches warroom over its WebSockets only: no public Slack endpoints.
        if state.settings.slack_app_token.is_none() {
            router = router.merge(crate::slack::router());
        }
        let mut router = router
            .merge(crate::api::router())
            .merge(crate::alerts::router())
            .merge(crate::console::router())
            .with_state(state.clone());
        if let Some(workspace) = &sandbox {
            let slack_side = sandbox::http::from_this_machine(sandbox::http::api_router(workspace.clone()), local.ip());
            let sandbox_routes =
                slack_side.merge(sandbox::http::control_router(workspace.clone(), state.settings.sandbox_public));
            router = router.nest("/sandbox", sandbox_routes);
        }
        if let Some(rest) = &oncall_sandbox {
            let routes = sandbox::http::from_this_machine(sandbox::pagerduty_rest::router(rest.clone()), local.ip());
            router = router.nest("/sandbox/pagerduty", routes);
        }
        if let Some(trackers) = &trackers_sandbox {
            let routes = sandbox::http::from_this_machine(sandbox::trackers::router(trackers.clone()), local.ip());
            router = router.nest("/sandbox/trackers", routes);
        }
        if let (Some(page), None) = (&statuspage_sandbox, &statuspage_listener) {
            router = router.nest("/sandbox/statuspage", sandbox::statuspage::router(page.clone()));
        }
        let router = router.layer(middleware::from_fn_with_state(metrics, trace_request));
        Ok(Self { listener, router, state, sandbox, statuspage_sandbox, oncall_sandbox, statuspage_listener, workers })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The sandbox workspace, when warroom runs without a Slack token.
    pub fn sandbox(&self) -> Option<Arc<Workspace>> {
        self.sandbox.clone()
    }

    /// The sandbox status page, when warroom runs without a status page key.
    pub fn statuspage_sandbox(&self) -> Option<Arc<StatusPage>> {
        self.statuspage_sandbox.clone()
    }

    /// The sandbox PagerDuty REST API, when warroom runs the sandbox without a PagerDuty token.
    pub fn oncall_sandbox(&self) -> Option<Arc<sandbox::pagerduty_rest::PagerDutyRest>> {
        self.oncall_sandbox.clone()
    }

    /// Serves until `shutdown` resolves. The workers are told at once (each finishes the job it
    /// holds and claims no other) while the server finishes the requests in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let mut workers = Vec::new();
        for _ in 0..self.workers {
            workers.push(tokio::spawn(crate::jobs::runner::work(self.state.clone(), stop_rx.clone())));
        }
        if self.workers > 0 {
            workers.push(tokio::spawn(crate::jobs::wake::listen(self.state.clone(), stop_rx.clone())));
        }
        if self.workers > 0 && !self.state.settings.file.referenced_groups().is_empty() {
            // Read the user groups the configuration names at start (one refresh per minute, however many replicas start).
            let now = self.state.clock.now();
            let slot = format!("start:{}", now.timestamp() / 60);
            if let Err(e) = crate::diagnostics::approvals::queue_group_refresh(&self.state.db, &slot, now).await {
                tracing::warn!("could not queue the approver groups' refresh: {e}");
            }
        }
        if self.workers > 0 {
            if let Err(e) = crate::jobs::purge::schedule(&self.state).await {
                tracing::warn!("could not queue the job table's housekeeping: {e}");
            }
            if let Err(e) = crate::statuspage::reconcile::schedule(&self.state).await {
                tracing::warn!("could not queue the status page reconciliation: {e}");
            }
        }
        if let Some(app_token) = self.state.settings.slack_app_token.clone() {
            workers.push(tokio::spawn(crate::slack::socket::listen(self.state.clone(), app_token, stop_rx.clone())));
        }
        // Served until the workers are done: a job finishing at shutdown may still push to it.
        let statuspage_server = match (self.statuspage_listener, &self.statuspage_sandbox) {
            (Some(listener), Some(page)) => {
                Some(tokio::spawn(axum::serve(listener, sandbox::statuspage::router(page.clone())).into_future()))
            }
            _ => None,
        };
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let stopping = {
            let stop_tx = stop_tx.clone();
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            }
        };
        let served = axum::serve(self.listener, service).with_graceful_shutdown(stopping).await;
        let _ = stop_tx.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        if let Some(server) = statuspage_server {
            server.abort();
        }
        served
    }
}

/// The status page client: Statuspage with `STATUSPAGE_API_KEY`, else the in-process sandbox
/// status page (served at `sandbox_url`) with the configured services' components.
fn statuspage_client(
    settings: &Settings,
    clock: &SharedClock,
    sandbox_url: &str,
) -> anyhow::Result<(crate::statuspage::StatuspageClient, Option<Arc<StatusPage>>)> {
    let http = crate::tls::http_client_builder().timeout(settings.statuspage_timeout).build()?;
    if let (Some(key), Some(page)) = (&settings.statuspage_api_key, &settings.statuspage_page_id) {
        let client =
            crate::statuspage::StatuspageClient::new(http, &settings.statuspage_api_url, key.clone(), page, false);
        return Ok((client, None));
    }
    let key = uuid::Uuid::new_v4().simple().to_string();
    let page = Arc::new(StatusPage::new(clock.clone(), &key, "sandbox"));
    for (name, service) in &settings.file.services {
        for component in &service.statuspage_components {
            page.add_component(component, service.display_name.as_deref().unwrap_or(name));
        }
    }
    let url = format!("{sandbox_url}/v1");
    let client = crate::statuspage::StatuspageClient::new(http, &url, Secret::new(key), "sandbox", true);
    Ok((client, Some(page)))
}

/// The on-call client: PagerDuty with `PAGERDUTY_API_TOKEN`; in sandbox mode without one, the
/// sandbox PagerDuty (served at `{base_url}/sandbox/pagerduty`), whose schedule is then the
/// on-call of every service without `oncall` and which holds every schedule the services name.
fn oncall_client(
    settings: &mut Settings,
    clock: &SharedClock,
    http: &reqwest::Client,
    base_url: &str,
    sandbox_mode: bool,
) -> (Option<crate::oncall::PagerDutyRest>, Option<Arc<sandbox::pagerduty_rest::PagerDutyRest>>) {
    use sandbox::pagerduty_rest::{self as rest, PagerDutyRest};
    if settings.pagerduty_api_token.is_some() || !sandbox_mode {
        return (crate::oncall::client(settings, http), None);
    }
    let world = Arc::new(PagerDutyRest::with_default_world(clock.clone()));
    for source in settings.file.services.values().filter_map(|s| s.oncall.as_ref()?.source()) {
        world.adopt(&source);
    }
    settings.file.oncall_fallback = Some(crate::config::OncallSource::Schedule(rest::SANDBOX_SCHEDULE.into()));
    let url = format!("{base_url}/sandbox/pagerduty");
    let client = crate::oncall::PagerDutyRest::new(http.clone(), &url, Secret::new(sandbox::pagerduty::REST_TOKEN));
    (Some(client), Some(world))
}

/// The trackers' clients: with credentials, the real ones; in sandbox mode without any, the
/// sandbox trackers served under `/sandbox/trackers` (GitHub, Jira and Linear alike).
fn trackers_client(
    settings: &Settings,
    clock: &SharedClock,
    base_url: &str,
    sandbox_mode: bool,
) -> anyhow::Result<(crate::trackers::Trackers, Option<Arc<sandbox::trackers::TrackerSandbox>>)> {
    let http = crate::tls::http_client_builder().timeout(settings.trackers.timeout).build()?;
    if settings.trackers.any() || !sandbox_mode {
        return Ok((crate::trackers::Trackers::from_env(&settings.trackers, &http, clock), None));
    }
    let world = Arc::new(sandbox::trackers::TrackerSandbox::new(clock.clone()));
    let url = format!("{base_url}/sandbox/trackers");
    let env = sandbox::trackers::env(&url);
    Ok((crate::trackers::Trackers::from_env(&env, &http, clock), Some(world)))
}

/// `0.0.0.0:8080` is reached as `127.0.0.1:8080` from this machine.
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match sqlx::query_scalar!("SELECT 1 AS one").fetch_one(&state.probe_db).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!("not ready: database unreachable: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// One span per request (method, route), and one line when it ends with status and latency;
/// the latency is also counted by route template (unmatched paths share one label value).
async fn trace_request(State(metrics): State<Arc<crate::metrics::Metrics>>, request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string());
    let route = matched.clone().unwrap_or_else(|| request.uri().path().to_string());
    let span = tracing::info_span!("request", method = %request.method(), route = %route);
    let method = known_method(request.method());
    let started = std::time::Instant::now();
    async move {
        let response = next.run(request).await;
        let status = response.status().as_u16();
        tracing::debug!(status, latency_us = started.elapsed().as_micros() as u64, "done");
        metrics.http_request(method, matched.as_deref().unwrap_or("unmatched"), status, started.elapsed());
        response
    }
    .instrument(span)
    .await
}

/// The method as a metric label: the standard ones, anything else as `other`.
fn known_method(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
