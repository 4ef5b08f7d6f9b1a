//! [`super::kind::CREATE`]: a follow-up's issue, created exactly once. The row is marked
//! uncertain (committed) before the request goes out and settled by the tracker's answer; an
//! attempt after an uncertain one (a timeout, a 5xx, a worker that died waiting) first searches
//! the tracker for the follow-up's marker and takes a found issue as created. A refusal (401,
//! 403, 404, 422 ...) is said in the channel with the tracker's message, once, and ends the job.

use serde_json::json;

use super::{store, NewIssue, TrackerError};
use crate::app::AppState;
use crate::config::Tracker;
use crate::incident::store::Incident;
use crate::jobs::{kind as jobs_kind, queue, JobError};
use crate::timeline::followups::{self, Followup};
use crate::timeline::{self, EventKind, WARROOM};

/// The marker an issue carries in its body: how it is found again.
pub fn marker(followup_id: i64) -> String {
    format!("warroom:followup:{followup_id}")
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let id = job.payload["followup"].as_i64().ok_or_else(|| JobError::Fatal("no follow-up in the job".into()))?;
    let Some(row) = store::load(&state.db, id).await? else {
        return Err(JobError::Fatal(format!("follow-up {id} has no tracker row")));
    };
    if row.issue_key.is_some() || row.refused.is_some() {
        return Ok(());
    }
    let tracker = Tracker::parse(&row.tracker).map_err(JobError::Fatal)?;
    let followup =
        followups::get(&state.db, id).await?.ok_or_else(|| JobError::Fatal(format!("follow-up {id} is gone")))?;
    let incident = crate::jobs::load_incident(state, job).await?;
    let marker = marker(id);
    if row.uncertain {
        match state.trackers.find(&tracker, &marker).await {
            Ok(Some(issue)) => {
                tracing::info!("follow-up {id}'s issue {} was created by an earlier attempt", issue.key);
                return created(state, &incident, &followup, &tracker, issue, true).await;
            }
            Ok(None) => {}
            Err(e) if e.is_final() => return refused(state, &incident, &followup, &tracker, e).await,
            Err(e) => return Err(e.into()),
        }
    }
    let issue = new_issue(state, &incident, &followup, &marker).await?;
    store::mark_uncertain(&state.db, id, state.clock.now()).await?;
    match state.trackers.create(&tracker, &issue, &state.settings.file.trackers.github_logins).await {
        Ok(issue) => created(state, &incident, &followup, &tracker, issue, false).await,
        Err(e) if e.is_final() => refused(state, &incident, &followup, &tracker, e).await,
        Err(e @ (TrackerError::NotSent { .. } | TrackerError::Throttled { .. })) => {
            // Surely not created: the next attempt need not search.
            store::settle(&state.db, id).await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// What the tracker is asked to create: the item as its title, the incident and its channel in
/// the body, the marker as the body's last line.
async fn new_issue(
    state: &AppState,
    incident: &Incident,
    followup: &Followup,
    marker: &str,
) -> Result<NewIssue, JobError> {
    let owner_email = match &followup.owner {
        Some(owner) => match state.slack.user_email(owner).await {
            Ok(email) => email,
            Err(e) if e.retry_after().is_some() => return Err(e.into()),
            // Without the email there is no assignee; the body still names the owner.
            Err(_) => None,
        },
        None => None,
    };
    // What leaves for the tracker is redacted like the report (a token pasted into an item).
    let plain = crate::sanitize::redacted(&crate::timeline::describe::plain(&followup.text)).into_owned();
    let title = crate::slack::limits::label(&format!("[{}] {plain}", incident.number()), 250);
    let owner = match (&owner_email, &followup.owner) {
        (Some(email), _) => format!("Owner: {email} (Slack)"),
        (None, Some(user)) => format!("Owner: Slack user {user}"),
        (None, None) => "Owner: nobody yet".to_string(),
    };
    let body = format!(
        "Action item from {} ({}): {plain}\n\n{}-term: due {} UTC.\n{owner}\nIncident channel: #{}\n\n{marker}",
        incident.number(),
        crate::slack::limits::label(&crate::timeline::describe::plain(&incident.title), 200),
        followups::horizon_label(&followup.horizon).trim_end_matches("-term"),
        followup.due_at.format("%Y-%m-%d %H:%M"),
        incident.channel_name.as_deref().unwrap_or("(no channel yet)"),
    );
    Ok(NewIssue {
        title,
        body,
        marker: marker.to_string(),
        labels: vec!["warroom".into(), "incident-followup".into(), incident.number().to_string()],
        owner_email,
        due: followup.due_at.date_naive(),
    })
}

/// The issue exists: recorded with its event, its link queued for the channel, its state's
/// read-back and its first nudge planned — in one transaction.
async fn created(
    state: &AppState,
    incident: &Incident,
    followup: &Followup,
    tracker: &Tracker,
    issue: super::Issue,
    found_by_marker: bool,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !store::record_created(&mut *tx, followup.id, &issue, now).await? {
        return Ok(());
    }
    let payload = json!({ "followup": followup.id, "tracker": tracker.to_string(), "tracker_label": tracker.label(),
                          "key": issue.key, "url": issue.url, "found_by_marker": found_by_marker });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::FollowupTracked, payload).await?;
    let data = json!({
        "tracker": super::describe(tracker), "tracker_label": tracker.label(), "url": issue.url, "key": issue.key,
        "text": crate::timeline::describe::plain(&followup.text), "owner": followup.owner, "due": followup.due_at.format("%Y-%m-%d %H:%M").to_string(),
        "horizon": followups::horizon_label(&followup.horizon),
    });
    let text = state.templates.render("tracker_link", &data)?;
    let post = json!({ "text": text, "to": "channel", "what": "followup_link" });
    let slot = format!("tracker-link:{}", followup.id);
    queue::enqueue(&mut *tx, Some(incident.id), jobs_kind::POST, &slot, post, now).await?;
    super::sync::plan_first(&mut tx, state, followup.id, incident.id, now).await?;
    super::nudge::plan(&mut *tx, followup, incident.id, 1).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// The tracker refused for good: said in the channel with its message, recorded, the job done.
async fn refused(
    state: &AppState,
    incident: &Incident,
    followup: &Followup,
    tracker: &Tracker,
    error: TrackerError,
) -> Result<(), JobError> {
    let (status, message) = match &error {
        TrackerError::Refused { status, message } => (format!("HTTP {status}"), message.clone()),
        other => ("not configured".to_string(), other.to_string()),
    };
    let hint = match &error {
        TrackerError::Refused { status: 401, .. } => credentials_hint(tracker),
        TrackerError::Refused { status: 403 | 404, .. } => format!(
            "Check `[services.{}] tracker = \"{tracker}\"`: it must exist and the token must be allowed to create issues there.",
            incident.service
        ),
        TrackerError::NotConfigured(_) => credentials_hint(tracker),
        _ => "The tracker's message says what it needs.".to_string(),
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    store::record_refused(&mut *tx, followup.id, &format!("{status}: {message}")).await?;
    let payload = json!({ "followup": followup.id, "tracker": tracker.to_string(), "tracker_label": tracker.label(),
                          "status": status, "error": message });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::FollowupRefused, payload).await?;
    let data = json!({ "tracker": super::describe(tracker), "text": crate::timeline::describe::plain(&followup.text),
                       "status": status, "error": message, "hint": hint });
    let text = state.templates.render("tracker_refused", &data)?;
    let post = json!({ "text": text, "to": "channel", "what": "followup_refused" });
    queue::enqueue(
        &mut *tx,
        Some(incident.id),
        jobs_kind::POST,
        &format!("tracker-refused:{}", followup.id),
        post,
        now,
    )
    .await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Err(JobError::Reported(format!("{} refused follow-up {}: {status}: {message}", tracker.label(), followup.id)))
}

fn credentials_hint(tracker: &Tracker) -> String {
    match tracker {
        Tracker::GitHub { .. } => "Check GITHUB_TOKEN: it is missing, wrong or expired, or lacks Issues: write.".into(),
        Tracker::Jira { .. } => {
            "Check JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN: the email and API token must belong to one Atlassian account.".into()
        }
        Tracker::Linear { .. } => "Check LINEAR_API_KEY: it is missing, wrong or revoked.".into(),
    }
}
