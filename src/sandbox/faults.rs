//! Failures the sandbox Slack injects on purpose: the next N calls of a method, or every call
//! of a method (or of every method, `"*"`) during a window of the workspace clock. Some stop the
//! call (429, an error code, an outage's 5xx); others carry it out and then lose the answer
//! (a 500, no answer until the client gives up, the connection dropped), as real Slack does.
//! Every call is logged with its time and status, so tests can check `Retry-After` was kept.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::web_api::{After, Answer};
use super::{State, Workspace};

/// A failure to inject into calls of a method.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After`; not carried out.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `ok: false` and this error code; not carried out.
    Error(String),
    /// This HTTP status (an outage's 503); not carried out.
    Status(u16),
    /// Carried out, then answered with this HTTP status (500) instead of Slack's answer.
    DeliveredThenStatus(u16),
    /// Carried out, then not answered until long after any client timeout.
    DeliveredThenTimeout,
    /// Carried out, then the connection is dropped midway through the answer.
    DeliveredThenReset,
}

#[derive(Debug)]
pub(super) struct InjectedFault {
    method: String,
    fault: Fault,
    /// Calls left (count faults), or the window `[from, until)` (window faults).
    remaining: u32,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// One Web API call as the sandbox answered it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub method: String,
    /// The `channel` argument, when there was one.
    pub channel: Option<String>,
    pub at: DateTime<Utc>,
    pub status: u16,
    /// `Retry-After` of a 429.
    pub retry_after: Option<u64>,
    /// Slack's `error` code, when the call was refused (`invalid_blocks`, `msg_too_long`...).
    pub error: Option<String>,
    /// Slack's `errors`: why blocks were refused.
    pub errors: Vec<String>,
}

/// The fault that applies to this call of `method` at `now`, if any (a count fault is used up).
pub(super) fn take(s: &mut State, method: &str, now: DateTime<Utc>) -> Option<Fault> {
    let matches = |f: &InjectedFault| f.method == method || f.method == "*";
    let pos = s.faults.iter().position(|f| {
        matches(f)
            && match f.window {
                Some((from, until)) => from <= now && now < until,
                None => f.remaining > 0,
            }
    })?;
    let fault = &mut s.faults[pos];
    if fault.window.is_none() {
        fault.remaining -= 1;
    }
    Some(fault.fault.clone())
}

/// The answer of a fault that stops the call, or `None` for one that lets it be carried out.
pub(super) fn refusal(fault: &Fault) -> Option<Answer> {
    let answer = |status, retry_after, error: &str| Answer {
        status,
        retry_after,
        body: json!({ "ok": false, "error": error }),
        after: After::Answer,
    };
    match fault {
        Fault::RateLimited { retry_after_secs } => Some(answer(429, Some(*retry_after_secs), "ratelimited")),
        Fault::Error(code) => Some(answer(200, None, code)),
        Fault::Status(status) => Some(answer(*status, None, "service_unavailable")),
        Fault::DeliveredThenStatus(_) | Fault::DeliveredThenTimeout | Fault::DeliveredThenReset => None,
    }
}

/// What becomes of the answer of a call carried out under `fault`.
pub(super) fn spoil(fault: Option<&Fault>, answer: Answer) -> Answer {
    match fault {
        Some(Fault::DeliveredThenStatus(status)) => Answer {
            status: *status,
            retry_after: None,
            body: json!({ "ok": false, "error": "internal_error" }),
            after: After::Answer,
        },
        Some(Fault::DeliveredThenTimeout) => Answer { after: After::Hang, ..answer },
        Some(Fault::DeliveredThenReset) => Answer { after: After::Reset, ..answer },
        _ => answer,
    }
}

pub(super) fn log(s: &mut State, method: &str, params: &serde_json::Value, now: DateTime<Utc>, answer: &Answer) {
    s.log.push(CallRecord {
        method: method.into(),
        channel: params["channel"].as_str().map(str::to_string),
        at: now,
        status: answer.status,
        retry_after: answer.retry_after,
        error: answer.body["error"].as_str().map(str::to_string),
        errors: answer.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect(),
    });
}

impl Workspace {
    /// Makes the next `times` calls of `method` fail with `fault`.
    pub fn inject(&self, method: &str, fault: Fault, times: u32) {
        self.with(|s| s.faults.push(InjectedFault { method: method.into(), fault, remaining: times, window: None }));
    }

    /// Makes every call of `method` (`"*"`: of every method) from `from` until `until` (the
    /// workspace clock) fail with `fault`.
    pub fn inject_window(&self, method: &str, fault: Fault, from: DateTime<Utc>, until: DateTime<Utc>) {
        let window = Some((from, until));
        self.with(|s| s.faults.push(InjectedFault { method: method.into(), fault, remaining: 0, window }));
    }

    /// Every Web API call so far, in order, with its time and status.
    pub fn call_log(&self) -> Vec<CallRecord> {
        self.read(|s| s.log.clone())
    }
}
