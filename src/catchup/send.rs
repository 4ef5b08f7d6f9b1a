//! The [`kind::CATCHUP_CARD`](crate::jobs::kind::CATCHUP_CARD) job: `{ "user", "channel" }`. Reads
//! the card when it runs (not when the join was heard), so a card delayed by a Slack outage says
//! where things stand when it arrives, and sends it with `chat.postEphemeral`.
//!
//! Slack's 429 and 5xx are retried by the queue. An ephemeral message cannot be read back, so a
//! call whose outcome is unknown (a 500 after Slack took it, a timeout) is sent again: a second
//! card is a smaller harm than none.

use crate::app::AppState;
use crate::jobs::{queue, JobError};

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident_id = job.incident_id.ok_or_else(|| JobError::Fatal("a catch-up card without an incident".into()))?;
    let (Some(user), Some(channel)) = (job.payload["user"].as_str(), job.payload["channel"].as_str()) else {
        return Err(JobError::Fatal("a catch-up card for nobody".into()));
    };
    // warroom's own user joins the channels it creates; it needs no card.
    let bot = state.slack.bot_user_id().await?;
    if user == bot {
        return Ok(());
    }
    let reading =
        super::card::Reading { roles: &state.settings.file.roles, bot_user: Some(&bot), matching: state.seen_before };
    let card = {
        let mut db = state.db.acquire().await?;
        super::load(&mut db, reading, incident_id, state.clock.now()).await?
    };
    let Some(card) = card else { return Ok(()) };
    let (text, blocks) = super::render(&state.templates, &card, Some(&bot))
        .map_err(|e| JobError::Fatal(format!("the catch-up card did not render: {e}")))?;
    match state.slack.post_ephemeral(channel, user, &text, &crate::slack::kit::json(&blocks)).await {
        // They left (or the channel went) before the card did: nobody is waiting for it.
        Err(e) if matches!(e.code(), Some("user_not_in_channel" | "channel_not_found" | "is_archived")) => {
            tracing::info!(incident.id = %incident_id, "catch-up card for {user} not sent: {e}");
            Ok(())
        }
        other => Ok(other?),
    }
}
