//! Keeps `channel_members` (the `participants` principal) current: `member_joined_channel` and
//! `member_left_channel` events for incident channels, and the [`kind::REFRESH_MEMBERS`] job that
//! reads a channel's whole list through `conversations.members`.

use serde_json::Value;
use sqlx::PgConnection;

use crate::app::AppState;
use crate::jobs::{queue, JobError};
use crate::permissions::members;

/// Acts on an Events API event (first delivery only), in the transaction that took the event's
/// key; other events are ignored, as is one whose channel or user is not plain text.
pub async fn on_event(db: &mut PgConnection, event: &Value) -> sqlx::Result<()> {
    let joined = match event["type"].as_str() {
        Some("member_joined_channel") => true,
        Some("member_left_channel") => false,
        _ => return Ok(()),
    };
    let (Some(channel), Some(user)) = (event["channel"].as_str(), event["user"].as_str()) else { return Ok(()) };
    if [channel, user].into_iter().any(|v| crate::input::refused_char(v).is_some()) {
        tracing::warn!("ignored a membership event with a control character in its channel or user");
        return Ok(());
    }
    // Only incident channels matter; the rest of the workspace is none of warroom's business.
    if crate::incident::store::by_channel(&mut *db, channel).await?.is_none() {
        return Ok(());
    }
    if joined {
        members::add(db, channel, &[user.to_string()]).await
    } else {
        members::remove(db, channel, user).await
    }
}

/// [`crate::jobs::kind::REFRESH_MEMBERS`]: `{ "channel": ... }`.
pub async fn refresh(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let channel = job.payload["channel"].as_str().ok_or_else(|| JobError::Fatal("no channel to read".into()))?;
    let list = state.slack.channel_members(channel).await?;
    members::replace(&state.db, channel, &list).await?;
    Ok(())
}
