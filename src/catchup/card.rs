//! What the catch-up card says, read from Postgres in one statement: the incident row and, as
//! JSON beside it, its last updates, running diagnostics, pending approvals, follow-ups and
//! checklist state. Every part is read through an index of the incident's own rows and capped,
//! so the card costs the same for a timeline of 50 events or 50,000 (`benches/catchup.rs`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::checklist::model::Checklist;
use crate::config::RolesConfig;
use crate::incident::roles::{self, Holder};
use crate::incident::{IncidentNumber, Severity};
use crate::seen_before::query::{similar_to, Like};
use crate::seen_before::{Matching, Past};

/// How many updates the card shows (the newest).
pub const UPDATES: i64 = 3;
/// How many of each list (diagnostics, approvals, follow-ups) the card shows; the rest are counted.
pub const LISTED: i64 = 5;
/// How many open runbook steps the card shows.
pub const STEPS: usize = 8;

/// Everything the card shows, as of `now`.
#[derive(Debug, Clone)]
pub struct Card {
    pub incident_id: Uuid,
    pub number: IncidentNumber,
    pub title: String,
    pub service: String,
    pub severity: Severity,
    pub status: String,
    pub status_text: Option<String>,
    /// Every configured role and its holder, the commander first (`None`: unfilled; for the
    /// commander, warroom's own user commands).
    pub roles: Vec<Holder>,
    pub declared_at: DateTime<Utc>,
    /// When a person last posted an update (`None`: nobody has yet).
    pub last_update_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub channel_id: Option<String>,
    /// The last [`UPDATES`] updates, newest first.
    pub updates: Vec<Update>,
    pub diagnostics: Listed<Diagnostic>,
    pub approvals: Listed<Approval>,
    /// Follow-ups not done yet, oldest first.
    pub followups: Listed<Followup>,
    pub checklist: Option<OpenSteps>,
    /// Resolved incidents like this one (`crate::seen_before`), the same service first.
    pub seen_before: Vec<Past>,
    pub now: DateTime<Utc>,
}

/// The first [`LISTED`] items of a list, and how many it has in all.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: usize,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { items: Vec::new(), total: 0 }
    }
}

impl<T> Listed<T> {
    pub fn more(&self) -> usize {
        self.total.saturating_sub(self.items.len())
    }
}

/// An `updated` event.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub payload: Value,
}

/// A diagnostic asked for and not finished: a read queued or running here, a read waiting for
/// or running on its runner, or a change approved and not finished.
#[derive(Debug, Clone, Deserialize)]
pub struct Diagnostic {
    pub action: Option<String>,
    pub by: Option<String>,
    pub since: DateTime<Utc>,
    /// The job's, the runner task's or the approval request's state.
    pub state: String,
    pub runner: Option<String>,
    pub change: bool,
    #[serde(default)]
    total: i64,
}

/// A change waiting for its approvals.
#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub action: String,
    pub by: String,
    pub reason: Option<String>,
    pub required: i32,
    pub approvals: i64,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    total: i64,
}

/// A `/incident followup` action item.
#[derive(Debug, Clone, Deserialize)]
pub struct Followup {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub payload: Value,
    /// Its tracker issue (`acme/api#12`), link and state, once filed.
    #[serde(default)]
    pub issue_key: Option<String>,
    #[serde(default)]
    pub issue_url: Option<String>,
    #[serde(default)]
    pub issue_state: Option<String>,
    #[serde(default)]
    total: i64,
}

/// The runbook checklist's steps nobody has ticked.
#[derive(Debug, Clone)]
pub struct OpenSteps {
    pub title: String,
    /// The first [`STEPS`] open steps, in the runbook's order.
    pub open: Vec<OpenStep>,
    pub open_total: usize,
    pub steps_total: usize,
}

#[derive(Debug, Clone)]
pub struct OpenStep {
    pub number: u32,
    pub heading: String,
    pub command: String,
    /// Something a person does (text), rather than a command (code).
    pub task: bool,
}

/// The incident's card as of `now`; `None` when there is no such incident. One round trip.
/// What the card is read with besides the incident.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// How the roles are named (`[roles] names`).
    pub roles: &'a RolesConfig,
    /// warroom's own user: an unassigned commander.
    pub bot_user: Option<&'a str>,
    /// How "seen before" matches (with or without `pg_trgm`).
    pub matching: Matching,
}

/// The card of `incident_id` as of `now`: the one statement below, then "seen before"'s own
/// (its own indexes, over other incidents).
pub async fn load(
    db: &mut PgConnection,
    reading: Reading<'_>,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Card>> {
    // Each list is a subquery on an index of the incident's own rows (timeline_events by
    // (incident, kind, at), jobs by (incident, kind), the open approvals and runner tasks of
    // 0023), limited before it is aggregated; `count(*) OVER ()` counts what the limit leaves out.
    let row = sqlx::query!(
        r#"SELECT i.number, i.title, i.service, i.severity, i.status, i.status_text, i.commander, i.declared_at,
                  i.last_update_at, i.resolved_at, i.channel_id,
                  (SELECT coalesce(jsonb_agg(to_jsonb(u) ORDER BY u.at DESC, u.id DESC), '[]')
                     FROM (SELECT e.id, e.at, e.actor, e.payload FROM timeline_events e
                           WHERE e.incident_id = i.id AND e.kind = 'updated'
                           ORDER BY e.at DESC, e.id DESC LIMIT $3) u) AS "updates!",
                  (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.since, d.action), '[]')
                     FROM (SELECT r.*, count(*) OVER () AS total FROM (
                               SELECT j.payload->>'action' AS action, j.payload->>'by' AS by, j.created_at AS since,
                                      j.state, NULL::text AS runner, false AS change
                                 FROM jobs j
                                WHERE j.incident_id = i.id AND j.kind = 'diagnostics.run'
                                  AND j.state IN ('queued', 'running')
                                  AND coalesce(j.payload->>'approval', '') = ''
                               UNION ALL
                               SELECT t.action, t.requested_by, coalesce(t.sent_at, t.created_at), t.state, t.runner, false
                                 FROM runner_tasks t
                                WHERE t.incident_id = i.id AND t.state IN ('queued', 'sent') AND t.approval_id IS NULL
                               UNION ALL
                               SELECT a.action, a.requested_by, coalesce(a.started_at, a.decided_at, a.requested_at),
                                      a.state, NULL, true
                                 FROM approval_requests a
                                WHERE a.incident_id = i.id AND a.state IN ('approved', 'dispatched', 'running')
                           ) r ORDER BY r.since, r.action LIMIT $4) d) AS "diagnostics!",
                  (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.requested_at), '[]')
                     FROM (SELECT a.action, a.requested_by AS by, a.reason, a.required, a.requested_at, a.expires_at,
                                  (SELECT count(*) FROM approval_votes v
                                    WHERE v.request_id = a.id AND v.decision = 'approve') AS approvals,
                                  count(*) OVER () AS total
                             FROM approval_requests a
                            WHERE a.incident_id = i.id AND a.state = 'pending' AND a.expires_at > $2
                            ORDER BY a.requested_at LIMIT $4) p) AS "approvals!",
                  -- Open follow-ups: those whose tracker issue is closed are done.
                  (SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY f.at, f.id), '[]')
                     FROM (SELECT e.id, e.at, e.actor, e.payload, t.issue_key, t.issue_url, t.issue_state,
                                  count(*) OVER () AS total
                             FROM timeline_events e
                             LEFT JOIN followup_issues t ON t.followup_id = e.id
                            WHERE e.incident_id = i.id AND e.kind = 'followup_added' AND NOT coalesce(t.closed, false)
                            ORDER BY e.at, e.id LIMIT $4) f) AS "followups!",
                  (SELECT coalesce(jsonb_object_agg(r.role, r.user_id), '{}')
                     FROM incident_roles r WHERE r.incident_id = i.id) AS "roles!",
                  (SELECT c.checklist FROM incident_checklists c WHERE c.incident_id = i.id) AS checklist,
                  (SELECT coalesce(array_agg(s.step), '{}') FROM checklist_steps s
                    WHERE s.incident_id = i.id AND s.done_at IS NOT NULL) AS "done_steps!"
           FROM incidents i WHERE i.id = $1"#,
        incident_id,
        now,
        UPDATES,
        LISTED,
    )
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let like = Like { id: incident_id, service: &row.service, title: &row.title };
    let seen_before = similar_to(&mut *db, reading.matching, like).await?;
    let checklist = row.checklist.and_then(|json| serde_json::from_value::<Checklist>(json).ok());
    Ok(Some(Card {
        incident_id,
        number: IncidentNumber(row.number),
        title: row.title,
        service: row.service,
        severity: Severity::parse(&row.severity).unwrap_or(Severity::P0),
        status: row.status,
        status_text: row.status_text,
        roles: roles::assemble(reading.roles, &row.commander, reading.bot_user, |key| {
            row.roles[key].as_str().map(str::to_string)
        }),
        seen_before,
        declared_at: row.declared_at,
        last_update_at: row.last_update_at,
        resolved_at: row.resolved_at,
        channel_id: row.channel_id,
        updates: parse(row.updates),
        diagnostics: listed(row.diagnostics, |d: &Diagnostic| d.total),
        approvals: listed(row.approvals, |a: &Approval| a.total),
        followups: listed(row.followups, |f: &Followup| f.total),
        checklist: checklist.map(|c| open_steps(&c, &row.done_steps)),
        now,
    }))
}

/// A JSON array of rows; a row that does not read (which the query's shape rules out) is
/// left out rather than failing the card.
fn parse<T: for<'de> Deserialize<'de>>(json: Value) -> Vec<T> {
    serde_json::from_value::<Vec<Value>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|row| serde_json::from_value(row).map_err(|e| tracing::warn!("a catch-up row: {e}")).ok())
        .collect()
}

fn listed<T: for<'de> Deserialize<'de>>(json: Value, total: impl Fn(&T) -> i64) -> Listed<T> {
    let items: Vec<T> = parse(json);
    let total = items.first().map_or(0, |first| total(first).max(0) as usize).max(items.len());
    Listed { items, total }
}

/// The steps of `checklist` not in `done`, in order.
fn open_steps(checklist: &Checklist, done: &[i32]) -> OpenSteps {
    let mut open = Vec::new();
    let mut open_total = 0;
    let mut steps_total = 0;
    for section in &checklist.sections {
        for step in &section.steps {
            steps_total += 1;
            if done.contains(&(step.number as i32)) {
                continue;
            }
            open_total += 1;
            if open.len() < STEPS {
                open.push(OpenStep {
                    number: step.number,
                    heading: section.heading.clone(),
                    command: step.command.clone(),
                    task: step.task,
                });
            }
        }
    }
    OpenSteps { title: checklist.title.clone(), open, open_total, steps_total }
}
