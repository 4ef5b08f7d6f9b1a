//! The sandbox as people in channels: posting a message, adding a reaction, pinning — and the
//! Events API callbacks Slack sends warroom for them (`reaction_added`, `pin_added`), signed.

use serde_json::{json, Value};

use super::actor::{ActError, Reply};
use super::{web_api, Workspace, TEAM_ID};

impl Workspace {
    /// `user` posts `text` in `channel` (id or name); returns the message's ts.
    pub fn say(&self, user: &str, channel: &str, text: &str) -> Result<String, ActError> {
        let now = self.clock.now();
        self.with(|s| web_api::say(s, user, channel, text, now))
            .ok_or_else(|| ActError::NotFound(format!("no channel {channel}")))
    }

    /// `user` edits the message `ts` in `channel` (Slack keeps no history of the old text).
    pub fn edit(&self, channel: &str, ts: &str, text: &str) -> Result<(), ActError> {
        self.with(|s| {
            let message = s.channel_mut(channel)?.messages.iter_mut().find(|m| m.ts == ts)?;
            message.text = text.into();
            message.edited = true;
            Some(())
        })
        .ok_or_else(|| ActError::NotFound(format!("no message {ts} in {channel}")))
    }

    /// `user` reacts with `:name:` to message `ts`; Slack sends `reaction_added`. Returns the
    /// event id (to deliver it again, as Slack's retries do).
    pub async fn react(&self, user: &str, channel: &str, ts: &str, name: &str) -> Result<(String, Reply), ActError> {
        let (channel_id, author) = self.message_author(channel, ts)?;
        let event = json!({
            "type": "reaction_added", "user": user, "reaction": name, "item_user": author,
            "item": { "type": "message", "channel": channel_id, "ts": ts }, "event_ts": self.event_ts(),
        });
        self.deliver_new(event).await
    }

    /// `user` pins message `ts`; Slack sends `pin_added` (with the message).
    pub async fn pin_by(&self, user: &str, channel: &str, ts: &str) -> Result<(String, Reply), ActError> {
        let (channel_id, _) = self.message_author(channel, ts)?;
        let message = self.with(|s| {
            let c = s.channel_mut(&channel_id)?;
            let m = c.messages.iter_mut().find(|m| m.ts == ts)?;
            m.pinned = true;
            Some(json!({ "type": "message", "ts": m.ts, "user": m.user, "text": m.text }))
        });
        let event = json!({
            "type": "pin_added", "user": user, "channel_id": channel_id,
            "item": { "type": "message", "channel": channel_id, "created_by": user, "message": message },
            "event_ts": self.event_ts(),
        });
        self.deliver_new(event).await
    }

    /// Delivers `event` in an `event_callback` envelope with `event_id`, signed.
    pub async fn deliver_event(&self, event: &Value, event_id: &str) -> Result<Reply, ActError> {
        let envelope = json!({
            "token": "sandbox-verification-token", "team_id": TEAM_ID, "api_app_id": "A0WARROOM",
            "type": "event_callback", "event_id": event_id, "event_time": self.clock.now().timestamp(), "event": event,
        });
        if self.socket_mode() {
            return self.deliver_envelope("events_api", envelope).await;
        }
        self.send_signed("/slack/events", "application/json", envelope.to_string().into_bytes()).await
    }

    pub(super) async fn deliver_new(&self, event: Value) -> Result<(String, Reply), ActError> {
        let id = self.with(|s| {
            s.next_id += 1;
            format!("Ev0SBX{:06}", s.next_id)
        });
        let reply = self.deliver_event(&event, &id).await?;
        Ok((id, reply))
    }

    fn message_author(&self, channel: &str, ts: &str) -> Result<(String, String), ActError> {
        let c = self.channel(channel).ok_or_else(|| ActError::NotFound(format!("no channel {channel}")))?;
        let m = c.messages.iter().find(|m| m.ts == ts).ok_or_else(|| ActError::NotFound(format!("no message {ts}")))?;
        Ok((c.id, m.user.clone()))
    }

    pub(super) fn event_ts(&self) -> String {
        format!("{}.000200", self.clock.now().timestamp())
    }
}
