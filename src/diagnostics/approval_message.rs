//! The approval message in the incident channel: who asks, the exact command, how many approvals
//! it needs and until when, with Approve and Deny buttons behind confirm dialogs — re-rendered
//! as votes come in, and at every step after: approved, running, done or failed, outcome
//! unknown, cancelled, denied or expired.

use slack_morphism::blocks::SlackBlock;
use uuid::Uuid;

use super::approvals::{self, Request, ACTION_APPROVE, ACTION_DENY};
use crate::app::AppState;
use crate::jobs::{queue, JobError};
use crate::slack::blocks::hhmm;
use crate::slack::{kit, limits};
use crate::templates::escape_mrkdwn;

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["request"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| JobError::Fatal("approval message without a request".into()))?;
    // One job at a time per request: a refresh queued by a click that came moments after the
    // request (before its first post recorded the message's ts) waits here for that post, then
    // edits the message it made instead of posting a second one. The lock is held across the
    // Slack call, which is bounded by the client's timeout; approval messages are few.
    let mut lock = state.db.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", format!("approval_message:{id}"))
        .execute(&mut *lock)
        .await?;
    let request =
        approvals::get(&mut *lock, id).await?.ok_or_else(|| JobError::Fatal(format!("no approval request {id}")))?;
    let votes = approvals::votes(&mut *lock, id).await?;
    let blocks = render(&request, &votes);
    let text = format!("Change requested: {}", request.action);
    match (&request.channel_id, &request.message_ts) {
        (Some(channel), Some(ts)) => state.slack.update_message(channel, ts, &text, &blocks).await?,
        _ => {
            let incident = crate::incident::store::get(&state.db, request.incident_id).await?;
            let channel = incident.and_then(|i| i.channel_id).ok_or_else(JobError::channel_pending)?;
            state.limiter.acquire(&channel, state.clock.now(), job.holds_slot).map_err(JobError::Defer)?;
            let (channel, ts) = crate::jobs::post_once::post(state, job, &channel, &text, &blocks).await?;
            approvals::set_message(&mut *lock, id, &channel, &ts).await?;
        }
    }
    lock.commit().await?;
    // A request made from the runbook checklist shows its state there too.
    crate::checklist::runs::request_changed(&state.db, request.incident_id, request.id, state.clock.now()).await?;
    Ok(())
}

fn render(request: &Request, votes: &[(String, String)]) -> Vec<SlackBlock> {
    let argv: Vec<String> = serde_json::from_value(request.argv.clone()).unwrap_or_default();
    let command = escape_mrkdwn(&argv.join(" "));
    let approved: Vec<String> = votes.iter().filter(|(_, d)| d == "approve").map(|(u, _)| format!("<@{u}>")).collect();
    let why = request.reason.as_deref().map_or_else(String::new, |r| format!("\n*Why:* {}", escape_mrkdwn(r)));
    let head = format!("🔐 *Change requested* by <@{}>: `{command}` ({}){why}", request.requested_by, request.action);
    let approved_by = format!("✅ *Approved* by {}", approved.join(", "));
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("?".to_string(), |t| t.format("%H:%M:%S").to_string());
    let outcome = request.outcome.as_deref().map(escape_mrkdwn).unwrap_or_default();
    let status = match request.state.as_str() {
        "approved" => format!("{approved_by}: starting it now."),
        "dispatched" => format!("{approved_by}: handed to its runner, waiting for it to take it."),
        "running" => format!("{approved_by}. ▶️ *Running* since {} UTC.", at(request.started_at)),
        "done" => format!("{approved_by}. *Done* at {} UTC: {outcome}.", at(request.finished_at)),
        "failed" => format!("{approved_by}. ❌ *Failed* at {} UTC: {outcome}.", at(request.finished_at)),
        "outcome_unknown" => format!(
            "{approved_by}. ⚠️ *Outcome unknown*: it started at {} UTC and warroom does not know how it ended. It \
             will not run again: check the system, and request it again if needed.",
            at(request.started_at)
        ),
        "cancelled" => match request.cancel_reason.as_deref() {
            Some("expired") => {
                "🚫 *Cancelled*: its runner had not taken it when its approval expired. Nothing ran.".to_string()
            }
            _ => "🚫 *Cancelled*: the incident was resolved before it started. Nothing ran.".to_string(),
        },
        "denied" => {
            let by: Vec<String> = votes.iter().filter(|(_, d)| d == "deny").map(|(u, _)| format!("<@{u}>")).collect();
            format!("⛔ *Denied* by {}. Nothing ran.", by.join(", "))
        }
        "expired" => format!("⌛ *Expired* at {} UTC. Nothing ran.", hhmm(request.expires_at)),
        _ => format!(
            "Needs {} approval(s) from an approver other than <@{}>{}. Expires at {} UTC.",
            request.required,
            request.requested_by,
            if approved.is_empty() { String::new() } else { format!("; approved so far by {}", approved.join(", ")) },
            hhmm(request.expires_at)
        ),
    };
    // A long command splits over sections; the confirm dialog (300 characters) names it short.
    let mut blocks = limits::sections(&format!("{head}\n{status}"));
    if request.state == "pending" {
        let value = format!("{}:{}", request.id, request.action_hash);
        let confirm = |verb: &str| {
            let command = format!("`{}`", limits::label(&command, limits::MAX_CONFIRM_TEXT - 2));
            kit::confirm(format!("{verb} this change?"), command, verb, "Cancel")
        };
        let button =
            |action_id: &str, verb: &str| kit::button(action_id, verb, value.clone()).with_confirm(confirm(verb));
        let buttons = vec![kit::primary(button(ACTION_APPROVE, "Approve")), kit::danger(button(ACTION_DENY, "Deny"))];
        blocks.push(kit::actions(Some("approval"), buttons));
    }
    blocks
}

/// The expiry timer job.
pub async fn expire(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["request"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let id = id.ok_or_else(|| JobError::Fatal("approval expiry without a request".into()))?;
    if approvals::expire(&state.db, state.clock.now(), id).await? {
        state.metrics.approval("expired");
    }
    crate::jobs::wake(state);
    Ok(())
}
