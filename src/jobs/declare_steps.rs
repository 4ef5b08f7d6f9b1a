//! The Slack side of a declaration, one idempotent step per job: create the channel, invite,
//! set the topic, post and pin the declaration, announce it; and refresh it after an ack.
//! Each step records its result and queues the next in one transaction.

use serde_json::json;
use slack_morphism::blocks::SlackBlock;
use uuid::Uuid;

use super::{kind, queue, JobError};
use crate::app::AppState;
use crate::incident::channel_name;
use crate::incident::store::{self, Incident};
use crate::slack::blocks;
use crate::timeline::{self, EventKind, WARROOM};

/// The declaration as it stands, with the status page's sync state.
async fn declaration(state: &AppState, incident: &Incident) -> Result<(String, Vec<SlackBlock>), JobError> {
    let sync = crate::statuspage::line(&state.db, incident.id, state.statuspage.is_sandbox()).await?;
    // Known from creating the channel; a failure here only means the commander shows as a mention.
    let bot = state.slack.bot_user_id().await.ok();
    let checklist = state.runbooks.get(&incident.service).map(|c| {
        let (run, request, done) = c.buttons();
        blocks::ChecklistLink { title: &c.title, steps: run + request + done }
    });
    let config = &state.settings.file;
    Ok(blocks::declaration(&state.templates, config, incident, sync.as_deref(), bot.as_deref(), checklist)?)
}

/// How many suffixed names to try when `inc-42-api` belongs to someone else.
const NAME_ATTEMPTS: u32 = 5;

fn channel_of(incident: &Incident) -> Result<&str, JobError> {
    incident.channel_id.as_deref().ok_or_else(|| JobError::Fatal("the incident has no channel".into()))
}

pub async fn create_channel(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    if incident.channel_id.is_some() {
        return queue_channel_steps(state, incident.id).await;
    }
    let prefix = &state.settings.file.channel_prefix;
    let bot = state.slack.bot_user_id().await?;
    for attempt in 1..=NAME_ATTEMPTS {
        let name = channel_name(prefix, incident.number(), &incident.service, attempt);
        let (channel, reused) = match state.slack.create_channel(&name).await {
            Ok(channel) => (channel, false),
            Err(e) if e.code() == Some("name_taken") => match state.slack.find_channel(&name).await? {
                // Ours: an earlier attempt created it and its answer was lost. Reuse it.
                Some(existing) if existing.creator.as_deref() == Some(bot.as_str()) => (existing, true),
                _ => continue,
            },
            Err(e) => return Err(e.into()),
        };
        let now = state.clock.now();
        let mut tx = state.db.begin().await?;
        store::set_channel(&mut *tx, incident.id, &channel.id, &channel.name).await?;
        let payload = json!({ "channel": channel.id, "name": channel.name, "reused": reused });
        timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::ChannelCreated, payload).await?;
        tx.commit().await?;
        return queue_channel_steps(state, incident.id).await;
    }
    Err(JobError::Fatal(format!(
        "conversations.create failed: every name from {} to suffix -{NAME_ATTEMPTS} is taken",
        channel_name(prefix, incident.number(), &incident.service, 1)
    )))
}

/// The steps that need the channel. Enqueue is idempotent, so a retried job adds nothing twice.
async fn queue_channel_steps(state: &AppState, incident_id: Uuid) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    for step in [kind::INVITE, kind::SET_TOPIC, kind::POST_DECLARATION, kind::ANNOUNCE] {
        queue::enqueue(&mut *tx, Some(incident_id), step, "", json!({}), now).await?;
    }
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

pub async fn invite(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = channel_of(&incident)?;
    // The declarer and the commander, unless the job names whom (a new commander, a tier). Only
    // people: an alert source or the API declares without being anyone to invite, and warroom's
    // own user (the commander of an unassigned incident) is in the channel already.
    let bot = state.slack.bot_user_id().await?;
    let named: Option<Vec<String>> = serde_json::from_value(job.payload["users"].clone()).ok();
    let mut users: Vec<String> =
        named.unwrap_or_else(|| vec![incident.declared_by.clone(), incident.commander.clone()]);
    users.retain(|u| blocks::is_person(u) && *u != bot);
    users.dedup();
    for user in &users {
        state.slack.invite(channel, user).await?;
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    crate::permissions::members::add(&mut *tx, channel, &users).await?;
    if job.payload["users"].is_null() {
        // The channel's first invitation: read its whole membership once (whoever else is in it).
        crate::permissions::members::queue_refresh(&mut *tx, channel, "declared", now).await?;
    }
    let payload = json!({ "channel": channel, "users": users });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::MembersInvited, payload).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_topic(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = channel_of(&incident)?;
    put_topic(state, &incident, channel).await
}

/// The channel topic: number, severity, service, status and title (Slack keeps 250 characters).
fn topic(incident: &Incident) -> String {
    format!(
        "{} {} · {} · {} — {}",
        incident.number(),
        incident.severity(),
        incident.service,
        incident.status,
        crate::templates::escape_mrkdwn(&incident.title)
    )
    .chars()
    .take(250)
    .collect()
}

async fn put_topic(state: &AppState, incident: &Incident, channel: &str) -> Result<(), JobError> {
    let topic = topic(incident);
    state.slack.set_topic(channel, &topic).await?;
    let payload = json!({ "channel": channel, "topic": topic });
    timeline::append(&state.db, incident.id, state.clock.now(), WARROOM, EventKind::TopicSet, payload).await?;
    Ok(())
}

/// Sets the topic again when what it shows (status, severity, title) changed since it was last
/// set; not before the declaration's own step set it the first time.
async fn refresh_topic(state: &AppState, incident: &Incident) -> Result<(), JobError> {
    let Some(channel) = incident.channel_id.as_deref() else { return Ok(()) };
    let last: Option<serde_json::Value> = sqlx::query_scalar!(
        "SELECT payload FROM timeline_events WHERE incident_id = $1 AND kind = 'topic_set' ORDER BY at DESC, id DESC LIMIT 1",
        incident.id
    )
    .fetch_optional(&state.db)
    .await?;
    match last {
        Some(last) if last["topic"].as_str() != Some(topic(incident).as_str()) => {
            put_topic(state, incident, channel).await
        }
        _ => Ok(()),
    }
}

pub async fn post_declaration(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    if incident.declaration_ts.is_none() {
        let channel = channel_of(&incident)?;
        state.limiter.acquire(channel, state.clock.now(), job.holds_slot).map_err(JobError::Defer)?;
        let (text, blocks) = declaration(state, &incident).await?;
        let (channel, ts) = super::post_once::post(state, job, channel, &text, &blocks).await?;
        let mut tx = state.db.begin().await?;
        store::set_declaration_ts(&mut *tx, incident.id, &ts).await?;
        let payload = json!({ "channel": channel, "ts": ts, "message": "declaration" });
        timeline::append(&mut *tx, incident.id, state.clock.now(), WARROOM, EventKind::MessagePosted, payload).await?;
        tx.commit().await?;
    }
    let mut tx = state.db.begin().await?;
    queue::enqueue(&mut *tx, Some(incident.id), kind::PIN_DECLARATION, "", json!({}), state.clock.now()).await?;
    // The runbook checklist follows the declaration in the channel.
    crate::checklist::post::after_declaration(&mut tx, state, &incident).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

pub async fn pin_declaration(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let channel = channel_of(&incident)?;
    let ts = incident.declaration_ts.as_deref().ok_or_else(|| JobError::Fatal("nothing to pin yet".into()))?;
    state.slack.pin(channel, ts).await?;
    let payload = json!({ "channel": channel, "ts": ts });
    timeline::append(&state.db, incident.id, state.clock.now(), WARROOM, EventKind::Pinned, payload).await?;
    Ok(())
}

pub async fn announce(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    if incident.announce_ts.is_some() {
        return Ok(());
    }
    let target = &state.settings.file.announce_channel;
    state.limiter.acquire(target, state.clock.now(), job.holds_slot).map_err(JobError::Defer)?;
    let (text, blocks) = declaration(state, &incident).await?;
    let (channel, ts) = super::post_once::post(state, job, target, &text, &blocks).await?;
    let mut tx = state.db.begin().await?;
    store::set_announcement(&mut *tx, incident.id, &channel, &ts).await?;
    let payload = json!({ "channel": channel, "ts": ts, "message": "announcement" });
    timeline::append(&mut *tx, incident.id, state.clock.now(), WARROOM, EventKind::MessagePosted, payload).await?;
    tx.commit().await?;
    Ok(())
}

/// Re-renders the declaration wherever it was posted (after an acknowledgement, an update, a
/// change of commander or severity, the resolution), and the channel topic if it went stale.
pub async fn refresh_declaration(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = super::load_incident(state, job).await?;
    let (text, blocks) = declaration(state, &incident).await?;
    let posted = [
        (incident.channel_id.as_deref(), incident.declaration_ts.as_deref()),
        (incident.announce_channel_id.as_deref(), incident.announce_ts.as_deref()),
    ];
    for (channel, ts) in posted {
        if let (Some(channel), Some(ts)) = (channel, ts) {
            state.slack.update_message(channel, ts, &text, &blocks).await?;
        }
    }
    refresh_topic(state, &incident).await
}
