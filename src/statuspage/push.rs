//! The `statuspage.push` job: delivers one numbered push to the status page, after every
//! earlier push of the incident, within the shared request budget, exactly once.
//!
//! Exactly once over an unreliable network: before creating, warroom looks for an unresolved
//! status page incident carrying its incident id in `metadata` (an earlier attempt may have
//! created it and lost the answer); after an update whose outcome is unknown (a timeout, a 5xx),
//! the next attempt reads the incident back and repeats the update only if it is not there.
//! Progress between requests lives in `statuspage_sync`, so a job deferred by the budget (or a
//! process killed mid-way) resumes where it stopped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{IncidentRequest, RemoteIncident, StatuspageError};
use super::store::{self, Sync};
use super::text::{self, Snapshot};
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// Statuspage allows one request per second per API key, across every replica.
pub const REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// What a push does to the status page incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create it (at declaration, or when the severity starts to be shown).
    Open,
    /// A customer-facing update (status, text, components).
    Update,
    /// Resolved: status `resolved`, components `operational`.
    Resolve,
    /// Put back what warroom last said, after someone or something changed it there.
    Repair,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Update => "update",
            Self::Resolve => "resolve",
            Self::Repair => "repair",
        }
    }
}

/// One push: the job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    /// Its place in the incident's order (set when queued).
    #[serde(default)]
    pub seq: i32,
    pub action: Action,
    /// When it was made: the "Last Updated" customers read.
    pub at: DateTime<Utc>,
    pub by: String,
    pub snapshot: Snapshot,
    /// Customer text a person wrote or confirmed (manual mode), instead of the template's.
    #[serde(default)]
    pub body: Option<String>,
    /// The status update slot (its due time) this push was made for, when a timer made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<DateTime<Utc>>,
}

impl Push {
    pub fn new(action: Action, incident: &Incident, by: &str, at: DateTime<Utc>) -> Self {
        Self { seq: 0, action, at, by: by.into(), snapshot: Snapshot::of(incident), body: None, scheduled: None }
    }
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let push: Push =
        serde_json::from_value(job.payload.clone()).map_err(|e| JobError::Fatal(format!("unreadable push: {e}")))?;
    let incident = crate::jobs::load_incident(state, job).await?;
    let now = state.clock.now();
    if let Some(due) = store::earlier_unfinished(&state.db, incident.id, push.seq).await? {
        // Its predecessor brings it forward when it finishes; this is only the fallback.
        return Err(JobError::Defer(due.max(now + chrono::Duration::seconds(1))));
    }
    if super::scheduled::superseded(state, &incident, &push).await? {
        store::hurry_next(&state.db, incident.id, push.seq, now).await?;
        crate::jobs::wake(state);
        return Ok(());
    }
    let sync = store::get(&state.db, incident.id)
        .await?
        .ok_or_else(|| JobError::Fatal(format!("{} has no status page mirror", incident.number())))?;
    let mut request =
        text::request(&state.templates, &state.settings.file, &push.snapshot, push.body.as_deref(), push.at)?;
    if push.action == Action::Repair {
        request.body = None;
    }
    // The first attempt of an incident's first push cannot have created anything before it: no
    // lookup needed. (A deferred run sends nothing and gives its attempt back; a run that dies
    // after sending is claimed again as a second attempt.)
    let first_ever = push.seq == 1 && job.attempts == 1;
    let retried = job.attempts > 1;
    let delivery = Delivery { state, incident: &incident, push: &push, sync: &sync, first_ever, retried };
    match deliver(&delivery, request).await {
        Ok(Some((remote, sent))) => delivery.delivered(&remote, &sent).await,
        Ok(None) => Ok(()),
        Err(Step::Defer(at)) => Err(JobError::Defer(at)),
        Err(Step::Failed(e)) => delivery.failed(e).await,
        Err(Step::Job(e)) => Err(e),
    }
}

/// Why a delivery stopped before it was done.
pub(super) enum Step {
    /// Out of request budget until then.
    Defer(DateTime<Utc>),
    Failed(StatuspageError),
    Job(JobError),
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Job(e.into())
    }
}

struct Delivery<'a> {
    state: &'a AppState,
    incident: &'a Incident,
    push: &'a Push,
    sync: &'a Sync,
    first_ever: bool,
    /// An earlier attempt failed: this success may mean the status page recovered.
    retried: bool,
}

/// Sends what is left of the push; returns the status page incident and what it was sent, or
/// `None` when there is nothing to do.
async fn deliver(
    d: &Delivery<'_>,
    request: IncidentRequest,
) -> Result<Option<(RemoteIncident, IncidentRequest)>, Step> {
    let client = &d.state.statuspage;
    let id = d.incident.id;
    let remote_id = match &d.sync.statuspage_id {
        Some(remote_id) => remote_id.clone(),
        // Never shown there: nothing to resolve or repair.
        None if matches!(d.push.action, Action::Resolve | Action::Repair) => return Ok(None),
        None => {
            if !d.sync.looked_up && !d.first_ever {
                budget(d.state).await?;
                let found = find(d, id).await?;
                match found {
                    Some(found) => {
                        store::set_remote(&d.state.db, id, &found.id, found.shortlink.as_deref()).await?;
                        if d.push.action == Action::Open {
                            return Ok(Some((found, request)));
                        }
                        found.id
                    }
                    None => {
                        store::set_looked_up(&d.state.db, id, true).await?;
                        return create(d, request).await;
                    }
                }
            } else {
                return create(d, request).await;
            }
        }
    };
    if d.sync.unverified_seq == Some(d.push.seq) {
        budget(d.state).await?;
        let remote = client.get(&remote_id).await.map_err(Step::Failed)?;
        let latest = remote.latest_update();
        if remote.status == request.status
            && latest.map(|u| u.body.as_str()) == Some(request.body.as_deref().unwrap_or(""))
        {
            return Ok(Some((remote, request)));
        }
        store::set_unverified(&d.state.db, id, None).await?;
    }
    budget(d.state).await?;
    // Marked before it is sent: a process that dies waiting for the answer (or after it, before
    // recording it) leaves the push unverified, and the next attempt reads the page back first.
    store::set_unverified(&d.state.db, id, Some(d.push.seq)).await?;
    match client.update(&remote_id, &request).await {
        Ok(remote) => Ok(Some((remote, request))),
        Err(e) => {
            if !e.maybe_applied() {
                store::set_unverified(&d.state.db, id, None).await?;
            }
            Err(Step::Failed(e))
        }
    }
}

/// Creates the status page incident, tagged with ours in `metadata` so that it can be found again.
async fn create(
    d: &Delivery<'_>,
    mut request: IncidentRequest,
) -> Result<Option<(RemoteIncident, IncidentRequest)>, Step> {
    budget(d.state).await?;
    request.metadata =
        Some(json!({ "warroom": { "incident_id": d.incident.id, "number": d.incident.number().to_string() } }));
    match d.state.statuspage.create(&request).await {
        Ok(created) => {
            store::set_remote(&d.state.db, d.incident.id, &created.id, created.shortlink.as_deref()).await?;
            Ok(Some((created, request)))
        }
        Err(e) => {
            if e.maybe_applied() {
                // It may exist now: look again before creating.
                store::set_looked_up(&d.state.db, d.incident.id, false).await?;
            }
            Err(Step::Failed(e))
        }
    }
}

/// The unresolved status page incident that carries our incident id, if any.
async fn find(d: &Delivery<'_>, id: uuid::Uuid) -> Result<Option<RemoteIncident>, Step> {
    let all = unresolved(d.state).await?;
    Ok(all.into_iter().find(|i| i.warroom_id() == Some(id)))
}

/// Every unresolved status page incident. The caller paid for the first page; a page has 100,
/// and further pages (rare: a hundred open incidents) wait for their budget here.
pub(super) async fn unresolved(state: &AppState) -> Result<Vec<RemoteIncident>, Step> {
    let mut all = Vec::new();
    for page in 1..=super::client::MAX_PAGES {
        if page > 1 {
            while let Err(Step::Defer(at)) = budget(state).await {
                let wait = (at - state.clock.now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait.clamp(Duration::from_millis(50), REQUEST_INTERVAL)).await;
            }
        }
        let batch = state.statuspage.unresolved(page).await.map_err(Step::Failed)?;
        let full = batch.len() == super::client::PER_PAGE;
        all.extend(batch);
        if !full {
            break;
        }
    }
    Ok(all)
}

/// Takes one request from the shared budget, or defers the job until the next one is free.
pub(super) async fn budget(state: &AppState) -> Result<(), Step> {
    let key = state.statuspage.budget_key();
    store::take_request_slot(&state.db, &key, state.clock.now(), REQUEST_INTERVAL).await?.map_err(Step::Defer)
}

impl Delivery<'_> {
    /// Records the delivery; tells the channel when the status page recovered.
    async fn delivered(&self, remote: &RemoteIncident, sent: &IncidentRequest) -> Result<(), JobError> {
        let (state, incident, push) = (self.state, self.incident, self.push);
        let now = state.clock.now();
        let mut tx = state.db.begin().await?;
        let was_failing = store::record_synced(&mut *tx, incident.id, now, &sent.status).await?;
        let payload = json!({
            "seq": push.seq, "action": push.action.as_str(), "status": sent.status, "name": sent.name,
            "body": sent.body, "components": sent.components, "statuspage_id": remote.id,
            "shortlink": remote.shortlink, "sandbox": state.statuspage.is_sandbox(), "made_at": push.at,
            "by": push.by, "scheduled": push.scheduled, "impact": sent.impact_override,
        });
        timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::StatuspagePushed, payload).await?;
        if was_failing {
            let text = format!(
                ":white_check_mark: The status page is reachable again; every update is delivered in order. {}",
                remote.shortlink.as_deref().unwrap_or("")
            );
            crate::incident::lifecycle::post(&mut tx, incident, &text, false, now).await?;
        }
        refresh_declaration(&mut tx, incident, &format!("sp:{}", push.seq), now).await?;
        if let Some(link) = &remote.shortlink {
            // Once per link: the channel's "Status page" bookmark.
            crate::bookmarks::queue_refresh(&mut *tx, &state.settings.file, incident.id, &format!("sp:{link}"), now)
                .await?;
        }
        tx.commit().await?;
        store::hurry_next(&state.db, incident.id, push.seq, now).await?;
        if self.retried {
            store::hurry_retries(&state.db, now).await?;
        }
        crate::jobs::wake(state);
        Ok(())
    }

    /// A failed request: retried (the first failure of a streak is told), or refused for good
    /// (told with the API's message, and the next push goes ahead).
    async fn failed(&self, error: StatuspageError) -> Result<(), JobError> {
        let (state, incident, push) = (self.state, self.incident, self.push);
        let now = state.clock.now();
        let described = describe(&error);
        if error.is_retryable() {
            let mut tx = state.db.begin().await?;
            if store::record_failing(&mut *tx, incident.id, now, &format!("{described}, retrying")).await? {
                let payload = json!({ "seq": push.seq, "action": push.action.as_str(), "error": described,
                                      "http_status": error.status() });
                timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::StatuspageFailing, payload).await?;
                let text = format!(
                    ":warning: The status page is failing ({described}). warroom keeps retrying; \
                     updates will be delivered in order once it recovers."
                );
                crate::incident::lifecycle::post(&mut tx, incident, &text, false, now).await?;
                refresh_declaration(&mut tx, incident, &format!("sp-failing:{}", now.timestamp()), now).await?;
            }
            tx.commit().await?;
            return Err(JobError::Retry { error: format!("status page: {described}"), after: error.retry_after() });
        }
        let mut tx = state.db.begin().await?;
        let started = store::record_failing(&mut *tx, incident.id, now, &format!("{described}, not retried")).await?;
        let payload = json!({ "seq": push.seq, "action": push.action.as_str(), "error": described,
                              "http_status": error.status() });
        timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::StatuspageFailed, payload).await?;
        // A slot's push refused like the push before it is not told again: a refusal in the
        // channel every five minutes would bury the one that says what to fix.
        if started || push.scheduled.is_none() {
            let text = format!(
                ":x: The status page refused the {} of {} ({described}). It will not be retried; \
                 fix the cause (see `warroom.toml`) and post the next update.",
                if push.scheduled.is_some() { "scheduled update" } else { push.action.as_str() },
                incident.number(),
            );
            crate::incident::lifecycle::post(&mut tx, incident, &text, false, now).await?;
        }
        refresh_declaration(&mut tx, incident, &format!("sp:{}", push.seq), now).await?;
        tx.commit().await?;
        store::hurry_next(&state.db, incident.id, push.seq, now).await?;
        crate::jobs::wake(state);
        Err(JobError::Reported(format!("status page: {described}")))
    }
}

/// `HTTP 422: Component ... not found`, `no answer in time`.
fn describe(error: &StatuspageError) -> String {
    crate::templates::escape_mrkdwn(&error.to_string())
}

async fn refresh_declaration(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    incident: &Incident,
    slot: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    queue::enqueue(&mut **tx, Some(incident.id), kind::REFRESH_DECLARATION, slot, json!({}), now).await?;
    Ok(())
}
