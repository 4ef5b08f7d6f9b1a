//! The Slack checks: the bot token answers `auth.test`, its granted scopes (the
//! `x-oauth-scopes` header Slack puts on every Web API answer) include every bot scope of the
//! manifest, the announcement channel exists and the bot can post there, and every `@group`
//! the configuration names is a user group of the workspace.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Check, Context};
use crate::config::{Permission, Principal};
use crate::slack::api::SlackClient;

const AUTH: &str = "slack auth.test";
const SCOPES: &str = "slack scopes";
const CHANNEL: &str = "slack announcement channel";
const GROUPS: &str = "slack user groups";

pub async fn checks(cx: &Context<'_>) -> Vec<Check> {
    let Some(token) = &cx.settings.slack_bot_token else {
        let fix = "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…, under OAuth & Permissions)";
        let mut checks = vec![Check::fail(AUTH, "SLACK_BOT_TOKEN is not set (warroom would run its sandbox)", fix)];
        checks.extend([SCOPES, CHANNEL, GROUPS].map(|name| Check::skip(name, "no Slack token")));
        return checks;
    };
    let base = &cx.settings.slack_api_url;
    let (auth, scopes) = match auth_test(cx, token.expose()).await {
        Ok(found) => found,
        Err((why, answered)) => {
            let fix = if answered {
                "check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token) and SLACK_API_URL"
            } else {
                "check SLACK_API_URL (https://slack.com/api) and that this host reaches it"
            };
            let mut checks = vec![Check::fail(AUTH, format!("{base}: {why}"), fix)];
            checks.extend([SCOPES, CHANNEL, GROUPS].map(|name| Check::skip(name, "auth.test failed")));
            return checks;
        }
    };
    let text = |key: &str| auth[key].as_str().unwrap_or("?").to_string();
    let mut checks = vec![Check::pass(
        AUTH,
        format!("bot @{} ({}) in team {} ({}) at {base}", text("user"), text("user_id"), text("team"), text("team_id")),
    )];
    checks.push(scope_check(scopes.as_deref()));
    let granted = scopes.unwrap_or_default();
    let slack = SlackClient::new(cx.http.clone(), base.clone(), token.clone());
    checks.push(channel_check(cx, &slack, &granted).await);
    checks.push(group_check(cx, &slack).await);
    checks
}

/// `auth.test`'s answer and the `x-oauth-scopes` header (absent: `None`); or what went wrong
/// and whether anything answered.
async fn auth_test(cx: &Context<'_>, token: &str) -> Result<(Value, Option<Vec<String>>), (String, bool)> {
    let url = format!("{}/auth.test", cx.settings.slack_api_url);
    let response =
        cx.http.post(url).bearer_auth(token).form(&[("", ""); 0]).send().await.map_err(|e| (transport(&e), false))?;
    let status = response.status();
    let scopes = response
        .headers()
        .get("x-oauth-scopes")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
    if !status.is_success() {
        return Err((format!("HTTP {}", status.as_u16()), true));
    }
    let answer: Value = response.json().await.map_err(|_| ("an answer that is not Slack's".to_string(), true))?;
    if answer["ok"] != true {
        return Err((format!("Slack answered `{}`", answer["error"].as_str().unwrap_or("unknown_error")), true));
    }
    Ok((answer, scopes))
}

/// A request that got no answer, said without its URL's query or anything else from reqwest
/// beyond what failed.
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

fn scope_check(granted: Option<&[String]>) -> Check {
    let Some(granted) = granted else {
        return Check::fail(
            SCOPES,
            "the answer named no scopes (no x-oauth-scopes header)",
            "check SLACK_API_URL points at Slack's Web API (https://slack.com/api)",
        );
    };
    let wanted = crate::slack::manifest::bot_scopes();
    let missing: Vec<&str> = wanted.iter().filter(|s| !granted.contains(s)).map(String::as_str).collect();
    if missing.is_empty() {
        return Check::pass(SCOPES, format!("all {} bot scopes of slack-app-manifest.yml granted", wanted.len()));
    }
    let (it, them) = if missing.len() == 1 { ("it", "") } else { ("them", "s") };
    Check::fail(
        SCOPES,
        format!("missing scope{them} {}", missing.join(", ")),
        format!("add {it} under OAuth & Permissions → Bot Token Scopes and reinstall the app"),
    )
}

/// The announcement channel is found among the public channels (the manifest grants no
/// `groups:read`, so a private channel cannot be found, and warroom looks it up the same way).
/// The bot can post there when it is a member, or when it may join it (`channels:join`: warroom
/// joins at its first post on `not_in_channel`) or post without joining (`chat:write.public`).
async fn channel_check(cx: &Context<'_>, slack: &SlackClient, granted: &[String]) -> Check {
    let name = &cx.settings.file.announce_channel;
    let channel = find(slack, name).await;
    let fix_find = format!(
        "create the public channel #{name}, or set [slack] announce_channel in warroom.toml to an existing one"
    );
    let channel = match channel {
        Ok(Some(channel)) => channel,
        Ok(None) => return Check::fail(CHANNEL, format!("#{name} is not a public channel of the workspace"), fix_find),
        Err(e) => {
            return Check::fail(CHANNEL, format!("could not list channels: {e}"), "grant channels:read and reinstall")
        }
    };
    let id = channel["id"].as_str().unwrap_or("?");
    let has = |scope: &str| granted.iter().any(|s| s == scope);
    if channel["is_member"] == true {
        Check::pass(CHANNEL, format!("#{name} ({id}) exists and the bot is a member"))
    } else if has("channels:join") {
        Check::pass(CHANNEL, format!("#{name} ({id}) exists; the bot is not a member and joins it at its first post"))
    } else if has("chat:write.public") {
        Check::pass(CHANNEL, format!("#{name} ({id}) exists; the bot posts there without joining (chat:write.public)"))
    } else {
        Check::fail(
            CHANNEL,
            format!("#{name} ({id}) exists but the bot is not a member and may neither join nor post from outside"),
            format!("invite the bot (`/invite @warroom` in #{name}), or grant channels:join and reinstall"),
        )
    }
}

/// The channel named `name` in `conversations.list`, following its pages. Read methods are
/// called form-encoded: Slack takes JSON bodies only for some methods.
async fn find(slack: &SlackClient, name: &str) -> Result<Option<Value>, String> {
    let mut cursor = String::new();
    for _ in 0..50 {
        let params =
            [("limit", "1000"), ("cursor", &cursor), ("exclude_archived", "true"), ("types", "public_channel")];
        let page = slack.call_form("conversations.list", &params).await.map_err(|e| e.to_string())?;
        let channels = page["channels"].as_array().cloned().unwrap_or_default();
        if let Some(found) = channels.into_iter().find(|c| c["name"] == name) {
            return Ok(Some(found));
        }
        cursor = page["response_metadata"]["next_cursor"].as_str().unwrap_or("").to_string();
        if cursor.is_empty() {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Every `@group` of the configuration with where it is named.
fn configured_groups(cx: &Context<'_>) -> BTreeMap<String, Vec<String>> {
    let file = &cx.settings.file;
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |handle: &str, place: String| {
        let places = groups.entry(handle.to_string()).or_default();
        if !places.contains(&place) {
            places.push(place);
        }
    };
    for handle in &file.responders.groups {
        add(handle, "roles.responders".into());
    }
    for handle in &file.approvals.approver_groups {
        add(handle, "approvals.approvers".into());
    }
    for permission in Permission::ALL {
        for principal in file.permissions.principals(permission) {
            if let Principal::Group(handle) = principal {
                add(handle, format!("permissions.{permission}"));
            }
        }
    }
    for (severity, tiers) in &file.escalation {
        for handle in tiers.iter().flat_map(|t| &t.notify).filter_map(|n| n.strip_prefix('@')) {
            add(handle, format!("escalation.{severity}"));
        }
    }
    for (service, config) in &file.services {
        if let Some(handle) = config.owner.as_deref().and_then(|o| o.strip_prefix('@')) {
            add(handle, format!("services.{service}.owner"));
        }
    }
    groups
}

async fn group_check(cx: &Context<'_>, slack: &SlackClient) -> Check {
    let wanted = configured_groups(cx);
    if wanted.is_empty() {
        return Check::pass(GROUPS, "the configuration names no @group");
    }
    let known: Vec<String> = match slack.call_form("usergroups.list", &[]).await {
        Ok(answer) => answer["usergroups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["handle"].as_str().map(str::to_string))
            .collect(),
        Err(e) => {
            return Check::fail(
                GROUPS,
                format!("could not list user groups: {e}"),
                "grant usergroups:read and reinstall",
            )
        }
    };
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|(handle, _)| !known.contains(handle))
        .map(|(handle, places)| format!("@{handle} ({})", places.join(", ")))
        .collect();
    if unknown.is_empty() {
        let all: Vec<String> = wanted.keys().map(|h| format!("@{h}")).collect();
        return Check::pass(GROUPS, format!("{} resolve", all.join(", ")));
    }
    Check::fail(
        GROUPS,
        format!("not user groups of the workspace: {}", unknown.join("; ")),
        "create the group in Slack (People → User groups) or correct its handle in warroom.toml",
    )
}
