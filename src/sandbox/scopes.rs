//! The sandbox's OAuth scopes: the app holds every bot scope of the manifest unless a test took
//! one away; every Web API answer names them (`x-oauth-scopes`, as Slack's do), and a method
//! whose scope is missing is refused with Slack's `missing_scope` (with `needed` and `provided`).

use serde_json::{json, Value};

use super::{State, Workspace};

/// The bot scope a Web API method needs (Slack's method reference), for the methods warroom
/// calls; `None`: no scope (`auth.test`, `views.open`) or not a bot token's (`apps.connections.open`).
/// A private channel's methods need the `groups:*` scope in place of the `channels:*` one.
fn needed(method: &str, private: bool) -> Option<&'static str> {
    Some(match method {
        "chat.postMessage" | "chat.update" | "chat.postEphemeral" => "chat:write",
        "conversations.create"
        | "conversations.invite"
        | "conversations.setTopic"
        | "conversations.archive"
        | "conversations.unarchive"
            if private =>
        {
            "groups:write"
        }
        "conversations.create"
        | "conversations.invite"
        | "conversations.setTopic"
        | "conversations.archive"
        | "conversations.unarchive" => "channels:manage",
        "conversations.info" | "conversations.members" if private => "groups:read",
        "conversations.list" | "conversations.info" | "conversations.members" => "channels:read",
        "conversations.join" => "channels:join",
        "conversations.history" if private => "groups:history",
        "conversations.history" => "channels:history",
        "conversations.open" => "im:write",
        "pins.add" => "pins:write",
        "files.getUploadURLExternal" | "files.completeUploadExternal" => "files:write",
        "files.info" => "files:read",
        "bookmarks.add" | "bookmarks.edit" | "bookmarks.remove" => "bookmarks:write",
        "bookmarks.list" => "bookmarks:read",
        "conversations.canvases.create" | "canvases.edit" => "canvases:write",
        "usergroups.list" | "usergroups.users.list" => "usergroups:read",
        "users.info" => "users:read",
        "users.lookupByEmail" => "users:read.email",
        _ => return None,
    })
}

fn granted(s: &State) -> Vec<String> {
    let all = crate::slack::manifest::bot_scopes();
    all.into_iter().filter(|scope| !s.revoked_scopes.contains(scope)).collect()
}

/// Slack's `missing_scope` answer when `method` needs a scope the app does not hold.
pub(super) fn refusal(s: &State, method: &str, params: &Value) -> Option<Value> {
    // A new private channel, or a call about one (a DM is `im:*`'s, not a private channel's).
    let channel = params["channel"].as_str().and_then(|c| s.channel(c));
    let private = params["is_private"] == true
        || params["is_private"] == "true"
        || channel.is_some_and(|c| c.is_private && !c.id.starts_with('D'));
    let scope = needed(method, private).filter(|scope| s.revoked_scopes.iter().any(|r| r == scope))?;
    Some(json!({ "ok": false, "error": "missing_scope", "needed": scope, "provided": granted(s).join(",") }))
}

impl Workspace {
    /// The bot scopes granted, as Slack lists them in every Web API answer's `x-oauth-scopes`
    /// header: the manifest's, less any [`Self::revoke_scope`] took away.
    pub fn granted_scopes(&self) -> Vec<String> {
        self.read(granted)
    }

    /// Takes a bot scope away (as if the app had been installed without it): the header no
    /// longer names it and the methods that need it answer `missing_scope`.
    pub fn revoke_scope(&self, scope: &str) {
        self.with(|s| s.revoked_scopes.push(scope.to_string()));
    }
}
