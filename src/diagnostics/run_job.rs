//! The `diagnostics.run` job: runs an action, records the (redacted, capped) output in the
//! timeline, and queues its post to the incident channel — in one transaction, so a Slack
//! failure retries the post, not the diagnostic. A change runs at most once ([`change`]): its
//! approval is used up before its process starts, and its outcome commits with its final state.

use std::collections::BTreeMap;

use serde_json::json;

use super::{approvals, builtin, catalog, change, exec, net, policy, redact::redact, Kind};
use crate::app::AppState;
use crate::jobs::{kind, queue, JobError};
use crate::templates::escape_mrkdwn;
use crate::timeline::{self, EventKind};

/// Longer output than this is uploaded as a file (the timeline keeps it up to the action's cap).
const POST_CHARS: usize = 2800;

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident_id = job.incident_id.ok_or_else(|| JobError::Fatal("diagnostic without an incident".into()))?;
    let id = job.payload["action"].as_str().unwrap_or_default();
    let params: BTreeMap<String, String> = serde_json::from_value(job.payload["params"].clone()).unwrap_or_default();
    // Bound by the incident's service again at the last moment: its packs, its targets.
    let service = crate::incident::store::get(&state.db, incident_id).await?.map(|i| i.service).unwrap_or_default();
    let config = state.settings.file.services.get(&service);
    let (action, params) = policy::bind(&state.catalog, &service, config, id, &params).map_err(|refusal| {
        state.metrics.diagnostic("refused");
        JobError::Fatal(refusal)
    })?;
    let by = job.payload["by"].as_str().unwrap_or("warroom");
    let argv = action.render(&params);
    // Checked when requested; checked again when it is used up, the last moment before
    // anything runs: a change runs only for an approved request bound to this exact command.
    let approval = job.payload["approval"].as_str().and_then(|v| uuid::Uuid::parse_str(v).ok());
    let approval = approval.filter(|_| action.kind == Kind::Change).map(|a| (a, approvals::action_hash(id, &argv)));
    if action.kind == Kind::Change && approval.is_none() {
        state.metrics.diagnostic("refused");
        return Err(JobError::Fatal(format!("`{id}` is a change and has no approval for this exact command")));
    }

    // A service that lives elsewhere has its diagnostics run by its own runner.
    let runner = config.and_then(|s| s.runner.clone()).filter(|r| r != "local");
    if let Some(runner) = runner {
        let handed = super::runner_tasks::hand_over(state, incident_id, &runner, action, &params, by, approval).await;
        return counted(state, handed);
    }
    let ran = |outcome| Ran {
        incident_id,
        action,
        params: &params,
        by,
        outcome,
        slot: format!("diag:{}", job.id),
        late: false,
    };
    let Some((approval, hash)) = approval else {
        // Read-only: a retry after a failure may run it again.
        let outcome = execute_on(&*state.network, action, &params, state.settings.diagnostics_path.clone()).await;
        return record(state, &ran(&outcome)).await;
    };
    // A change: used up in a committed transaction before its process starts, so that no retry,
    // restart or replica starts it again.
    let mut tx = state.db.begin().await?;
    let at = change::Where::Here { timeout: action.timeout };
    let begun = counted(state, change::begin(&mut tx, state.clock.now(), approval, &hash, at).await)?;
    tx.commit().await?;
    crate::jobs::wake(state);
    let request = match begun {
        change::Begin::Go(request) => request,
        change::Begin::Unknown => {
            state.metrics.diagnostic("outcome_unknown");
            return Ok(());
        }
        change::Begin::Nothing(why) => {
            tracing::info!(request = %approval, "change `{id}` not started: {why}");
            return Ok(());
        }
    };
    let outcome = execute_on(&*state.network, action, &params, state.settings.diagnostics_path.clone()).await;
    change::finish(state, &request, ran(&outcome)).await
}

/// Counts a refusal (a change without a valid approval) as one.
fn counted<T>(state: &AppState, result: Result<T, JobError>) -> Result<T, JobError> {
    if let Err(JobError::Fatal(_)) = &result {
        state.metrics.diagnostic("refused");
    }
    result
}

/// Runs `action` here: its program (argv, cleared env, time limit) or its built-in check; the
/// action's filter keeps only the lines that matter.
pub async fn execute(action: &super::Action, params: &BTreeMap<String, String>, path: Option<String>) -> exec::Outcome {
    execute_on(&net::SystemNetwork, action, params, path).await
}

/// [`execute`], with the built-in checks reaching their targets through `network`.
pub async fn execute_on(
    network: &dyn net::Network,
    action: &super::Action,
    params: &BTreeMap<String, String>,
    path: Option<String>,
) -> exec::Outcome {
    let mut outcome = run_raw(network, action, params, path).await;
    if let Some(filter) = &action.filter {
        let kept: Vec<&str> = outcome.stdout.lines().filter(|l| filter.is_match(l)).collect();
        outcome.stdout = if kept.is_empty() { "(no matching lines)\n".into() } else { kept.join("\n") + "\n" };
    }
    outcome
}

async fn run_raw(
    network: &dyn net::Network,
    action: &super::Action,
    params: &BTreeMap<String, String>,
    path: Option<String>,
) -> exec::Outcome {
    let argv = action.render(params);
    match &action.builtin {
        Some(name) => builtin::run_on(network, name, params, action.timeout).await,
        None => {
            let invocation = exec::Invocation { argv, timeout: action.timeout, output_cap: action.output_cap, path };
            exec::run(&invocation).await.unwrap_or_else(|e| exec::Outcome {
                exit_code: None,
                timed_out: false,
                duration: Default::default(),
                stdout: String::new(),
                stderr: e.to_string(),
                truncated: false,
            })
        }
    }
}

/// A finished run, to record.
#[derive(Debug, Clone)]
pub struct Ran<'a> {
    pub incident_id: uuid::Uuid,
    pub action: &'a super::Action,
    pub params: &'a BTreeMap<String, String>,
    pub by: &'a str,
    pub outcome: &'a exec::Outcome,
    /// Keys the posts: recording twice posts once.
    pub slot: String,
    /// It arrived after the channel was told its outcome is unknown.
    pub late: bool,
}

/// One line on how it ended: "exit 0 in 812 ms".
pub fn verdict(action: &super::Action, outcome: &exec::Outcome) -> String {
    match (outcome.timed_out, outcome.exit_code) {
        (true, _) => format!("timed out after {}s and was killed", action.timeout.as_secs()),
        (false, Some(code)) => format!("exit {code} in {} ms", outcome.duration.as_millis()),
        (false, None) => "killed by a signal".to_string(),
    }
}

/// Records a finished run (redacted) in the timeline and queues its post (and file), in one
/// transaction.
pub async fn record(state: &AppState, ran: &Ran<'_>) -> Result<(), JobError> {
    let mut tx = state.db.begin().await?;
    record_in(&mut tx, state, ran).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// [`record`] in `tx`, with whatever else must commit with it (a change's final state, a
/// runner task's).
pub async fn record_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    state: &AppState,
    ran: &Ran<'_>,
) -> sqlx::Result<()> {
    let Ran { incident_id, action, params, by, outcome, slot, late } = ran;
    let (incident_id, slot) = (*incident_id, slot.as_str());
    let id = action.id.as_str();
    let argv = action.render(params);
    let (stdout, stderr) = (redact(&outcome.stdout), redact(&outcome.stderr));
    let explained = match action.explain.as_deref() {
        Some("exit_code") => catalog::explain_exit_code(&stdout).map(|m| format!("{} — {m}", stdout.trim())),
        _ => None,
    };
    state.metrics.diagnostic(match (outcome.timed_out, outcome.exit_code) {
        (true, _) => "timed_out",
        (false, Some(0)) => "success",
        (false, Some(_)) => "failure",
        (false, None) => "killed",
    });
    let verdict = verdict(action, outcome);
    let command = action.builtin.as_ref().map_or_else(|| argv.join(" "), |b| format!("built-in {b} {params:?}"));
    let mut output = explained.unwrap_or_else(|| [stdout.as_str(), stderr.as_str()].concat());
    if output.trim().is_empty() {
        output = "(no output)".into();
    }
    let long = output.chars().count() > POST_CHARS;
    let capped = if outcome.truncated { "\n_(output beyond the action's cap was dropped)_" } else { "" };
    let late = if *late { "\n_This outcome arrived after it was posted as unknown._" } else { "" };
    let head = format!(
        "🔎 *{id}* — {} · asked by <@{by}> · {verdict}\n`{}`",
        escape_mrkdwn(&action.title),
        escape_mrkdwn(&command)
    );
    let text = if long {
        format!("{head}\n_The output is long: it follows as a file._{capped}{late}")
    } else {
        format!("{head}\n```{}```{capped}{late}", escape_mrkdwn(&output))
    };

    let now = state.clock.now();
    let payload = json!({
        "action": id, "argv": argv, "params": params, "exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
        "duration_ms": outcome.duration.as_millis() as u64, "stdout": stdout, "stderr": stderr, "truncated": outcome.truncated,
    });
    timeline::append(&mut **tx, incident_id, now, by, EventKind::DiagnosticFinished, payload).await?;
    // A run asked from the runbook checklist ticks its step, with how it ended.
    let ok = outcome.exit_code == Some(0) && !outcome.timed_out;
    crate::checklist::runs::finished(tx, now, incident_id, id, &argv, by, ok).await?;
    let post = json!({ "text": text, "to": "channel", "what": "diagnostic" });
    queue::enqueue(&mut **tx, Some(incident_id), kind::POST, slot, post, now).await?;
    if long {
        let file = json!({ "filename": format!("{id}.txt"), "title": format!("{id} output"), "content": output });
        queue::enqueue(&mut **tx, Some(incident_id), kind::UPLOAD, slot, file, now).await?;
    }
    Ok(())
}
