//! `warroom runner`: runs on the host where a service lives. It long-polls the server for
//! tasks, and executes only actions present in its own catalog file with parameters that pass
//! its own patterns — whatever the server asks. It renders the command from its own catalog and
//! runs it only when that hashes to the task's SHA-256 (what the server rendered, for a change
//! what the approvers approved); otherwise it refuses with "catalog mismatch". Then it reports
//! the (redacted) outcome. The server knows it by its token; `--name` is only checked.

use std::collections::BTreeMap;
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
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the server at {0} is unreachable: {1}")]
    Unreachable(String, String),
    #[error("the server refused the runner: HTTP {0} {1}")]
    Refused(u16, String),
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
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap_or_default();
        Self { http, server: server.trim_end_matches('/').to_string(), token, name: None, catalog, path: None }
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

    /// One round: ask for a task (waiting up to `wait_secs`), run or refuse it, report.
    /// Returns whether there was a task.
    pub async fn step(&self, wait_secs: u64) -> Result<bool, RunnerError> {
        let body = match &self.name {
            Some(name) => json!({ "name": name, "wait_secs": wait_secs }),
            None => json!({ "wait_secs": wait_secs }),
        };
        let task = self.post("/api/v1/runners/poll", &body).await?;
        let Some(task) = task else { return Ok(false) };
        let result = self.handle(&task).await;
        self.post("/api/v1/runners/results", &serde_json::to_value(&result).unwrap_or_default()).await?;
        Ok(true)
    }

    /// Polls until `stop`, backing off while the server is unreachable.
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let pause = match self.step(20).await {
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!("runner {}: {e}", self.name.as_deref().unwrap_or("(unnamed)"));
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
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
