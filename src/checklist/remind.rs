//! Time windows: a section whose heading gives a time ("Immediate Actions (0-5 minutes)") gets a
//! durable timer at the declaration plus its end, keyed (incident, [`kind::CHECKLIST_WINDOW`],
//! section), so that no restart, retry or second replica fires it twice. When it fires with steps
//! of the section open, the commander is reminded once in the channel, with the open steps; not
//! when all are ticked, nor once the incident is resolved (its timers are cancelled then).

use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::progress::Progress;
use super::{store, Checklist};
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::slack::blocks::{hhmm, who};
use crate::templates::escape_mrkdwn;
use crate::timeline::{self, EventKind, WARROOM};

/// Open steps a reminder lists by name; the rest are counted.
const LISTED: usize = 20;

/// Plans the checklist's time-window timers (with the checklist, in its transaction).
pub async fn schedule(
    tx: &mut Transaction<'_, Postgres>,
    incident: &Incident,
    checklist: &Checklist,
) -> sqlx::Result<()> {
    for window in checklist.windows() {
        let at = incident.declared_at + chrono::Duration::seconds(window.end_secs as i64);
        let payload = json!({ "section": window.index });
        queue::enqueue(&mut **tx, Some(incident.id), kind::CHECKLIST_WINDOW, &window.index.to_string(), payload, at)
            .await?;
    }
    Ok(())
}

/// [`kind::CHECKLIST_WINDOW`]: `{ "section" }`.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    if incident.is_resolved() {
        return Ok(());
    }
    let Some(checklist) = store::get(&state.db, incident.id).await? else { return Ok(()) };
    let section = job.payload["section"].as_u64().unwrap_or(u64::MAX) as usize;
    let windows = checklist.windows();
    let Some(window) = windows.iter().find(|w| w.index == section) else { return Ok(()) };
    let now = state.clock.now();
    let states = store::states(&state.db, incident.id).await?;
    let open: Vec<_> = window.steps.iter().filter(|s| !Progress::of(s, states.get(&s.number), now).is_done()).collect();
    if open.is_empty() {
        return Ok(());
    }
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    state.limiter.acquire(&channel, now, job.holds_slot).map_err(JobError::Defer)?;
    let ended = incident.declared_at + chrono::Duration::seconds(window.end_secs as i64);
    let mut text = format!(
        "⏰ {}: *{}* ended at {} UTC with {} of {} steps open:",
        who(&incident.commander),
        escape_mrkdwn(&short(window.heading, 200)),
        hhmm(ended),
        open.len(),
        window.steps.len()
    );
    for step in open.iter().take(LISTED) {
        let what = step.note.clone().unwrap_or_else(|| step.command.clone());
        text.push_str(&format!("\n• *{}.* {}", step.number, escape_mrkdwn(&short(&what, 100))));
    }
    if open.len() > LISTED {
        text.push_str(&format!("\n…and {} more: see the checklist above.", open.len() - LISTED));
    }
    let blocks = [crate::slack::kit::section(None, text)];
    let fallback = format!("⏰ {}: {} ended with steps open", incident.number(), window.heading);
    let (channel, ts) = crate::jobs::post_once::post(state, job, &channel, &short(&fallback, 150), &blocks).await?;
    let numbers: Vec<u32> = open.iter().map(|s| s.number).collect();
    let payload = json!({
        "section": window.index, "heading": window.heading, "window_end_secs": window.end_secs,
        "open": numbers, "commander": incident.commander, "channel": channel, "ts": ts,
    });
    timeline::append(&state.db, incident.id, now, WARROOM, EventKind::ChecklistReminder, payload).await?;
    Ok(())
}

fn short(text: &str, max: usize) -> String {
    let line = text.split('\n').next().unwrap_or_default();
    if line.chars().count() <= max && line.len() == text.len() {
        return text.to_string();
    }
    format!("{}…", line.chars().take(max.saturating_sub(1)).collect::<String>())
}
