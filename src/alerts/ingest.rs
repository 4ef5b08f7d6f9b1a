//! Applying one notification. A group seen for the first time that matches a rule is declared
//! (keyed `alert:<source>:<groupKey>`, so never twice); then one transaction records the
//! group, the alerts that are new to it and those that resolved — each a timeline event — and
//! queues what the channel should hear: more alerts firing, or "alert resolved — resolve the
//! incident?" (or resolves it, with `auto_resolve`). Slack work stays on the queue.

use serde_json::{json, Value};

use super::payload::{Alert, AlertStatus, Notification};
use super::{describe_alert, rules, store};
use crate::app::AppState;
use crate::incident::declare;
use crate::incident::lifecycle::{self, LifecycleError};
use crate::incident::store::{self as incidents, NewIncident};
use crate::incident::IncidentNumber;
use crate::jobs::{kind, queue};
use crate::slack::api::SlackError;
use crate::timeline::{self, EventKind};

/// What a notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The group has an incident (declared now or before).
    Applied(Applied),
    /// Nothing was declared or recorded.
    NotDeclared { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub number: IncidentNumber,
    /// This notification declared it.
    pub created: bool,
    /// Alerts new to the group (or firing again), each now in the timeline.
    pub new_alerts: usize,
    pub resolved_alerts: usize,
    pub group_status: AlertStatus,
    /// What the group's resolution did, when this notification resolved it.
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// "Alert resolved — resolve the incident?" is on its way to the channel.
    Prompted,
    /// `auto_resolve`: the incident is resolved.
    AutoResolved,
    /// The incident was resolved already; the timeline has it.
    AlreadyResolved,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prompted => "prompted",
            Self::AutoResolved => "auto_resolved",
            Self::AlreadyResolved => "incident_already_resolved",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A rule matched but the group cannot be declared from it.
    #[error(transparent)]
    Unusable(#[from] rules::Unusable),
    #[error("warroom could not ask Slack for its own user (the commander of unassigned incidents): {0}")]
    Slack(#[from] SlackError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// How many new alerts a "more alerts firing" post lists by name.
const LISTED: usize = 5;

pub async fn ingest(state: &AppState, n: &Notification) -> Result<Outcome, IngestError> {
    let config = &state.settings.file;
    let source = n.source.as_str();
    let now = state.clock.now();
    let (incident_id, created) = match store::incident_of(&state.db, n.source, &n.group_key).await? {
        Some(id) => (id, false),
        None => {
            if n.firing().next().is_none() {
                return Ok(Outcome::NotDeclared {
                    reason: "no alert is firing and no incident was declared for this group".into(),
                });
            }
            let Some(plan) = rules::plan(&config.alerts, n)? else {
                return Ok(Outcome::NotDeclared { reason: "no rule matches".into() });
            };
            let commander = match plan.commander {
                Some(user) => user.to_string(),
                None => state.slack.bot_user_id().await?,
            };
            let new = NewIncident {
                title: plan.title,
                service: plan.service.as_str().to_string(),
                severity: plan.severity,
                commander,
                declared_by: source.to_string(),
                impact: None,
                origin_channel: None,
                response_url: None,
                detected_at: plan.detected_at,
                runbook_url: plan.runbook_url,
                roles: Vec::new(),
                private: false,
            };
            let key = format!("alert:{source}:{}", n.group_key);
            let declared =
                declare::declare(&mut *state.db.acquire().await?, state.reactions(), now, &key, source, &new).await?;
            if declared.created {
                state.metrics.declared(new.severity.as_str(), source);
            }
            (declared.id, declared.created)
        }
    };

    let mut tx = state.db.begin().await?;
    let group = store::open_group(&mut tx, n.source, &n.group_key, incident_id, now).await?;
    let incident = incidents::get(&mut *tx, group.incident_id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol(format!("alert group {} has no incident", group.id)))?;
    let firing: Vec<&Alert> = n.firing().collect();
    let new = store::record_firing(&mut tx, group.id, &firing, now).await?;
    let received: Vec<&Alert> = firing.into_iter().filter(|a| new.contains(&a.fingerprint)).collect();
    let payloads: Vec<Value> = received.iter().map(|a| received_event(n, a)).collect();
    timeline::append_many(&mut *tx, incident.id, now, source, EventKind::AlertReceived, &payloads).await?;

    let resolved: Vec<&Alert> = n.alerts.iter().filter(|a| a.status == AlertStatus::Resolved).collect();
    let mut ended = store::record_resolved(&mut tx, group.id, &resolved, now).await?;
    let transition = store::set_status(&mut tx, group.id, n.status, now).await?;
    let group_resolved = n.status == AlertStatus::Resolved && transition.is_some();
    if n.status == AlertStatus::Resolved {
        ended.extend(store::resolve_rest(&mut tx, group.id, now).await?);
    }
    let payloads: Vec<Value> = ended
        .iter()
        .map(|e| {
            json!({ "source": source, "group_key": n.group_key, "fingerprint": e.fingerprint, "labels": e.labels,
                    "ends_at": e.ends_at, "group_resolved": group_resolved })
        })
        .collect();
    timeline::append_many(&mut *tx, incident.id, now, source, EventKind::AlertResolved, &payloads).await?;

    let mut queued = created;
    if !group.inserted && !received.is_empty() {
        let text = more_alerts_text(n, &incident, &received);
        let payload = json!({ "text": text, "to": "channel", "what": "alerts" });
        let slot = format!("alerts:{}", uuid::Uuid::new_v4());
        queue::enqueue(&mut *tx, Some(incident.id), kind::POST, &slot, payload, now).await?;
        queued = true;
    }
    let resolution = match transition {
        Some(count) if group_resolved => Some(if incident.is_resolved() {
            Resolution::AlreadyResolved
        } else if config.alerts.auto_resolve {
            let why = format!("{} reported the alert group resolved (auto-resolve)", n.source.label());
            match lifecycle::resolve_for_alert_source(&mut tx, state.reactions(), now, &incident, source, &why).await {
                Ok(resolved) => {
                    state.metrics.resolved(&resolved);
                    queued = true;
                    Resolution::AutoResolved
                }
                Err(LifecycleError::Database(e)) => return Err(e.into()),
                // Resolved by a person since it was read: the row lock made that one win.
                Err(_) => Resolution::AlreadyResolved,
            }
        } else {
            let what: Vec<String> = n.alerts.iter().take(LISTED).map(describe).collect();
            let payload = json!({ "source": source, "alerts": what, "count": n.alerts.len(), "at": now });
            let slot = format!("group:{}:{count}", group.id);
            queue::enqueue(&mut *tx, Some(incident.id), kind::ALERT_RESOLVED_PROMPT, &slot, payload, now).await?;
            queued = true;
            Resolution::Prompted
        }),
        _ => None,
    };
    tx.commit().await?;
    if queued {
        crate::jobs::wake_everywhere(state);
    }
    Ok(Outcome::Applied(Applied {
        number: incident.number(),
        created,
        new_alerts: received.len(),
        resolved_alerts: ended.len(),
        group_status: n.status,
        resolution,
    }))
}

/// The `alert_received` event of one alert.
fn received_event(n: &Notification, a: &Alert) -> Value {
    json!({
        "source": n.source.as_str(), "group_key": n.group_key, "receiver": n.receiver, "fingerprint": a.fingerprint,
        "status": a.status.as_str(), "labels": a.labels, "annotations": a.annotations, "starts_at": a.starts_at,
        "generator_url": a.generator_url,
    })
}

fn describe(a: &Alert) -> String {
    describe_alert(&json!({ "labels": a.labels, "annotations": a.annotations }))
}

/// ":bell: 2 more alerts firing in INC-7's Alertmanager group: ..."
fn more_alerts_text(n: &Notification, incident: &incidents::Incident, received: &[&Alert]) -> String {
    let count = received.len();
    let mut text = format!(
        ":bell: {count} more alert{} firing in {}'s {} group:",
        if count == 1 { "" } else { "s" },
        incident.number(),
        n.source.label()
    );
    for a in received.iter().take(LISTED) {
        text.push_str(&format!("\n• {}", describe(a)));
    }
    if count > LISTED {
        text.push_str(&format!("\n…and {} more (`/incident timeline`)", count - LISTED));
    }
    if incident.is_resolved() {
        text.push_str(&format!("\n{} is resolved: `/incident reopen` if the problem is back.", incident.number()));
    }
    text
}
