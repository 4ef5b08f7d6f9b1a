//! The embedded default: with no `DATABASE_URL`, a private PostgreSQL under `WARROOM_DATA_DIR`,
//! run from the machine's own PostgreSQL binaries (`initdb`, `pg_ctl`). Nothing is downloaded.
//! PostgreSQL refuses to run as root: as root, it runs as the system user `postgres` (which
//! Debian's packages create) when there is one, and otherwise says so and how to use
//! `DATABASE_URL` instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

const HOW_TO: &str = "set DATABASE_URL to a Postgres you run, e.g. \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres";

/// A running private Postgres; stopped with [`Embedded::stop`].
#[derive(Debug)]
pub struct Embedded {
    bin: PathBuf,
    run_as: Option<String>,
    pgdata: PathBuf,
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("warroom cannot start its embedded PostgreSQL: it is running as root, PostgreSQL refuses to run as root, and there is no `postgres` system user to run it as; {HOW_TO}")]
    Root,
    #[error("warroom cannot start its embedded PostgreSQL: no PostgreSQL binaries found (looked for pg_ctl in /usr/lib/postgresql/*/bin and on PATH) and it does not download them; install PostgreSQL or {HOW_TO}")]
    NoBinaries,
    #[error("warroom cannot start its embedded PostgreSQL: {0}; {HOW_TO}")]
    Failed(String),
}

/// Starts (initialising on first use) the private Postgres under `data_dir`.
pub async fn start(data_dir: &Path) -> Result<Embedded, EmbeddedError> {
    let run_as = match running_as_root() {
        false => None,
        true => Some(system_user("postgres").ok_or(EmbeddedError::Root)?),
    };
    let bin = find_binaries().ok_or(EmbeddedError::NoBinaries)?;
    let fail = |what: &str, e: &dyn std::fmt::Display| EmbeddedError::Failed(format!("{what}: {e}"));
    std::fs::create_dir_all(data_dir).map_err(|e| fail("creating the data directory", &e))?;
    let data_dir = data_dir.canonicalize().map_err(|e| fail("resolving the data directory", &e))?;
    let pgdata = data_dir.join("postgres");
    std::fs::create_dir_all(&pgdata).map_err(|e| fail("creating the database directory", &e))?;
    if let Some((_, uid, gid)) = &run_as {
        tracing::info!("running as root: the embedded PostgreSQL runs as the system user `postgres`");
        std::os::unix::fs::chown(&pgdata, Some(*uid), Some(*gid))
            .map_err(|e| fail("handing the database directory to postgres", &e))?;
    }
    let run_as = run_as.map(|(name, _, _)| name);
    if !pgdata.join("PG_VERSION").exists() {
        let args = ["-D", &pgdata.to_string_lossy(), "-U", "warroom", "--auth=trust", "-E", "UTF8"];
        run(run_as.as_deref(), &bin.join("initdb"), &args).await.map_err(|e| fail("initdb", &e))?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| fail("finding a free port", &e))?
        .port();
    // The socket and log live in the database directory, which the server's user owns.
    let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", pgdata.display());
    let log = pgdata.join("server.log");
    run(
        run_as.as_deref(),
        &bin.join("pg_ctl"),
        &["-D", &pgdata.to_string_lossy(), "-l", &log.to_string_lossy(), "-o", &options, "-w", "start"],
    )
    .await
    .map_err(|e| fail("pg_ctl start", &e))?;
    Ok(Embedded { bin, run_as, pgdata, url: format!("postgres://warroom@127.0.0.1:{port}/postgres") })
}

impl Embedded {
    pub async fn stop(&self) {
        let pgdata = self.pgdata.to_string_lossy();
        if let Err(e) =
            run(self.run_as.as_deref(), &self.bin.join("pg_ctl"), &["-D", &pgdata, "-m", "fast", "-w", "stop"]).await
        {
            tracing::warn!("stopping the embedded PostgreSQL failed: {e}");
        }
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// (name, uid, gid) of a system user, from /etc/passwd.
fn system_user(name: &str) -> Option<(String, u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == name)
            .then(|| Some((name.to_string(), fields[2].parse().ok()?, fields[3].parse().ok()?)))?
    })
}

fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|p| p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    versions.pop().or_else(|| {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
    })
}

/// Runs `program`, as `user` (through `runuser`) when given.
async fn run(user: Option<&str>, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    };
    let output =
        command.args(args).stdin(Stdio::null()).output().await.map_err(|e| format!("{}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} exited with {}: {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
