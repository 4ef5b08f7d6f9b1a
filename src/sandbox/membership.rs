//! The sandbox's channel membership: `conversations.members` (paginated, as Slack pages it),
//! and people joining or leaving a channel, with the `member_joined_channel` /
//! `member_left_channel` events Slack sends for it.

use serde_json::{json, Value};

use super::actor::{ActError, Reply};
use super::{State, Workspace, TEAM_ID};

/// `conversations.members`: `limit` members from `cursor` (an offset here; opaque in Slack).
pub(super) fn members(s: &State, channel: &str, cursor: &str, limit: u64) -> Result<Value, &'static str> {
    let c = s.channel(channel).ok_or("channel_not_found")?;
    let start: usize = if cursor.is_empty() { 0 } else { cursor.parse().map_err(|_| "invalid_cursor")? };
    let limit = limit.clamp(1, 1000) as usize;
    let page: Vec<&String> = c.members.iter().skip(start).take(limit).collect();
    let next = if start + limit < c.members.len() { (start + limit).to_string() } else { String::new() };
    Ok(json!({ "members": page, "response_metadata": { "next_cursor": next } }))
}

impl Workspace {
    /// `user` joins `channel` (id or name); Slack sends `member_joined_channel`. Returns the
    /// event id and warroom's answer.
    pub async fn join(&self, user: &str, channel: &str) -> Result<(String, Reply), ActError> {
        let id = self.change_membership(user, channel, true)?;
        let event = json!({ "type": "member_joined_channel", "user": user, "channel": id, "channel_type": "C",
                            "team": TEAM_ID, "event_ts": self.event_ts() });
        self.deliver_new(event).await
    }

    /// `user` leaves `channel`; Slack sends `member_left_channel`.
    pub async fn leave(&self, user: &str, channel: &str) -> Result<(String, Reply), ActError> {
        let id = self.change_membership(user, channel, false)?;
        let event = json!({ "type": "member_left_channel", "user": user, "channel": id, "channel_type": "C",
                            "team": TEAM_ID, "event_ts": self.event_ts() });
        self.deliver_new(event).await
    }

    fn change_membership(&self, user: &str, channel: &str, join: bool) -> Result<String, ActError> {
        self.with(|s| {
            let c = s.channel_mut(channel)?;
            c.members.retain(|m| m != user);
            if join {
                c.members.push(user.to_string());
            }
            Some(c.id.clone())
        })
        .ok_or_else(|| ActError::NotFound(format!("no channel {channel}")))
    }
}
