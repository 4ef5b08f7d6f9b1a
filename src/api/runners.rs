//! `/api/v1/runners/poll` and `/api/v1/runners/results`, for remote runners. The runner is who
//! its token says ([`RunnerName`], checked before the body is read, let alone parsed); a body
//! that names another runner is refused, and a runner sees and reports only its own tasks. A
//! result is acknowledged (200) once recorded, now or by an earlier POST of it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::diagnostics::runner_results::{self, Recorded};
use crate::diagnostics::runner_tasks::{self, TaskResult};

/// The longest a poll waits for a task.
const MAX_WAIT: u64 = 25;
/// A result carries two outputs of up to 1 MiB each (the largest `output_cap`), JSON-escaped.
const MAX_RESULT: usize = 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runners/poll", post(poll))
        .route("/api/v1/runners/results", post(results))
        .layer(DefaultBodyLimit::max(MAX_RESULT))
}

/// A refusal: its status, and `{"error": ...}` saying why.
pub struct Refusal(StatusCode, String);

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The runner a request comes from, by its bearer token (constant time against every runner's).
/// An extractor of the request's head: axum reads the body only after it succeeded.
pub struct RunnerName(pub String);

impl FromRequestParts<AppState> for RunnerName {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let tokens = &state.settings.runner_tokens;
        if tokens.is_empty() {
            return Err(refuse(StatusCode::NOT_FOUND, "remote runners are off: set WARROOM_RUNNER_TOKENS"));
        }
        let given = super::bearer(&parts.headers);
        match given.and_then(|token| tokens.identify(token)) {
            Some(name) => Ok(RunnerName(name.to_string())),
            None => {
                // Never the token itself, right or wrong.
                let why = if given.is_some() { "a token no runner has" } else { "no bearer token" };
                tracing::warn!(path = %parts.uri.path(), "refused a runner request with {why}");
                Err(refuse(StatusCode::UNAUTHORIZED, "missing or wrong runner token"))
            }
        }
    }
}

/// The body as `T` (an empty body as `T`'s defaults), and the name it gives, if any, must be
/// the token's.
fn parse<T: DeserializeOwned>(runner: &str, body: &[u8], name: impl Fn(&T) -> Option<&str>) -> Result<T, Refusal> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    let parsed: T = serde_json::from_slice(body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the body is not what this endpoint takes: {e}")))?;
    match name(&parsed) {
        Some(claimed) if claimed != runner => {
            tracing::warn!(runner, "runner `{runner}` sent a request naming another runner; refused");
            Err(refuse(StatusCode::FORBIDDEN, format!("this token is runner `{runner}`'s; the request names another")))
        }
        _ => Ok(parsed),
    }
}

#[derive(Deserialize)]
struct PollRequest {
    /// Old runners send their `--name`; it must be the token's.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    wait_secs: u64,
}

/// A runner asks for work: heartbeat, then its oldest task, waiting up to `wait_secs`.
async fn poll(State(state): State<AppState>, RunnerName(runner): RunnerName, body: Bytes) -> Response {
    let req = match parse::<PollRequest>(&runner, &body, |r| r.name.as_deref()) {
        Ok(req) => req,
        Err(refused) => return refused.into_response(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(req.wait_secs.min(MAX_WAIT));
    loop {
        // Registered before looking, so a task queued in between still wakes this poll.
        let queued = state.runner_tasks_ready.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        match runner_tasks::claim(&state, &runner).await {
            Ok(Some(task)) => return Json(task).into_response(),
            Ok(None) if tokio::time::Instant::now() >= deadline => return StatusCode::NO_CONTENT.into_response(),
            // Woken at once for a task queued by this process; a replica's shows up within 250 ms.
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_millis(250), queued).await;
            }
            Err(e) => {
                tracing::warn!("runner poll failed on the database: {e}");
                return refuse(StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    }
}

async fn results(State(state): State<AppState>, RunnerName(runner): RunnerName, body: Bytes) -> Response {
    let result = match parse::<TaskResult>(&runner, &body, |r| r.name.as_deref()) {
        Ok(result) => result,
        Err(refused) => return refused.into_response(),
    };
    // Acknowledged once it is recorded, now or before: the runner may then forget it.
    match runner_results::record(&state, &runner, &result).await {
        Ok(Recorded::Recorded) => Json(json!({ "recorded": true })).into_response(),
        Ok(Recorded::Already) => Json(json!({ "recorded": false, "already": true })).into_response(),
        Ok(Recorded::NotInHand) => {
            refuse(StatusCode::CONFLICT, format!("runner `{runner}` has no such task in hand")).into_response()
        }
        Err(e) => {
            tracing::warn!("recording runner {runner}'s result failed: {e}");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}
