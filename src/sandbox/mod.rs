//! The sandbox workspace: an in-process Slack. It implements the Web API methods warroom calls
//! (with Slack's response shapes and error codes), keeps channels, messages, pins, modals and
//! ephemeral replies in memory, can fail on purpose (`ratelimited` with HTTP 429, any error code),
//! and acts as a person: it signs slash commands, button clicks and modal submissions exactly as
//! Slack does and sends them to warroom's real endpoints (or, in Socket Mode, sends them as
//! envelopes over warroom's WebSocket connections).

pub mod actor;
mod archive;
pub mod block_kit;
mod bookmarks;
mod canvases;
mod changes;
mod events;
mod faults;
pub mod github;
mod history;
pub mod http;
pub mod jira;
pub mod linear;
mod membership;
pub mod openid;
pub mod pagerduty;
pub mod pagerduty_rest;
mod scopes;
pub mod socket;
pub mod statuspage;
pub mod trackers;
mod users;
mod web_api;

pub use bookmarks::Bookmark;
pub use canvases::Canvas;
pub use faults::{CallRecord, Fault};

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::clock::SharedClock;
use crate::secret::Secret;

pub const TEAM_ID: &str = "T0SANDBOX";
pub const BOT_USER: &str = "U0WARROOM";
pub const BOT_TOKEN: &str = "xoxb-sandbox-token";

/// The email of the sandbox person `name` (in Slack and in the sandbox PagerDuty alike).
pub fn sandbox_email(name: &str) -> String {
    format!("{name}@example.com")
}

/// A person in the sandbox workspace.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Their email (`users.lookupByEmail`); the bot has none.
    pub email: Option<String>,
}

/// A channel with everything posted in it.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// When it was created (unix seconds): Slack's `created`.
    pub created: i64,
    pub topic: String,
    pub creator: String,
    pub members: Vec<String>,
    pub messages: Vec<Message>,
    /// A private channel (`conversations.create` with `is_private`): only its members see it,
    /// in `conversations.list` and everywhere else, and nobody joins it without an invitation.
    pub is_private: bool,
    /// Archived (`conversations.archive`): read-only until `conversations.unarchive`; a post
    /// into it is refused with `is_archived`, and `conversations.list` leaves it out when asked.
    pub is_archived: bool,
}

/// A file uploaded through `files.getUploadURLExternal` and `files.completeUploadExternal`.
#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub id: String,
    pub name: String,
    pub title: String,
    /// What was uploaded to the upload URL (empty until then).
    pub content: Vec<u8>,
    /// The length announced when the upload URL was asked for.
    pub length: usize,
    pub completed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub ts: String,
    pub user: String,
    pub text: String,
    pub blocks: Value,
    /// Files shared with the message.
    pub files: Vec<File>,
    pub pinned: bool,
    pub edited: bool,
    /// `metadata` given to `chat.postMessage` (`null` without).
    pub metadata: Value,
    /// When the sandbox received it (for latency measurements): a monotonic instant, and the
    /// workspace clock's time.
    #[serde(skip)]
    pub received: Option<std::time::Instant>,
    pub received_at: DateTime<Utc>,
}

/// A reply only one person sees: via `response_url` or `chat.postEphemeral`.
#[derive(Debug, Clone, Serialize)]
pub struct Ephemeral {
    pub user: String,
    pub channel: Option<String>,
    pub text: String,
    pub blocks: Value,
    pub via: &'static str,
}

/// A modal opened with `views.open`.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: String,
    pub user: String,
    pub view: Value,
}

/// A slash command or click in flight: who did it and where, keyed by its response_url id.
#[derive(Debug, Clone)]
struct Interaction {
    user: String,
    channel: Option<String>,
    trigger_id: String,
    issued: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    users: Vec<User>,
    channels: Vec<Channel>,
    ephemerals: Vec<Ephemeral>,
    views: Vec<View>,
    interactions: Vec<Interaction>,
    faults: Vec<faults::InjectedFault>,
    /// Every Web API call, answered.
    log: Vec<CallRecord>,
    files: Vec<File>,
    /// Channel bookmarks, every channel's.
    bookmarks: Vec<Bookmark>,
    /// Channel canvases, every channel's.
    canvases: Vec<Canvas>,
    /// The error `conversations.canvases.create` answers, as a plan without canvases does.
    canvas_refusal: Option<&'static str>,
    /// User groups: (id, handle, members).
    usergroups: Vec<(String, String, Vec<String>)>,
    /// Slack's per-channel posting limit, when enforced: recent post times by channel id.
    rate_limits: Option<std::collections::HashMap<String, Vec<DateTime<Utc>>>>,
    calls: Vec<(String, Value)>,
    /// Bot scopes taken away from the app (all of the manifest's are granted otherwise).
    revoked_scopes: Vec<String>,
    /// Sign in with Slack: the codes handed out, the app's redirect URLs.
    openid: openid::Provider,
    next_id: u64,
    last_ts: (i64, u64),
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}0SBX{:05}", self.next_id)
    }

    fn channel_mut(&mut self, id_or_name: &str) -> Option<&mut Channel> {
        let key = id_or_name.trim_start_matches('#');
        self.channels.iter_mut().find(|c| c.id == key || c.name == key)
    }

    fn channel(&self, id_or_name: &str) -> Option<&Channel> {
        let key = id_or_name.trim_start_matches('#');
        self.channels.iter().find(|c| c.id == key || c.name == key)
    }
}

/// The sandbox workspace. Cheap to share: wrap it in an `Arc`.
pub struct Workspace {
    state: Mutex<State>,
    clock: SharedClock,
    signing_secret: Secret,
    /// warroom's base URL (where commands and clicks go) and the sandbox's own (for response_urls).
    urls: Mutex<(String, String)>,
    http: reqwest::Client,
    /// Signalled after every Web API call, for tests waiting on what warroom does.
    activity: tokio::sync::Notify,
    /// Socket Mode: its connections and the envelopes in flight (see [`socket`]).
    sockets: Mutex<socket::Sockets>,
    sockets_changed: tokio::sync::Notify,
    /// The state's version, for the page's long-poll of `/sandbox/state`.
    changes: changes::Changes,
}

impl Workspace {
    /// A workspace with three people (alice, bob, carol), `#incidents` and `#general`, and the
    /// user groups `@sre-leads` (bob) and `@sre-oncall` (alice and bob).
    pub fn new(clock: SharedClock, signing_secret: Secret) -> Self {
        let mut state = State::default();
        for name in ["alice", "bob", "carol"] {
            let id = format!("U0{}", name.to_uppercase());
            state.users.push(User { id, name: name.into(), email: Some(sandbox_email(name)) });
        }
        state.users.push(User { id: BOT_USER.into(), name: "warroom".into(), email: None });
        let everyone: Vec<String> = state.users.iter().map(|u| u.id.clone()).collect();
        let created = clock.now().timestamp();
        for (id, name) in [("C0INCIDENTS", "incidents"), ("C0GENERAL", "general")] {
            state.channels.push(Channel {
                id: id.into(),
                name: name.into(),
                created,
                topic: String::new(),
                creator: "U0ALICE".into(),
                members: everyone.clone(),
                messages: Vec::new(),
                is_private: false,
                is_archived: false,
            });
        }
        state.usergroups.push(("S0SRELEADS".into(), "sre-leads".into(), vec!["U0BOB".into()]));
        // The on-call responders of warroom.example.toml's `[roles] responders`.
        state.usergroups.push(("S0SREONCALL".into(), "sre-oncall".into(), vec!["U0ALICE".into(), "U0BOB".into()]));
        Self {
            state: Mutex::new(state),
            clock,
            signing_secret,
            urls: Mutex::new((String::new(), String::new())),
            http: crate::tls::http_client(),
            activity: tokio::sync::Notify::new(),
            sockets: Mutex::default(),
            sockets_changed: tokio::sync::Notify::new(),
            changes: changes::Changes::default(),
        }
    }

    /// Where warroom listens (`http://127.0.0.1:8080`) and where this sandbox is served.
    pub fn connect(&self, warroom_url: &str, sandbox_url: &str) {
        *self.urls.lock().unwrap_or_else(|e| e.into_inner()) =
            (warroom_url.trim_end_matches('/').into(), sandbox_url.trim_end_matches('/').into());
    }

    /// Runs `f` on the state and counts it as a change (waking the page's long-polls). Every
    /// Web API call goes through here, the reading ones too: a spare wake costs one refresh.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state);
        self.changes.bump();
        out
    }

    /// Looks at the state without counting a change (so that answering a long-poll never wakes it).
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Resolves after the next Web API call warroom makes.
    pub async fn activity(&self) {
        self.activity.notified().await;
    }

    /// Enforces Slack's `chat.postMessage` limit: about one message per second per channel, with
    /// short bursts (here: a fourth post within one second is answered 429, `Retry-After: 1`).
    pub fn enforce_rate_limits(&self) {
        self.with(|s| s.rate_limits = Some(Default::default()));
    }

    /// Creates a channel that warroom did not create (to test name collisions).
    pub fn create_foreign_channel(&self, name: &str) -> String {
        self.add_channel(name, "U0CAROL")
    }

    /// Creates a public channel the bot created and is in (benchmarks seed thousands).
    pub fn create_bot_channel(&self, name: &str) -> String {
        self.add_channel(name, BOT_USER)
    }

    fn add_channel(&self, name: &str, creator: &str) -> String {
        let created = self.clock.now().timestamp();
        self.with(|s| {
            let id = s.next_id("C");
            s.channels.push(Channel {
                id: id.clone(),
                name: name.into(),
                created,
                topic: String::new(),
                creator: creator.into(),
                members: vec![creator.into()],
                messages: Vec::new(),
                is_private: false,
                is_archived: false,
            });
            id
        })
    }

    /// Stores bytes sent to an upload URL; false when the URL is unknown or the size is wrong.
    pub(super) fn receive_upload(&self, file_id: &str, bytes: &[u8]) -> bool {
        self.with(|s| match s.files.iter_mut().find(|f| f.id == file_id && !f.completed) {
            Some(file) if file.length == bytes.len() => {
                file.content = bytes.to_vec();
                true
            }
            _ => false,
        })
    }

    pub fn users(&self) -> Vec<User> {
        self.read(|s| s.users.clone())
    }

    pub fn channels(&self) -> Vec<Channel> {
        self.read(|s| s.channels.clone())
    }

    pub fn channel(&self, id_or_name: &str) -> Option<Channel> {
        self.read(|s| s.channel(id_or_name).cloned())
    }

    /// Ephemeral replies `user` has seen, oldest first.
    pub fn ephemerals(&self, user: &str) -> Vec<Ephemeral> {
        self.read(|s| s.ephemerals.iter().filter(|e| e.user == user).cloned().collect())
    }

    /// An uploaded file, by id.
    pub fn file(&self, id: &str) -> Option<File> {
        self.read(|s| s.files.iter().find(|f| f.id == id && f.completed).cloned())
    }

    pub fn views(&self) -> Vec<View> {
        self.read(|s| s.views.clone())
    }

    /// When the first message arrived in the newest channel whose name ends with `suffix`
    /// (for latency measurements; cheaper than copying every channel).
    pub fn first_post_received(&self, suffix: &str) -> Option<std::time::Instant> {
        self.read(|s| {
            s.channels.iter().rev().find(|c| c.name.ends_with(suffix)).and_then(|c| c.messages.first()?.received)
        })
    }

    /// Every message's (channel id, ts, received_at), for latency measurements.
    pub fn receipts(&self) -> Vec<(String, String, DateTime<Utc>)> {
        self.read(|s| {
            s.channels
                .iter()
                .flat_map(|c| c.messages.iter().map(move |m| (c.id.clone(), m.ts.clone(), m.received_at)))
                .collect()
        })
    }

    /// How many times warroom called `method` (including failed calls).
    pub fn call_count(&self, method: &str) -> usize {
        self.read(|s| s.calls.iter().filter(|(m, _)| m == method).count())
    }
}
