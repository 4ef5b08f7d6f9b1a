//! Running one diagnostic: an argument vector, never a shell; the environment cleared but for
//! an allowlist; a time limit after which the whole process group is killed; output capped.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// The variables a diagnostic may see; everything else (tokens included) is cleared.
const ENV_ALLOW: [&str; 4] = ["PATH", "LANG", "LC_ALL", "TZ"];

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub argv: Vec<String>,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each.
    pub output_cap: usize,
    /// PATH for finding the program (default: warroom's own).
    pub path: Option<String>,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code; `None` when killed by a signal (or by us at the time limit).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the cap was dropped.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("nothing to run")]
    Empty,
    #[error("cannot start `{program}`: {source}")]
    Spawn { program: String, source: std::io::Error },
}

pub async fn run(invocation: &Invocation) -> Result<Outcome, ExecError> {
    let (program, args) = invocation.argv.split_first().ok_or(ExecError::Empty)?;
    let mut command = Command::new(program);
    command.args(args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for key in ENV_ALLOW {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    if let Some(path) = &invocation.path {
        command.env("PATH", path);
    }
    // Its own process group, so the time limit kills what it started too.
    command.process_group(0).kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| ExecError::Spawn { program: program.clone(), source })?;
    let pid = child.id();
    let stdout = tokio::spawn(read_capped(child.stdout.take(), invocation.output_cap));
    let stderr = tokio::spawn(read_capped(child.stderr.take(), invocation.output_cap));
    let (status, timed_out) = match tokio::time::timeout(invocation.timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            (child.wait().await.ok(), true)
        }
    };
    let duration = started.elapsed();
    let (stdout, out_cut) = stdout.await.unwrap_or_default();
    let (stderr, err_cut) = stderr.await.unwrap_or_default();
    Ok(Outcome {
        exit_code: status.and_then(|s| s.code()),
        timed_out,
        duration,
        stdout,
        stderr,
        truncated: out_cut || err_cut,
    })
}

/// SIGKILL to the whole process group (the diagnostic and anything it spawned).
fn kill_group(pid: u32) {
    // SAFETY: killpg only sends a signal; a stale group id at worst fails with ESRCH.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Reads a stream to its end, keeping the first `cap` bytes (so a flooding process never
/// blocks on a full pipe); returns the text and whether anything was dropped.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> (String, bool) {
    let Some(mut stream) = stream else { return (String::new(), false) };
    let mut kept = Vec::new();
    let mut dropped = false;
    let mut buf = [0u8; 8192];
    // Bounded: a group killed at the time limit closes its pipes.
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        dropped |= n > room;
    }
    (String::from_utf8_lossy(&kept).into_owned(), dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(argv: &[&str], timeout_ms: u64, cap: usize) -> Invocation {
        Invocation {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(timeout_ms),
            output_cap: cap,
            path: None,
        }
    }

    #[tokio::test]
    async fn runs_an_argument_vector_and_reports_its_exit_code() {
        let out = run(&invocation(&["sh", "-c", "echo out; echo err >&2; exit 3"], 5000, 1024)).await.unwrap();
        assert_eq!((out.exit_code, out.timed_out, out.truncated), (Some(3), false, false));
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", "err\n"));
    }

    #[tokio::test]
    async fn a_parameter_is_an_inert_string_not_shell() {
        let out = run(&invocation(&["echo", "x; touch /tmp/warroom-pwned"], 5000, 1024)).await.unwrap();
        assert_eq!(out.stdout, "x; touch /tmp/warroom-pwned\n");
        assert!(!std::path::Path::new("/tmp/warroom-pwned").exists());
    }

    #[tokio::test]
    async fn the_environment_is_cleared_but_for_the_allowlist() {
        let out = run(&invocation(&["env"], 5000, 65536)).await.unwrap();
        let names: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
        assert!(names.iter().all(|n| ENV_ALLOW.contains(n)), "{names:?}");
        assert!(names.contains(&"PATH"));
    }

    #[tokio::test]
    async fn a_process_that_ignores_sigterm_and_floods_output_is_killed_and_capped() {
        let flood = "trap '' TERM; (yes flood &); yes flood";
        let out = run(&invocation(&["sh", "-c", flood], 300, 4096)).await.unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code, None);
        assert_eq!(out.stdout.len(), 4096);
        assert!(out.truncated);
    }

    #[tokio::test]
    async fn a_missing_program_is_a_clear_error() {
        let err = run(&invocation(&["no-such-program-here"], 1000, 10)).await.unwrap_err();
        assert!(err.to_string().contains("cannot start `no-such-program-here`"));
    }
}
