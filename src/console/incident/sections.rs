//! The incident page's sections beside the timeline, each read from where its part of warroom
//! keeps it: the diagnostics' output (`diagnostic_finished` events, stored redacted by
//! `crate::diagnostics` and redacted again here), the approvals (`approval_requests` and their
//! votes), the runbook checklist (as the report reads it, `timeline::export::checklist`), the
//! follow-ups with their tracker state (`timeline::followups`) and the incidents seen before.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::timeline::clean;
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::timeline::export::{checklist, ExportError, Source};
use crate::timeline::{describe, followups, Event};

/// The newest diagnostics shown on the page (all of them are in the report).
const DIAGNOSTICS: i64 = 50;

/// `2026-11-30 15:02:07`
pub fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `@U0ALICE`, or the name of what acted (warroom, an alert source).
fn who(actor: &str) -> String {
    clean(&describe::plain(&describe::actor(actor)))
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    incident_id: Uuid,
    at: DateTime<Utc>,
    actor: String,
    kind: String,
    payload: Value,
}

/// The newest [`DIAGNOSTICS`] diagnostics, oldest first, with their output; and how many ran.
pub async fn diagnostics(db: &sqlx::PgPool, incident_id: Uuid) -> sqlx::Result<Value> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM timeline_events WHERE incident_id = $1 AND kind = 'diagnostic_finished'",
    )
    .bind(incident_id)
    .fetch_one(db)
    .await?;
    let mut rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, incident_id, at, actor, kind, payload FROM timeline_events
         WHERE incident_id = $1 AND kind = 'diagnostic_finished' ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(incident_id)
    .bind(DIAGNOSTICS)
    .fetch_all(db)
    .await?;
    rows.reverse();
    let shown: Vec<Value> = rows
        .into_iter()
        .map(|r| Event {
            id: r.id,
            incident_id: r.incident_id,
            at: r.at,
            actor: r.actor,
            kind: r.kind,
            payload: r.payload,
        })
        .map(|e| diagnostic(&e))
        .collect();
    Ok(json!({ "total": total, "more": total - shown.len() as i64, "shown": shown }))
}

fn diagnostic(event: &Event) -> Value {
    let p = &event.payload;
    let text = |key: &str| p[key].as_str().map(clean).filter(|t| !t.trim().is_empty());
    let argv: Vec<String> = p["argv"].as_array().into_iter().flatten().filter_map(Value::as_str).map(clean).collect();
    let outcome = match (p["timed_out"] == true, p["exit_code"].as_i64()) {
        (true, _) => "timed out".to_string(),
        (false, Some(0)) => "exit 0".to_string(),
        (false, Some(code)) => format!("exit {code}"),
        (false, None) => "killed".to_string(),
    };
    json!({
        "id": event.id, "at": at(event.at), "iso": event.at.to_rfc3339(), "by": who(&event.actor),
        "action": clean(p["action"].as_str().unwrap_or("?")), "command": argv.join(" "), "outcome": outcome,
        "ok": p["exit_code"] == 0 && p["timed_out"] != true, "stdout": text("stdout"), "stderr": text("stderr"),
        "truncated": p["truncated"] == true, "duration_ms": p["duration_ms"].as_u64(),
    })
}

#[derive(sqlx::FromRow)]
struct ApprovalRow {
    id: Uuid,
    action: String,
    argv: Value,
    requested_by: String,
    reason: Option<String>,
    required: i32,
    state: String,
    requested_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    cancel_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Vote {
    request_id: Uuid,
    user_id: String,
    decision: String,
    at: DateTime<Utc>,
}

/// Every approval request, oldest first: who asked, who approved or denied and when, how it ended.
pub async fn approvals(db: &sqlx::PgPool, incident_id: Uuid) -> sqlx::Result<Vec<Value>> {
    let requests: Vec<ApprovalRow> = sqlx::query_as(
        "SELECT id, action, argv, requested_by, reason, required, state, requested_at, expires_at, decided_at,
                outcome, cancel_reason
         FROM approval_requests WHERE incident_id = $1 ORDER BY requested_at, id",
    )
    .bind(incident_id)
    .fetch_all(db)
    .await?;
    let ids: Vec<Uuid> = requests.iter().map(|r| r.id).collect();
    let votes: Vec<Vote> = sqlx::query_as(
        "SELECT request_id, user_id, decision, at FROM approval_votes WHERE request_id = ANY($1) ORDER BY at",
    )
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(requests
        .into_iter()
        .map(|r| {
            let argv: Vec<String> =
                r.argv.as_array().into_iter().flatten().filter_map(Value::as_str).map(clean).collect();
            let votes: Vec<Value> = votes
                .iter()
                .filter(|v| v.request_id == r.id)
                .map(|v| {
                    let word = if v.decision == "approve" { "approved" } else { "denied" };
                    json!({ "by": who(&v.user_id), "decision": word, "at": at(v.at), "iso": v.at.to_rfc3339() })
                })
                .collect();
            json!({
                "action": clean(&r.action), "command": argv.join(" "), "requested_by": who(&r.requested_by),
                "reason": r.reason.as_deref().map(clean), "required": r.required, "state": r.state.replace('_', " "),
                "requested_at": at(r.requested_at), "expires_at": at(r.expires_at),
                "decided_at": r.decided_at.map(at), "outcome": r.outcome.as_deref().map(clean),
                "cancelled": r.cancel_reason.map(|why| format!("cancelled ({why})")), "votes": votes,
            })
        })
        .collect())
}

/// The runbook checklist's steps and their state, as the report reads them; `None` without one.
pub async fn runbook_checklist(state: &AppState, incident: &Incident) -> Result<Option<Value>, ExportError> {
    let source =
        Source { db: &state.db, templates: &state.templates, config: &state.settings.file, incident, statuspage: None };
    let Some(report) = checklist::read(&source).await? else { return Ok(None) };
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|s| {
            json!({
                "number": s.number, "section": clean(&s.section), "command": clean(&s.command),
                "note": s.note.as_deref().map(clean), "action": s.action, "state": s.state.word(),
                "done": matches!(s.state, checklist::State::Done { .. } | checklist::State::Ran { .. }),
                "describe": clean(&s.state.describe()),
            })
        })
        .collect();
    Ok(Some(json!({
        "title": clean(&report.title), "done": report.done(), "total": report.steps.len(), "steps": steps,
    })))
}

/// The follow-ups, with their tracker issue and its state where the service has a tracker.
pub async fn followups(db: &sqlx::PgPool, incident_id: Uuid, now: DateTime<Utc>) -> sqlx::Result<Vec<Value>> {
    let items = followups::list(db, incident_id).await?;
    Ok(items
        .iter()
        .map(|f| {
            let issue = f.issue.as_ref().map(|i| {
                let state = match (&i.refused, &i.key, &i.state) {
                    (Some(why), _, _) => format!("refused: {}", clean(why)),
                    (None, None, _) => "being filed".to_string(),
                    (None, Some(_), Some(state)) => clean(state),
                    (None, Some(_), None) => "filed".to_string(),
                };
                // Only a tracker's own web address is a link.
                let url = i.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://"));
                json!({ "tracker": clean(&i.tracker), "key": i.key.as_deref().map(clean), "url": url,
                        "state": state, "closed": i.closed })
            });
            json!({
                "text": clean(&f.text), "owner": f.owner.as_deref().map(who), "horizon": followups::horizon_label(&f.horizon),
                "due": at(f.due_at), "done": f.done(), "overdue": f.overdue(now), "added_by": who(&f.added_by),
                "issue": issue,
            })
        })
        .collect())
}

/// Resolved incidents like this one (never a private one), linked to their pages.
pub async fn seen_before(state: &AppState, incident: &Incident) -> sqlx::Result<Vec<Value>> {
    let past = crate::seen_before::similar(&state.db, state.seen_before, incident).await?;
    Ok(past
        .iter()
        .map(|p| {
            json!({
                "number": p.number().to_string(), "href": format!("/console/incidents/{}", p.number),
                "title": clean(&p.title), "service": clean(&p.service), "declared": at(p.declared_at),
                "took": crate::duration::human_span(p.duration()),
                "root_cause": p.root_cause.as_deref().map(clean),
            })
        })
        .collect())
}
