//! The sandbox's Web API methods, with Slack's answers and error codes.

use serde_json::{json, Value};

use super::{faults, Channel, Ephemeral, Message, State, View, Workspace, BOT_TOKEN, BOT_USER, TEAM_ID};

/// What the HTTP layer sends back: status, optional `Retry-After`, JSON body, and how.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Value,
    pub after: After,
}

/// How the answer goes back (an injected fault may lose it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Answer,
    /// Not until long after any client's timeout.
    Hang,
    /// The connection dropped midway through the answer.
    Reset,
}

type MethodResult = Result<Value, &'static str>;

impl Workspace {
    /// Runs one Web API call as Slack would.
    pub(super) fn call(&self, method: &str, token: Option<&str>, params: Value) -> Answer {
        let answer = self.answer(method, token, params);
        self.activity.notify_waiters();
        answer
    }

    fn answer(&self, method: &str, token: Option<&str>, params: Value) -> Answer {
        let now = self.clock.now();
        self.with(|s| {
            s.calls.push((method.to_string(), params.clone()));
            let fault = faults::take(s, method, now);
            let answer = match fault.as_ref().and_then(faults::refusal) {
                Some(refused) => refused,
                None => faults::spoil(fault.as_ref(), self.carry_out(s, method, token, &params, now)),
            };
            faults::log(s, method, &params, now, &answer);
            answer
        })
    }

    fn carry_out(
        &self,
        s: &mut State,
        method: &str,
        token: Option<&str>,
        params: &Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Answer {
        {
            if method == "openid.connect.token" {
                return super::openid::token(s, params, now);
            }
            // `apps.connections.open` is authorised by the app-level token (checked below).
            if token != Some(BOT_TOKEN) && method != "apps.connections.open" {
                return error_answer(if token.is_none() { "not_authed" } else { "invalid_auth" });
            }
            if let Some(body) = super::scopes::refusal(s, method, params) {
                return Answer { status: 200, retry_after: None, body, after: After::Answer };
            }
            let p = |key: &str| params[key].as_str().unwrap_or("").to_string();
            if method == "chat.postMessage" && over_post_limit(s, &p("channel"), now) {
                let body = json!({ "ok": false, "error": "ratelimited" });
                return Answer { status: 429, retry_after: Some(1), body, after: After::Answer };
            }
            if let Some(refused) = refusal_for_limits(method, params) {
                return refused;
            }
            if let Some(code) = super::archive::refusal(s, method, params) {
                return error_answer(code);
            }
            let result = match method {
                "apps.connections.open" => self.open_socket_url(token),
                "auth.test" => Ok(json!({ "url": "http://sandbox.slack.local/", "team": "warroom sandbox",
                    "user": "warroom", "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": "B0WARROOM" })),
                "conversations.create" => create(s, &p("name"), flag(params, "is_private"), now),
                "conversations.list" => list(s, &p("cursor"), number(params, "limit").unwrap_or(100), &p("types")),
                "conversations.info" => s
                    .channel(&p("channel"))
                    .filter(|c| visible_to_bot(c))
                    .map(|c| {
                        let mut channel = channel_json(c);
                        if let Some(properties) = super::canvases::properties(s, &c.id) {
                            channel["properties"] = properties;
                        }
                        json!({ "channel": channel })
                    })
                    .ok_or("channel_not_found"),
                "conversations.canvases.create" => super::canvases::create(s, params),
                "canvases.edit" => super::canvases::edit(s, params),
                "conversations.invite" => invite(s, &p("channel"), &list_param(params, "users")),
                "conversations.join" => join(s, &p("channel")),
                "conversations.members" => {
                    super::membership::members(s, &p("channel"), &p("cursor"), number(params, "limit").unwrap_or(100))
                }
                "conversations.open" => open_dm(s, &list_param(params, "users"), now),
                "conversations.history" => super::history::history(s, params),
                "conversations.setTopic" => set_topic(s, &p("channel"), &p("topic")),
                "conversations.archive" => super::archive::archive(s, &p("channel")),
                "conversations.unarchive" => super::archive::unarchive(s, &p("channel")),
                "chat.postMessage" => post(s, params, now),
                "chat.update" => update(s, params),
                "chat.postEphemeral" => ephemeral(s, &p("channel"), &p("user"), &p("text"), &params["blocks"], now),
                "pins.add" => pin(s, &p("channel"), &p("timestamp")),
                "views.open" | "views.push" => open_view(s, &p("trigger_id"), &params["view"], now),
                "views.update" => update_view(s, &p("view_id"), &params["view"]),
                "files.getUploadURLExternal" => {
                    upload_url(s, params, &self.urls.lock().unwrap_or_else(|e| e.into_inner()).1)
                }
                "files.completeUploadExternal" => complete_upload(s, params, now),
                "files.upload" => Err("method_deprecated"),
                "files.info" => {
                    super::bookmarks::file_info(s, params, &self.urls.lock().unwrap_or_else(|e| e.into_inner()).1)
                }
                "chat.getPermalink" => super::bookmarks::permalink(s, params),
                "bookmarks.add" => super::bookmarks::add(s, params, now.timestamp()),
                "bookmarks.edit" => super::bookmarks::edit(s, params, now.timestamp()),
                "bookmarks.list" => super::bookmarks::list(s, params),
                "bookmarks.remove" => super::bookmarks::remove(s, params),
                "usergroups.list" => Ok(json!({ "usergroups": s.usergroups.iter().map(|(id, handle, users)| {
                    // Slack's whole user group object (slack-morphism reads each field it requires).
                    let count = users.len();
                    let users = if flag(params, "include_users") { json!(users) } else { Value::Null };
                    json!({ "id": id, "team_id": TEAM_ID, "is_usergroup": true, "is_subteam": true,
                        "name": handle, "description": "", "handle": handle, "is_external": false,
                        "date_create": 1_600_000_000, "date_update": 1_600_000_000, "date_delete": 0,
                        "created_by": "U0ALICE", "updated_by": "U0ALICE",
                        "prefs": { "channels": [], "groups": [] }, "user_count": count,
                        "users": users })
                }).collect::<Vec<_>>() })),
                "usergroups.users.list" => s
                    .usergroups
                    .iter()
                    .find(|(id, _, _)| *id == p("usergroup"))
                    .map(|(_, _, users)| json!({ "users": users }))
                    .ok_or("no_such_subteam"),
                "users.info" => s
                    .users
                    .iter()
                    .find(|u| u.id == p("user"))
                    .map(|u| {
                        json!({ "user": { "id": u.id, "name": u.name, "real_name": u.name, "tz": "UTC",
                                              "is_bot": u.id == BOT_USER, "deleted": false,
                                              "profile": { "email": u.email, "real_name": u.name } } })
                    })
                    .ok_or("user_not_found"),
                "users.lookupByEmail" => super::users::lookup_by_email(s, &p("email")),
                _ => Err("unknown_method"),
            };
            match result {
                Ok(mut body) => {
                    body["ok"] = json!(true);
                    Answer { status: 200, retry_after: None, body, after: After::Answer }
                }
                Err(code) => error_answer(code),
            }
        }
    }
}

/// Slack's per-channel burst limit, when enforced; records the post when it is allowed.
fn over_post_limit(s: &mut State, channel: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(id) = s.channel_mut(channel).map(|c| c.id.clone()) else { return false };
    let Some(limits) = s.rate_limits.as_mut() else { return false };
    let recent = limits.entry(id).or_default();
    recent.retain(|at| now - *at < chrono::Duration::seconds(1));
    if recent.len() >= 3 {
        return true;
    }
    recent.push(now);
    false
}

/// A number argument: a JSON number, or (form-encoded, in a query string) its text.
fn number(params: &Value, key: &str) -> Option<u64> {
    params[key].as_u64().or_else(|| params[key].as_str()?.trim().parse().ok())
}

/// A boolean argument: JSON `true`, or its text.
fn flag(params: &Value, key: &str) -> bool {
    params[key] == true || params[key] == "true" || params[key] == "1"
}

/// A list argument (`users`): comma-separated text, or (JSON) an array of strings.
fn list_param(params: &Value, key: &str) -> String {
    match &params[key] {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        other => other.as_str().unwrap_or("").to_string(),
    }
}

fn error_answer(code: &str) -> Answer {
    Answer { status: 200, retry_after: None, body: json!({ "ok": false, "error": code }), after: After::Answer }
}

/// A private channel is known only to its members: to anyone else it does not exist.
pub(super) fn visible_to_bot(c: &Channel) -> bool {
    !c.is_private || c.members.iter().any(|m| m == BOT_USER)
}

fn channel_json(c: &Channel) -> Value {
    // The sandbox has one token, the bot's: `is_member` is the bot's membership, as Slack says it.
    json!({ "id": c.id, "name": c.name, "created": c.created, "is_channel": true, "is_archived": c.is_archived, "creator": c.creator,
            "topic": { "value": c.topic }, "num_members": c.members.len(), "is_private": c.is_private,
            "is_member": c.members.iter().any(|m| m == BOT_USER) })
}

fn create(s: &mut State, name: &str, is_private: bool, now: chrono::DateTime<chrono::Utc>) -> MethodResult {
    if name.is_empty() {
        return Err("invalid_name_required");
    }
    if name.len() > 80 {
        return Err("invalid_name_maxlength");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err("invalid_name_specials");
    }
    if s.channels.iter().any(|c| c.name == name) {
        return Err("name_taken");
    }
    let id = s.next_id("C");
    let channel = Channel {
        id,
        name: name.into(),
        created: now.timestamp(),
        topic: String::new(),
        creator: BOT_USER.into(),
        members: vec![BOT_USER.into()],
        messages: Vec::new(),
        is_private,
        is_archived: false,
    };
    let body = json!({ "channel": channel_json(&channel) });
    s.channels.push(channel);
    Ok(body)
}

/// `conversations.list`: public channels (`types` default), and with `private_channel` in
/// `types` the private ones the bot is a member of, as Slack lists them for a bot token.
fn list(s: &mut State, cursor: &str, limit: u64, types: &str) -> MethodResult {
    let start: usize = cursor.parse().unwrap_or(0);
    let limit = limit.clamp(1, 1000) as usize;
    let types: Vec<&str> =
        if types.is_empty() { vec!["public_channel"] } else { types.split(',').map(str::trim).collect() };
    let listed: Vec<&Channel> = s
        .channels
        .iter()
        .filter(|c| match c.is_private {
            false => types.contains(&"public_channel"),
            true => types.contains(&"private_channel") && c.members.iter().any(|m| m == BOT_USER),
        })
        .collect();
    let page: Vec<Value> = listed.iter().skip(start).take(limit).map(|c| channel_json(c)).collect();
    let next = if start + limit < listed.len() { (start + limit).to_string() } else { String::new() };
    Ok(json!({ "channels": page, "response_metadata": { "next_cursor": next } }))
}

fn invite(s: &mut State, channel: &str, users: &str) -> MethodResult {
    let known: Vec<String> = s.users.iter().map(|u| u.id.clone()).collect();
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    let users: Vec<&str> = users.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
    if users.is_empty() {
        return Err("no_user");
    }
    if users.contains(&BOT_USER) {
        return Err("cant_invite_self");
    }
    if users.iter().any(|u| !known.iter().any(|k| k == u)) {
        return Err("user_not_found");
    }
    if users.iter().all(|u| c.members.iter().any(|m| m == u)) {
        return Err("already_in_channel");
    }
    for u in users {
        if !c.members.iter().any(|m| m == u) {
            c.members.push(u.into());
        }
    }
    Ok(json!({ "channel": channel_json(c) }))
}

/// A direct message channel between the bot and one person (`dm-<user id>`).
fn open_dm(s: &mut State, users: &str, now: chrono::DateTime<chrono::Utc>) -> MethodResult {
    let user = users.trim();
    if user.is_empty() || user.contains(',') {
        return Err(if user.is_empty() { "users_list_not_supplied" } else { "not_supported" });
    }
    if !s.users.iter().any(|u| u.id == user) {
        return Err("user_not_found");
    }
    let name = format!("dm-{}", user.to_lowercase());
    if let Some(existing) = s.channels.iter().find(|c| c.name == name) {
        return Ok(json!({ "channel": { "id": existing.id } }));
    }
    let id = s.next_id("D");
    s.channels.push(Channel {
        id: id.clone(),
        name,
        created: now.timestamp(),
        topic: String::new(),
        creator: BOT_USER.into(),
        members: vec![BOT_USER.into(), user.into()],
        messages: Vec::new(),
        is_private: false,
        is_archived: false,
    });
    Ok(json!({ "channel": { "id": id } }))
}

fn join(s: &mut State, channel: &str) -> MethodResult {
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    // Nobody joins a private channel: a member invites them.
    if c.is_private && !c.members.iter().any(|m| m == BOT_USER) {
        return Err("method_not_supported_for_channel_type");
    }
    if !c.members.iter().any(|m| m == BOT_USER) {
        c.members.push(BOT_USER.into());
    }
    Ok(json!({ "channel": channel_json(c) }))
}

fn set_topic(s: &mut State, channel: &str, topic: &str) -> MethodResult {
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    if topic.chars().count() > 250 {
        return Err("too_long");
    }
    c.topic = topic.into();
    Ok(json!({ "channel": channel_json(c) }))
}

fn post(s: &mut State, params: &Value, now: chrono::DateTime<chrono::Utc>) -> MethodResult {
    let text = params["text"].as_str().unwrap_or("");
    let blocks = params.get("blocks").cloned().unwrap_or(Value::Null);
    if !(blocks.is_null() || blocks.is_array()) {
        return Err("invalid_blocks");
    }
    if text.is_empty() && blocks.as_array().is_none_or(|b| b.is_empty()) {
        return Err("no_text");
    }
    let ts = next_ts(s, now);
    let c = s.channel_mut(params["channel"].as_str().unwrap_or("")).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    let message = Message {
        ts: ts.clone(),
        user: BOT_USER.into(),
        text: text.into(),
        blocks,
        files: Vec::new(),
        pinned: false,
        edited: false,
        metadata: params.get("metadata").cloned().unwrap_or(Value::Null),
        received: Some(std::time::Instant::now()),
        received_at: now,
    };
    let body =
        json!({ "channel": c.id, "ts": ts, "message": { "text": message.text, "ts": message.ts, "user": BOT_USER } });
    c.messages.push(message);
    Ok(body)
}

/// A person posts in a channel (the sandbox acting as them). Returns the message's ts.
pub(super) fn say(
    s: &mut State,
    user: &str,
    channel: &str,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let ts = next_ts(s, now);
    let c = s.channel_mut(channel)?;
    c.messages.push(Message {
        ts: ts.clone(),
        user: user.into(),
        text: text.into(),
        blocks: Value::Null,
        files: Vec::new(),
        pinned: false,
        edited: false,
        metadata: Value::Null,
        received: Some(std::time::Instant::now()),
        received_at: now,
    });
    Some(ts)
}

/// Slack's message timestamps: seconds and a unique six-digit suffix.
fn next_ts(s: &mut State, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = now.timestamp();
    s.last_ts = if s.last_ts.0 == secs { (secs, s.last_ts.1 + 1) } else { (secs, 1) };
    format!("{}.{:06}", s.last_ts.0, s.last_ts.1)
}

fn update(s: &mut State, params: &Value) -> MethodResult {
    let ts = params["ts"].as_str().unwrap_or("");
    let c = s.channel_mut(params["channel"].as_str().unwrap_or("")).ok_or("channel_not_found")?;
    let m = c.messages.iter_mut().find(|m| m.ts == ts).ok_or("message_not_found")?;
    if let Some(text) = params["text"].as_str() {
        m.text = text.into();
    }
    if let Some(blocks) = params.get("blocks").filter(|b| b.is_array()) {
        m.blocks = blocks.clone();
    }
    m.edited = true;
    let message = json!({ "type": "message", "user": BOT_USER, "text": m.text, "blocks": m.blocks,
                          "edited": { "user": BOT_USER, "ts": ts } });
    Ok(json!({ "channel": c.id, "ts": ts, "text": m.text, "message": message }))
}

/// Slack checks what a message or a modal carries before anything else: `msg_too_long` for a
/// message text over 40,000 characters; `invalid_blocks`, saying why in `errors` and
/// `response_metadata.messages`, for blocks beyond Block Kit's limits or of an unknown type.
fn refusal_for_limits(method: &str, params: &Value) -> Option<Answer> {
    let problems = match method {
        "chat.postMessage" | "chat.update" | "chat.postEphemeral" => {
            if let Some(problem) = super::block_kit::text_problem(&params["text"]) {
                tracing::warn!("sandbox: {method}: msg_too_long: {problem}");
                return Some(error_answer("msg_too_long"));
            }
            super::block_kit::problems(&params["blocks"])
        }
        // A view that is not a modal with blocks is `invalid_arguments` (the method says so).
        "views.open" | "views.push" | "views.update" if params["view"]["blocks"].is_array() => {
            super::block_kit::view_problems(&params["view"])
        }
        _ => return None,
    };
    if problems.is_empty() {
        return None;
    }
    tracing::warn!("sandbox: {method}: invalid_blocks: {}", problems.join("; "));
    Some(invalid_blocks(&problems))
}

/// Slack's `invalid_blocks` answer, in Slack's shape.
pub(super) fn invalid_blocks(problems: &[String]) -> Answer {
    let messages: Vec<String> = problems.iter().map(|p| format!("[ERROR] {p}")).collect();
    let body = json!({ "ok": false, "error": "invalid_blocks", "errors": problems,
                       "response_metadata": { "messages": messages } });
    Answer { status: 200, retry_after: None, body, after: After::Answer }
}

/// `chat.postEphemeral` as Slack answers it: `{ "ok": true, "message_ts": "1502210682.580145" }`,
/// or `no_text`, `invalid_blocks`, `channel_not_found`, `user_not_in_channel`.
fn ephemeral(
    s: &mut State,
    channel: &str,
    user: &str,
    text: &str,
    blocks: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> MethodResult {
    if !(blocks.is_null() || blocks.is_array()) {
        return Err("invalid_blocks");
    }
    if text.is_empty() && blocks.as_array().is_none_or(|b| b.is_empty()) {
        return Err("no_text");
    }
    // An ephemeral message has a ts of its own (it cannot be edited or read back by it); it is
    // numbered apart from the channel's messages, whose ts tests rely on.
    let message_ts = format!("{}.{:06}", now.timestamp(), s.ephemerals.len() % 1_000_000);
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == user) {
        return Err("user_not_in_channel");
    }
    let channel = Some(c.id.clone());
    let blocks = blocks.clone();
    s.ephemerals.push(Ephemeral { user: user.into(), channel, text: text.into(), blocks, via: "chat.postEphemeral" });
    Ok(json!({ "message_ts": message_ts }))
}

fn pin(s: &mut State, channel: &str, ts: &str) -> MethodResult {
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    let m = c.messages.iter_mut().find(|m| m.ts == ts).ok_or("message_not_found")?;
    if m.pinned {
        return Err("already_pinned");
    }
    m.pinned = true;
    Ok(json!({}))
}

fn open_view(s: &mut State, trigger_id: &str, view: &Value, now: chrono::DateTime<chrono::Utc>) -> MethodResult {
    let interaction = s.interactions.iter().find(|i| i.trigger_id == trigger_id).ok_or("invalid_trigger_id")?;
    // Slack's trigger ids are good for three seconds.
    if now - interaction.issued > chrono::Duration::seconds(3) {
        return Err("expired_trigger_id");
    }
    if view["type"] != "modal" || !view["blocks"].is_array() {
        return Err("invalid_arguments");
    }
    let user = interaction.user.clone();
    let id = s.next_id("V");
    let mut stored = view.clone();
    // What Slack adds to the view it opened.
    stored["id"] = json!(id);
    stored["team_id"] = json!(TEAM_ID);
    stored["hash"] = json!(format!("{}.{id}", now.timestamp()));
    stored["state"] = json!({ "values": {} });
    s.views.push(View { id: id.clone(), user, view: stored.clone() });
    Ok(json!({ "view": stored }))
}

/// `views.update`: the view replaced, under the same id.
fn update_view(s: &mut State, view_id: &str, view: &Value) -> MethodResult {
    let stored = s.views.iter_mut().find(|v| v.id == view_id).ok_or("not_found")?;
    let mut replaced = view.clone();
    replaced["id"] = json!(view_id);
    stored.view = replaced.clone();
    Ok(json!({ "view": replaced }))
}

fn upload_url(s: &mut State, params: &Value, sandbox_url: &str) -> MethodResult {
    let filename = params["filename"].as_str().filter(|f| !f.is_empty()).ok_or("invalid_arguments")?;
    let length =
        params["length"].as_u64().or_else(|| params["length"].as_str()?.parse().ok()).ok_or("invalid_arguments")?;
    if length == 0 || length > 1024 * 1024 * 1024 {
        return Err("invalid_length");
    }
    let id = s.next_id("F");
    s.files.push(super::File {
        id: id.clone(),
        name: filename.into(),
        title: filename.into(),
        content: Vec::new(),
        length: length as usize,
        completed: false,
    });
    Ok(json!({ "upload_url": format!("{sandbox_url}/upload/{id}"), "file_id": id }))
}

fn complete_upload(s: &mut State, params: &Value, now: chrono::DateTime<chrono::Utc>) -> MethodResult {
    // `files` is a JSON array (or, form-encoded, a JSON string of one).
    let files: Vec<Value> = match &params["files"] {
        Value::Array(files) => files.clone(),
        Value::String(text) => serde_json::from_str(text).map_err(|_| "invalid_arguments")?,
        _ => return Err("invalid_arguments"),
    };
    let mut shared = Vec::new();
    for f in &files {
        let id = f["id"].as_str().unwrap_or_default();
        let file = s.files.iter_mut().find(|x| x.id == id && !x.completed).ok_or("file_not_found")?;
        if file.content.len() != file.length {
            return Err("file_upload_size_mismatch");
        }
        file.completed = true;
        if let Some(title) = f["title"].as_str() {
            file.title = title.into();
        }
        shared.push(file.clone());
    }
    let Some(channel) = params["channel_id"].as_str() else {
        return Ok(
            json!({ "files": shared.iter().map(|f| json!({ "id": f.id, "title": f.title })).collect::<Vec<_>>() }),
        );
    };
    let ts = next_ts(s, now);
    let c = s.channel_mut(channel).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    let listed: Vec<Value> = shared.iter().map(|f| json!({ "id": f.id, "title": f.title, "name": f.name })).collect();
    c.messages.push(Message {
        ts,
        user: BOT_USER.into(),
        text: params["initial_comment"].as_str().unwrap_or("").into(),
        blocks: Value::Null,
        files: shared,
        pinned: false,
        edited: false,
        metadata: Value::Null,
        received: Some(std::time::Instant::now()),
        received_at: now,
    });
    Ok(json!({ "files": listed }))
}
