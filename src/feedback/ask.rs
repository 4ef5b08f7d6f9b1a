//! The ask: who took part ([`run`]), and the DM each of them gets once ([`direct_message`]).

use serde_json::json;

use super::{kind, ACTION_OPEN};
use crate::app::AppState;
use crate::jobs::{post_once, queue, JobError};
use crate::slack::kit;

/// [`kind::ASK`]: the incident channel's people (as Slack lists its members now) and the
/// commander, less warroom and other bots; each not asked before is recorded and gets a DM job,
/// in one transaction.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let mut people = match &incident.channel_id {
        Some(channel) => state.slack.channel_members(channel).await?,
        None => Vec::new(),
    };
    if !people.contains(&incident.commander) {
        people.push(incident.commander.clone());
    }
    let bot = state.slack.bot_user_id().await?;
    let mut asked = Vec::new();
    for user in people {
        // Only Slack user ids: an unassigned commander is warroom itself, or a placeholder.
        if user == bot || !user.starts_with(['U', 'W']) || state.slack.is_bot(&user).await? {
            continue;
        }
        asked.push(user);
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    for user in &asked {
        let new = sqlx::query(
            "INSERT INTO feedback_asks (incident_id, user_id, asked_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(incident.id)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if new {
            let payload = json!({ "user": user });
            queue::enqueue(&mut *tx, Some(incident.id), kind::DM, &format!("dm:{user}"), payload, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// [`kind::DM`]: the ask, with its button, posted once in the person's DM.
pub async fn direct_message(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let user = job.payload["user"].as_str().ok_or_else(|| JobError::Fatal("a feedback DM without a user".into()))?;
    let data = json!({ "number": incident.number().to_string(), "title": incident.title });
    let text = state.templates.render("feedback_ask", &data)?;
    let button = kit::primary(kit::button(ACTION_OPEN, "Give feedback", incident.id.to_string()));
    let blocks = vec![kit::section(None, text.clone()), kit::actions(Some("feedback"), vec![button])];
    let fallback = crate::slack::limits::label(&text, 150);
    let channel = state.slack.open_dm(user).await?;
    post_once::post(state, job, &channel, &fallback, &blocks).await?;
    Ok(())
}
