//! `warroom runner`: runs on the host where a service lives. It long-polls the server for
//! tasks, and executes only actions present in its own catalog file with parameters that pass
//! its own patterns — whatever the server asks. It renders the command from its own catalog and
//! runs it only when that hashes to the task's SHA-256 (what the server rendered, for a change
//! what the approvers approved); otherwise it refuses with "catalog mismatch". Then it reports
//! the (redacted) outcome. The server knows it by its token; `--name` is only checked.
//!
//! A result is kept until the server acknowledges it: written to `--state-dir` before it is
//! first posted, posted again with bounded backoff while the server fails or cannot be reached,
//! and removed once acknowledged. A runner restarted with the same `--state-dir` sends what it
//! kept before it asks for new work. The server records a result once, however often it comes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::catalog::Catalog;
use super::redact::redact;
use super::runner_tasks::{task_hash, TaskResult};
use crate::secret::Secret;

/// A remote runner.
pub struct Runner {
    http: reqwest::Client,
    server: String,
    token: Secret,
    /// The name it was started with: sent so the server can refuse a token of another runner.
    name: Option<String>,
    catalog: Catalog,
    /// PATH the diagnostics find their programs on (default: the runner's own).
    path: Option<String>,
    /// Where results wait until the server acknowledged them (`--state-dir`).
    state_dir: Option<PathBuf>,
    /// The first pause between tries to post a result, and the longest.
    retry: (Duration, Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the server at {0} is unreachable: {1}")]
    Unreachable(String, String),
    #[error("the server refused the runner: HTTP {0} {1}")]
    Refused(u16, String),
    #[error("stopped before the server acknowledged the result of task {0}")]
    Stopped(uuid::Uuid),
}

/// A task as the server sends it.
#[derive(Deserialize)]
struct Task {
    id: uuid::Uuid,
    action: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    /// The SHA-256 the runner's own rendering must match.
    hash: Option<String>,
}

impl Runner {
    pub fn new(server: &str, token: Secret, catalog: Catalog) -> Self {
        let http = crate::tls::http_client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|_| crate::tls::http_client());
        Self {
            http,
            server: server.trim_end_matches('/').to_string(),
            token,
            name: None,
            catalog,
            path: None,
            state_dir: None,
            retry: (Duration::from_secs(1), Duration::from_secs(30)),
        }
    }

    /// The name this runner expects its token to have (`--name`): the server refuses a mismatch.
    pub fn named(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }

    /// Finds programs on `path` instead of the runner's PATH (`WARROOM_DIAGNOSTICS_PATH`).
    pub fn with_path(mut self, path: Option<String>) -> Self {
        self.path = path;
        self
    }

    /// Keeps unacknowledged results in `dir` (which must exist), so that they survive a restart.
    pub fn with_state_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.state_dir = dir;
        self
    }

    /// Pauses `first`, doubling up to `longest`, between tries to post a result (default 1 s to 30 s).
    pub fn with_retry(mut self, first: Duration, longest: Duration) -> Self {
        self.retry = (first, longest);
        self
    }

    /// One round: send the results a previous round (or run) kept, ask for a task (waiting up
    /// to `wait_secs`), run or refuse it, report it until acknowledged. Returns whether there
    /// was a task.
    pub async fn step(&self, wait_secs: u64) -> Result<bool, RunnerError> {
        let (_never, mut stop) = tokio::sync::watch::channel(false);
        self.step_until(wait_secs, &mut stop).await
    }

    async fn step_until(
        &self,
        wait_secs: u64,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<bool, RunnerError> {
        self.deliver_kept(stop).await?;
        let body = match &self.name {
            Some(name) => json!({ "name": name, "wait_secs": wait_secs }),
            None => json!({ "wait_secs": wait_secs }),
        };
        let task = self.post("/api/v1/runners/poll", &body).await?;
        let Some(task) = task else { return Ok(false) };
        let result = self.handle(&task).await;
        // Kept before it is first sent: a runner killed now sends it after its restart.
        if let Err(e) = self.keep(&result) {
            tracing::warn!("runner: cannot keep the result of task {} in the state directory: {e}", result.task);
        }
        self.deliver(&result, stop).await?;
        Ok(true)
    }

    /// Polls until `stop`, backing off while the server is unreachable. Results kept by an
    /// earlier run are sent first.
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let pause = match self.step_until(20, &mut stop).await {
                Ok(_) => Duration::ZERO,
                Err(RunnerError::Stopped(_)) => return,
                Err(e) => {
                    tracing::warn!("runner {}: {e}", self.name.as_deref().unwrap_or("(unnamed)"));
                    Duration::from_secs(5)
                }
            };
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The file a task's unacknowledged result is kept in.
    fn kept_path(&self, task: uuid::Uuid) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|dir| dir.join(format!("result-{task}.json")))
    }

    /// Writes the result to the state directory, whole or not at all (written aside, synced,
    /// renamed).
    fn keep(&self, result: &TaskResult) -> std::io::Result<()> {
        let Some(path) = self.kept_path(result.task) else { return Ok(()) };
        let aside = path.with_extension("json.partial");
        let mut file = std::fs::File::create(&aside)?;
        std::io::Write::write_all(&mut file, &serde_json::to_vec(result).unwrap_or_default())?;
        file.sync_all()?;
        std::fs::rename(&aside, &path)?;
        if let Some(dir) = &self.state_dir {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Sends every result kept in the state directory, oldest first.
    async fn deliver_kept(&self, stop: &mut tokio::sync::watch::Receiver<bool>) -> Result<(), RunnerError> {
        let Some(dir) = &self.state_dir else { return Ok(()) };
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        let mut kept: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("result-") && n.ends_with(".json"))
            })
            .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), p))
            .collect();
        kept.sort();
        for (_, path) in kept {
            let parsed = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<TaskResult>(&bytes).ok());
            match parsed {
                Some(result) => self.deliver(&result, stop).await?,
                None => {
                    // Never sendable: set aside (not deleted: a person may look at it).
                    tracing::warn!("runner: {} is not a result; renamed to .unreadable", path.display());
                    let _ = std::fs::rename(&path, path.with_extension("unreadable"));
                }
            }
        }
        Ok(())
    }

    /// Posts `result` until the server acknowledges it (or says it never will), pausing with
    /// bounded backoff between tries; then forgets it.
    async fn deliver(
        &self,
        result: &TaskResult,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), RunnerError> {
        let body = serde_json::to_value(result).unwrap_or_default();
        let mut pause = self.retry.0;
        loop {
            match self.post("/api/v1/runners/results", &body).await {
                Ok(_) => break,
                // An answer that will not change (not this runner's task, a body it cannot take).
                Err(RunnerError::Refused(status @ (400 | 409 | 413 | 422), why)) => {
                    tracing::warn!(
                        "runner: the server will not take the result of task {}: HTTP {status} {why}",
                        result.task
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        "runner: the result of task {} is not delivered yet, trying again in {} ms: {e}",
                        result.task,
                        pause.as_millis()
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => return Err(RunnerError::Stopped(result.task)),
                    }
                    pause = (pause * 2).min(self.retry.1);
                }
            }
        }
        if let Some(path) = self.kept_path(result.task) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    async fn handle(&self, task: &Value) -> TaskResult {
        let refused = |id: uuid::Uuid, reason: String| TaskResult {
            name: self.name.clone(),
            task: id,
            refused: Some(reason),
            exit_code: None,
            timed_out: false,
            duration_ms: 0,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
        };
        let task: Task = match serde_json::from_value(task.clone()) {
            Ok(task) => task,
            Err(e) => {
                let id = task["id"].as_str().and_then(|v| uuid::Uuid::parse_str(v).ok()).unwrap_or_default();
                return refused(id, format!("the task is malformed ({e})"));
            }
        };
        let Some(action) = self.catalog.get(&task.action) else {
            return refused(task.id, format!("`{}` is not in this runner's catalog", task.action));
        };
        let params = match action.resolve_params(&BTreeMap::new(), &task.params) {
            Ok(params) => params,
            Err(e) => return refused(task.id, e),
        };
        // What runs is this catalog's rendering: it must be the command the server bound the task to.
        let here = task_hash(action, &params);
        if task.hash.as_deref() != Some(here.as_str()) {
            let command = match &action.builtin {
                Some(builtin) => format!("built-in {builtin} {params:?}"),
                None => action.render(&params).join(" "),
            };
            let expected: String = task.hash.as_deref().unwrap_or("none").chars().take(12).collect();
            return refused(
                task.id,
                format!(
                    "catalog mismatch: this runner's catalog renders `{}` as `{command}` (sha256 {}…), not the \
                     command the server bound the task to (sha256 {expected}…); nothing ran",
                    task.action,
                    &here[..12]
                ),
            );
        }
        let outcome = super::run_job::execute(action, &params, self.path.clone()).await;
        TaskResult {
            name: self.name.clone(),
            task: task.id,
            refused: None,
            exit_code: outcome.exit_code,
            timed_out: outcome.timed_out,
            duration_ms: outcome.duration.as_millis() as u64,
            stdout: redact(&outcome.stdout),
            stderr: redact(&outcome.stderr),
            truncated: outcome.truncated,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Option<Value>, RunnerError> {
        let response = self
            .http
            .post(format!("{}{path}", self.server))
            .bearer_auth(self.token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| RunnerError::Unreachable(self.server.clone(), e.to_string()))?;
        match response.status().as_u16() {
            204 => Ok(None),
            200 => Ok(response.json().await.ok()),
            status => Err(RunnerError::Refused(status, response.text().await.unwrap_or_default())),
        }
    }
}
