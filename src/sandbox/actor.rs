//! The sandbox acting as a person: slash commands, button clicks and modal submissions, signed
//! as Slack signs them and sent over HTTP to warroom's real endpoints.

use serde_json::{json, Map, Value};

use super::{Ephemeral, Interaction, Workspace, TEAM_ID};
use crate::slack::verify::sign;

/// What warroom answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The reply's JSON (`{}` when the body is empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| json!({}))
    }

    /// The text of an ephemeral reply.
    pub fn text(&self) -> String {
        self.json()["text"].as_str().unwrap_or("").to_string()
    }
}

/// Why the sandbox could not act.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("{0}")]
    NotFound(String),
    #[error("could not reach warroom: {0}")]
    Unreachable(String),
    /// Slack would not let the person do it (join a private channel).
    #[error("{0}")]
    Refused(String),
}

impl Workspace {
    fn begin(&self, user: &str, channel: Option<&str>) -> (String, String) {
        let now = self.clock.now();
        let sandbox_url = self.urls.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        self.with(|s| {
            s.next_id += 1;
            let n = s.next_id;
            let trigger_id = format!("{n}.{}.sbx{n:08x}", now.timestamp());
            s.interactions.push(Interaction {
                user: user.into(),
                channel: channel.map(Into::into),
                trigger_id: trigger_id.clone(),
                issued: now,
            });
            (trigger_id, format!("{sandbox_url}/response/{n}"))
        })
    }

    fn user_name(&self, user: &str) -> String {
        self.with(|s| s.users.iter().find(|u| u.id == user).map(|u| u.name.clone()).unwrap_or_else(|| user.into()))
    }

    /// Types `/incident <text>` as `user` in `channel` (id or name).
    pub async fn slash(&self, user: &str, channel: &str, text: &str) -> Result<Reply, ActError> {
        let channel = self.channel(channel).ok_or_else(|| ActError::NotFound(format!("no channel {channel}")))?;
        let (trigger_id, response_url) = self.begin(user, Some(&channel.id));
        let form = [
            ("token", "sandbox-verification-token"),
            ("team_id", TEAM_ID),
            ("team_domain", "sandbox"),
            ("channel_id", &channel.id),
            ("channel_name", &channel.name),
            ("user_id", user),
            ("user_name", &self.user_name(user)),
            ("command", "/incident"),
            ("text", text),
            ("api_app_id", "A0WARROOM"),
            ("response_url", &response_url),
            ("trigger_id", &trigger_id),
        ];
        if self.socket_mode() {
            let payload: Map<String, Value> = form.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            return self.deliver_envelope("slash_commands", Value::Object(payload)).await;
        }
        let body = serde_urlencoded::to_string(form).unwrap_or_default();
        self.send_signed("/slack/commands", "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// Clicks the button `action_id` on message `ts` in `channel`, as `user`.
    pub async fn click(&self, user: &str, channel: &str, ts: &str, action_id: &str) -> Result<Reply, ActError> {
        let channel = self.channel(channel).ok_or_else(|| ActError::NotFound(format!("no channel {channel}")))?;
        let message = channel
            .messages
            .iter()
            .find(|m| m.ts == ts)
            .ok_or_else(|| ActError::NotFound(format!("no message {ts}")))?;
        let container = json!({ "type": "message", "message_ts": ts, "channel_id": channel.id, "is_ephemeral": false });
        let message = json!({ "type": "message", "ts": ts, "text": message.text, "blocks": message.blocks });
        self.press(user, &channel.id, &channel.name, container, message, |_| true, action_id).await
    }

    /// Clicks the button `action_id` whose value is `value` in the newest ephemeral message
    /// `user` was shown that has it.
    pub async fn click_ephemeral(&self, user: &str, action_id: &str, value: &str) -> Result<Reply, ActError> {
        let has = |b: &Value| b["action_id"] == action_id && b["value"] == value;
        let ephemeral = self
            .ephemerals(user)
            .into_iter()
            .rev()
            .find(|e| buttons(&e.blocks).any(|(_, b)| has(b)))
            .ok_or_else(|| ActError::NotFound(format!("no ephemeral button {action_id}={value} for {user}")))?;
        let channel_id = ephemeral.channel.clone().unwrap_or_default();
        let channel_name = self.channel(&channel_id).map(|c| c.name).unwrap_or_default();
        let container = json!({ "type": "message", "message_ts": "0", "channel_id": channel_id, "is_ephemeral": true });
        let message = json!({ "type": "message", "text": ephemeral.text, "blocks": ephemeral.blocks });
        self.press(user, &channel_id, &channel_name, container, message, has, action_id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn press(
        &self,
        user: &str,
        channel_id: &str,
        channel_name: &str,
        container: Value,
        message: Value,
        matches: impl Fn(&Value) -> bool,
        action_id: &str,
    ) -> Result<Reply, ActError> {
        let (block_id, button) = buttons(&message["blocks"])
            .find(|(_, e)| e["action_id"] == action_id && matches(e))
            .map(|(id, b)| (id, b.clone()))
            .ok_or_else(|| ActError::NotFound(format!("no button {action_id}")))?;
        let (trigger_id, response_url) = self.begin(user, Some(channel_id));
        let payload = json!({
            "type": "block_actions",
            "team": { "id": TEAM_ID, "domain": "sandbox" },
            "user": { "id": user, "username": self.user_name(user), "team_id": TEAM_ID },
            "api_app_id": "A0WARROOM",
            "token": "sandbox-verification-token",
            "container": container,
            "trigger_id": trigger_id,
            "channel": { "id": channel_id, "name": channel_name },
            "message": message,
            "response_url": response_url,
            "actions": [{
                "type": "button", "action_id": action_id, "block_id": block_id, "value": button["value"],
                "text": button["text"], "action_ts": format!("{}.000100", self.clock.now().timestamp()),
            }],
        });
        self.send_interaction(&payload).await
    }

    /// Fills the modal `view_id` with `values` (block id → value) and submits it as `user`.
    /// Text inputs take the text, selects the option value, user pickers a user id, checkboxes
    /// the ticked values (comma-separated).
    pub async fn submit_view(&self, user: &str, view_id: &str, values: &[(&str, &str)]) -> Result<Reply, ActError> {
        let view = self
            .views()
            .into_iter()
            .find(|v| v.id == view_id)
            .ok_or_else(|| ActError::NotFound(format!("no view {view_id}")))?;
        let mut state = Map::new();
        for block in view.view["blocks"].as_array().into_iter().flatten() {
            let (Some(block_id), element) = (block["block_id"].as_str(), &block["element"]) else { continue };
            let action_id = element["action_id"].as_str().unwrap_or("value");
            let given = values.iter().find(|(k, _)| *k == block_id).map(|(_, v)| *v);
            let value = match element["type"].as_str().unwrap_or("") {
                "static_select" => json!({ "type": "static_select",
                    "selected_option": given.map(|v| json!({ "value": v, "text": { "type": "plain_text", "text": v } })) }),
                "users_select" => json!({ "type": "users_select", "selected_user": given }),
                // Checkboxes take the ticked options' values, comma-separated ("" ticks none).
                "checkboxes" => {
                    let ticked: Vec<Value> = given
                        .unwrap_or("")
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(|v| json!({ "value": v, "text": { "type": "plain_text", "text": v } }))
                        .collect();
                    json!({ "type": "checkboxes", "selected_options": ticked })
                }
                other => json!({ "type": other, "value": given }),
            };
            state.insert(block_id.into(), json!({ action_id: value }));
        }
        let (trigger_id, _) = self.begin(user, None);
        let payload = json!({
            "type": "view_submission",
            "team": { "id": TEAM_ID, "domain": "sandbox" },
            "user": { "id": user, "username": self.user_name(user), "team_id": TEAM_ID },
            "api_app_id": "A0WARROOM",
            "token": "sandbox-verification-token",
            "trigger_id": trigger_id,
            "view": {
                "id": view.id, "type": "modal", "callback_id": view.view["callback_id"],
                "private_metadata": view.view["private_metadata"], "state": { "values": state },
            },
        });
        self.send_interaction(&payload).await
    }

    async fn send_interaction(&self, payload: &Value) -> Result<Reply, ActError> {
        if self.socket_mode() {
            return self.deliver_envelope("interactive", payload.clone()).await;
        }
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap_or_default();
        self.send_signed("/slack/interactions", "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// POSTs `body` to warroom's `path`, signed with the workspace's signing secret and clock.
    pub async fn send_signed(&self, path: &str, content_type: &str, body: Vec<u8>) -> Result<Reply, ActError> {
        let timestamp = self.clock.now().timestamp().to_string();
        let signature = sign(self.signing_secret.expose(), &timestamp, &body);
        self.send_raw(path, content_type, body, Some((&timestamp, &signature))).await
    }

    /// POSTs `body` to warroom's `path` with the given signature headers, if any (for forgeries).
    pub async fn send_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        signature: Option<(&str, &str)>,
    ) -> Result<Reply, ActError> {
        let warroom_url = self.urls.lock().unwrap_or_else(|e| e.into_inner()).0.clone();
        let mut request =
            self.http.post(format!("{warroom_url}{path}")).header("content-type", content_type).body(body);
        if let Some((timestamp, signature)) = signature {
            request = request.header("x-slack-request-timestamp", timestamp).header("x-slack-signature", signature);
        }
        let response = request.send().await.map_err(|e| ActError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| ActError::Unreachable(e.to_string()))?;
        Ok(Reply { status, body })
    }

    /// Keeps warroom's immediate answer to a command or click (when it has text or blocks) as
    /// the ephemeral message Slack would show `user` in `channel` (id or name).
    pub fn record_reply(&self, user: &str, channel: &str, reply: &Reply) {
        let body = reply.json();
        let text = body["text"].as_str().unwrap_or("").to_string();
        let blocks = body["blocks"].clone();
        if text.is_empty() && !blocks.is_array() {
            return;
        }
        let channel = self.channel(channel).map(|c| c.id);
        self.with(|s| s.ephemerals.push(Ephemeral { user: user.into(), channel, text, blocks, via: "reply" }));
    }

    /// A POST to a response_url the sandbox handed out.
    pub(super) fn record_response(&self, id: u64, body: &Value) -> bool {
        self.with(|s| {
            let Some(i) = s.interactions.iter().find(|i| i.trigger_id.starts_with(&format!("{id}."))).cloned() else {
                return false;
            };
            let text = body["text"].as_str().unwrap_or("").to_string();
            let blocks = body["blocks"].clone();
            // A `response_url` takes what chat.postEphemeral takes, and refuses the same.
            let mut problems: Vec<String> = super::block_kit::text_problem(&body["text"]).into_iter().collect();
            problems.extend(super::block_kit::problems(&blocks));
            if !problems.is_empty() {
                tracing::warn!("sandbox: response_url: invalid_blocks: {}", problems.join("; "));
                let answer = super::web_api::invalid_blocks(&problems);
                super::faults::log(s, "response_url", body, self.clock.now(), &answer);
                return false;
            }
            s.ephemerals.push(Ephemeral { user: i.user, channel: i.channel, text, blocks, via: "response_url" });
            true
        })
    }
}

/// Every button in `blocks` (in `actions` elements and section accessories), with its block id.
fn buttons(blocks: &Value) -> impl Iterator<Item = (Value, &Value)> {
    blocks.as_array().into_iter().flatten().flat_map(|b| {
        let elements = b["elements"].as_array().into_iter().flatten();
        let accessory = std::iter::once(&b["accessory"]).filter(|a| a.is_object());
        elements.chain(accessory).filter(|e| e["type"] == "button").map(move |e| (b["block_id"].clone(), e))
    })
}
