//! The sandbox's channel membership: `conversations.members` (paginated, as Slack pages it),
//! and people joining or leaving a channel, with the `member_joined_channel` /
//! `member_left_channel` events Slack sends for it.

use serde_json::{json, Value};

use super::actor::{ActError, Reply};
use super::{State, Workspace, TEAM_ID};

/// `conversations.members`: `limit` members from `cursor` (an offset here; opaque in Slack).
pub(super) fn members(s: &State, channel: &str, cursor: &str, limit: u64) -> Result<Value, &'static str> {
    let c = s.channel(channel).filter(|c| super::web_api::visible_to_bot(c)).ok_or("channel_not_found")?;
    let start: usize = if cursor.is_empty() { 0 } else { cursor.parse().map_err(|_| "invalid_cursor")? };
    let limit = limit.clamp(1, 1000) as usize;
    let page: Vec<&String> = c.members.iter().skip(start).take(limit).collect();
    let next = if start + limit < c.members.len() { (start + limit).to_string() } else { String::new() };
    Ok(json!({ "members": page, "response_metadata": { "next_cursor": next } }))
}

impl Workspace {
    /// `user` joins `channel` (id or name); Slack sends `member_joined_channel`. Returns the
    /// event id and warroom's answer.
    /// A private channel cannot be joined, only be invited to ([`Self::invite_member`]).
    pub async fn join(&self, user: &str, channel: &str) -> Result<(String, Reply), ActError> {
        if self.read(|s| s.channel(channel).is_some_and(|c| c.is_private)) {
            return Err(ActError::Refused(format!("{channel} is a private channel: a member must invite {user}")));
        }
        let id = self.change_membership(user, channel, true)?;
        let event = json!({ "type": "member_joined_channel", "user": user, "channel": id, "channel_type": "C",
                            "team": TEAM_ID, "event_ts": self.event_ts() });
        self.deliver_new(event).await
    }

    /// `member` (who must be in it) adds `user` to the private channel `channel`, the only way
    /// into one; Slack sends `member_joined_channel` as for a join.
    pub async fn invite_member(&self, member: &str, user: &str, channel: &str) -> Result<(String, Reply), ActError> {
        let allowed = self.read(|s| s.channel(channel).map(|c| c.members.iter().any(|m| m == member)));
        match allowed {
            None => return Err(ActError::NotFound(format!("no channel {channel}"))),
            Some(false) => {
                return Err(ActError::Refused(format!("{member} is not in {channel}: only a member invites")))
            }
            Some(true) => {}
        }
        let id = self.change_membership(user, channel, true)?;
        let event = json!({ "type": "member_joined_channel", "user": user, "channel": id, "channel_type": "G",
                            "inviter": member, "team": TEAM_ID, "event_ts": self.event_ts() });
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
