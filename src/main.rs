//! The `warroom` binary: parse the command line, set up logging, run.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing::{error, info, warn};
use warroom::app::Application;
use warroom::clock::SystemClock;
use warroom::config::Settings;
use warroom::db;
use warroom::templates::Templates;

/// warroom: a Slack incident-response bot.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP server, Slack ingress and job workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration, the diagnostics packs (shipped and the team's) and templates;
    /// exit non-zero with file:line errors.
    CheckConfig,
    /// Preflight against the configured Slack, status page, PagerDuty and runners: each check,
    /// what it found and the fix; exit 1 when one fails.
    Doctor,
    /// Write one incident's post-incident report to standard output.
    Export {
        /// The incident: INC-42 (or 42).
        incident: String,
        /// md, json or csv.
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// Read a Markdown runbook against the catalog.
    Runbook {
        #[command(subcommand)]
        command: RunbookCmd,
    },
    /// Run diagnostics on this host for a warroom server (only actions in its `--catalog` files).
    Runner {
        /// The warroom server, e.g. https://warroom.example.com
        #[arg(long)]
        server: String,
        /// This runner's own token: its entry in the server's WARROOM_RUNNER_TOKENS.
        #[arg(long, env = "WARROOM_RUNNER_TOKEN", hide_env_values = true)]
        token: String,
        /// What this runner may run: a pack file (TOML, the diagnostics/*.toml format) or a
        /// directory of them (its *.toml files, as in `[diagnostics] dirs`). Repeat it for more.
        #[arg(long, required = true)]
        catalog: Vec<std::path::PathBuf>,
        /// This runner's name, as services' `runner = "..."` call it. Optional: the server knows
        /// a runner by its token, and refuses a name that is not the token's.
        #[arg(long, env = "WARROOM_RUNNER_NAME")]
        name: Option<String>,
        /// A directory where results wait until the server acknowledged them, so that a result
        /// survives a runner restart (created if missing). Without it, they wait in memory.
        #[arg(long, env = "WARROOM_RUNNER_STATE_DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum RunbookCmd {
    /// How each command of FILE maps to the catalog for the service: an action id with its
    /// parameters, or a manual step with the nearest action, why, and a pack entry to add.
    Check {
        /// The Markdown runbook.
        file: std::path::PathBuf,
        /// The service of warroom.toml whose packs and params apply.
        #[arg(long)]
        service: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Runner { server, token, catalog, name, state_dir } => {
            warroom::telemetry::init(settings.log_format);
            let catalog = match warroom::diagnostics::Catalog::from_paths(&catalog) {
                Ok(catalog) => catalog,
                Err(problems) => {
                    for p in problems {
                        eprintln!("{p}");
                    }
                    return ExitCode::FAILURE;
                }
            };
            match &state_dir {
                Some(dir) => {
                    if let Err(e) = std::fs::create_dir_all(dir) {
                        eprintln!("--state-dir {}: {e}", dir.display());
                        return ExitCode::FAILURE;
                    }
                }
                None => {
                    warn!("no --state-dir: a result the server has not acknowledged is lost if the runner restarts")
                }
            }
            let runner =
                warroom::diagnostics::runner::Runner::new(&server, warroom::secret::Secret::new(token), catalog)
                    .named(name.clone())
                    .with_path(settings.diagnostics_path.clone())
                    .with_state_dir(state_dir);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            info!("runner {} polling {server}", name.as_deref().unwrap_or("(named by its token)"));
            runner.run(stop_rx).await;
            ExitCode::SUCCESS
        }
        Cmd::CheckConfig => check_config(&settings),
        // No logging: standard output is the report.
        Cmd::Doctor => doctor(&settings).await,
        // No logging: standard output is the report.
        Cmd::Runbook { command: RunbookCmd::Check { file, service } } => runbook_check(&settings, &file, &service),
        // No logging: standard output is the report.
        Cmd::Export { incident, format } => exit_on(export(settings, &incident, &format).await),
        Cmd::Migrate => {
            warroom::telemetry::init(settings.log_format);
            exit_on(migrate_only(settings).await)
        }
        Cmd::Serve => {
            warroom::telemetry::init(settings.log_format);
            exit_on(serve(settings).await)
        }
    }
}

fn exit_on(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(settings: &Settings) -> ExitCode {
    let mut problems: Vec<String> = settings.check_serve().err().map(|e| e.to_string()).into_iter().collect();
    if let Err(e) = Templates::load(settings.file.templates_dir.as_deref()) {
        problems.push(e.to_string());
    }
    // Every pack problem, and the services checked against the packs that did load.
    let (catalog, pack_problems) = warroom::diagnostics::Catalog::load_checked(&settings.file.diagnostics.dirs);
    problems.extend(pack_problems.iter().map(ToString::to_string));
    problems.extend(catalog.check_services(&settings.file.services));
    problems.extend(warroom::runbook::check_config(&settings.file.services));
    if problems.is_empty() {
        let source = settings.config_path.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string());
        println!("configuration OK ({source})");
        ExitCode::SUCCESS
    } else {
        for p in problems {
            eprintln!("{p}");
        }
        ExitCode::FAILURE
    }
}

/// `warroom doctor`: every check on standard output, exit 1 when one failed.
async fn doctor(settings: &Settings) -> ExitCode {
    let report = warroom::doctor::run(settings, clock()).await;
    print!("{report}");
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The system clock, or the file `WARROOM_FAKE_CLOCK_FILE` names (tests only).
fn clock() -> warroom::clock::SharedClock {
    match std::env::var_os("WARROOM_FAKE_CLOCK_FILE") {
        Some(path) => {
            warn!("WARROOM_FAKE_CLOCK_FILE is set: time comes from {} (tests only)", path.to_string_lossy());
            Arc::new(warroom::clock::FileClock(path.into()))
        }
        None => Arc::new(SystemClock),
    }
}

/// `warroom runbook check FILE --service NAME`: exit 0 whatever maps; non-zero only when the
/// file cannot be read or the service is not configured.
fn runbook_check(settings: &Settings, file: &std::path::Path, service: &str) -> ExitCode {
    let Some(config) = settings.file.services.get(service) else {
        let known: Vec<&str> = settings.file.services.keys().map(String::as_str).collect();
        let source = settings.config_path.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string());
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        eprintln!("`{service}` is not a service of {source} (services: {known})");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    // The team's packs too: a runbook line that is a team action maps to it.
    let catalog = match warroom::diagnostics::Catalog::load(&settings.file.diagnostics.dirs) {
        Ok(catalog) => catalog,
        Err(problems) => {
            problems.iter().for_each(|p| eprintln!("{p}"));
            return ExitCode::FAILURE;
        }
    };
    let runbook = warroom::runbook::parse(&text);
    print!("{}", warroom::runbook::report(&file.display().to_string(), &runbook, &catalog, service, config));
    ExitCode::SUCCESS
}

/// The database URL, starting the embedded Postgres when none is configured.
async fn database(settings: &Settings) -> anyhow::Result<(String, Option<db::embedded::Embedded>)> {
    if let Some(url) = &settings.database_url {
        return Ok((url.expose().to_string(), None));
    }
    info!("DATABASE_URL is not set: starting the embedded PostgreSQL under {}", settings.data_dir.display());
    let embedded = db::embedded::start(&settings.data_dir).await?;
    info!("embedded PostgreSQL is up");
    Ok((embedded.url.clone(), Some(embedded)))
}

async fn migrate_only(settings: Settings) -> anyhow::Result<()> {
    let (url, embedded) = database(&settings).await?;
    let pool = db::connect(&url).await?;
    db::migrate(&pool).await?;
    info!("migrations applied");
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(())
}

/// `warroom export INC-42 --format md`: the same bytes as `/incident export` and the API.
async fn export(settings: Settings, incident: &str, format: &str) -> anyhow::Result<()> {
    use warroom::timeline::export::{self, Format, Source};
    let number = warroom::incident::IncidentNumber::parse(incident).map_err(anyhow::Error::msg)?;
    let format = Format::parse(format).map_err(anyhow::Error::msg)?;
    let templates = Templates::load(settings.file.templates_dir.as_deref())?;
    let (url, embedded) = database(&settings).await?;
    let pool = db::connect(&url).await?;
    let result = async {
        let incident = warroom::incident::store::by_number(&pool, number)
            .await?
            .ok_or_else(|| anyhow::anyhow!("there is no incident {number}"))?;
        let statuspage = warroom::statuspage::link(&pool, incident.id).await?;
        let source =
            Source { db: &pool, templates: &templates, config: &settings.file, incident: &incident, statuspage };
        export::write(&source, format, &mut tokio::io::stdout()).await?;
        anyhow::Ok(())
    }
    .await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    result
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Before anything starts: a forgotten SLACK_BOT_TOKEN must not become a silent sandbox.
    settings.check_serve()?;
    // A bad team pack stops the start here, before a database is started for nothing.
    if let Err(problems) = warroom::diagnostics::Catalog::load(&settings.file.diagnostics.dirs) {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::bail!("the diagnostics packs have problems (`warroom check-config` lists them):\n{}", lines.join("\n"));
    }
    if let Some(warning) = settings.runner_tokens.deprecation() {
        warn!("{warning}");
    }
    for (service, runner) in settings.file.services.iter().filter_map(|(n, s)| Some((n, s.runner.as_deref()?))) {
        if runner != "local" && !settings.runner_tokens.names().any(|name| name == runner) {
            warn!("[services.{service}] runner = \"{runner}\" has no token in WARROOM_RUNNER_TOKENS: its diagnostics will wait for a runner that cannot connect");
        }
    }
    let (url, embedded) = database(&settings).await?;
    let pool = db::connect(&url).await?;
    db::migrate(&pool).await?;
    if settings.sandbox_mode() {
        warn!("SLACK_BOT_TOKEN is not set: running against the in-process sandbox workspace");
    }
    if settings.slack_app_token.is_some() {
        info!("SLACK_APP_TOKEN is set: Slack reaches warroom over Socket Mode; /slack/* is not served");
    }
    let clock = clock();
    let app = Application::build(settings, pool, clock, warroom::app::DEFAULT_WORKERS).await?;
    info!("warroom listening on port {}", app.port());
    if app.sandbox().is_some() {
        info!(
            "sandbox: try  curl -s localhost:{}/sandbox/command -H 'content-type: application/json' -d '{{\"text\":\"declare P0 inference-gateway Inference API returns 100% errors\"}}'",
            app.port()
        );
    }
    let sandbox = app.sandbox();
    let stopping = async move {
        shutdown_signal().await;
        // The sandbox page's long-poll would hold up the graceful shutdown for its 25 s.
        if let Some(workspace) = sandbox {
            workspace.release_waiters();
        }
    };
    app.run_until_stopped(stopping).await?;
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
