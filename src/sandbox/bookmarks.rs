//! The sandbox's channel bookmarks (`bookmarks.add`, `bookmarks.edit`, `bookmarks.list`,
//! `bookmarks.remove`) with Slack's request shapes and error codes, and the two permalinks a
//! bookmark may point at (`chat.getPermalink`, `files.info`).

use serde::Serialize;
use serde_json::{json, Value};

use super::{State, Workspace, BOT_USER};

/// A bookmark in a channel's bookmarks bar.
#[derive(Debug, Clone, Serialize)]
pub struct Bookmark {
    pub id: String,
    pub channel_id: String,
    pub title: String,
    pub link: String,
    /// Unix seconds, as Slack's `date_created` / `date_updated`.
    pub date_created: i64,
    pub date_updated: i64,
}

type MethodResult = Result<Value, &'static str>;

fn json_of(b: &Bookmark) -> Value {
    json!({ "id": b.id, "channel_id": b.channel_id, "title": b.title, "link": b.link, "emoji": null,
            "icon_url": null, "type": "link", "entity_id": null, "date_created": b.date_created,
            "date_updated": b.date_updated, "rank": "U", "last_updated_by_user_id": BOT_USER,
            "last_updated_by_team_id": super::TEAM_ID, "shortcut_id": null, "app_id": null })
}

/// The channel the bot is in, by `channel_id` (Slack's argument name for these methods).
fn channel_id(s: &mut State, params: &Value) -> Result<String, &'static str> {
    let id = params["channel_id"].as_str().filter(|c| !c.is_empty()).ok_or("invalid_arguments")?;
    let c = s.channel_mut(id).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    Ok(c.id.clone())
}

/// Slack takes http(s) links only.
fn link(params: &Value) -> Result<Option<String>, &'static str> {
    match params["link"].as_str() {
        None => Ok(None),
        Some(l) if (l.starts_with("https://") || l.starts_with("http://")) && !l.contains(char::is_whitespace) => {
            Ok(Some(l.to_string()))
        }
        Some(_) => Err("invalid_link"),
    }
}

pub(super) fn add(s: &mut State, params: &Value, now: i64) -> MethodResult {
    let channel = channel_id(s, params)?;
    let title = params["title"].as_str().filter(|t| !t.trim().is_empty()).ok_or("invalid_arguments")?;
    if params["type"] != "link" {
        return Err("invalid_bookmark_type");
    }
    let link = link(params)?.ok_or("invalid_link")?;
    if s.bookmarks.iter().filter(|b| b.channel_id == channel).count() >= 100 {
        return Err("too_many_bookmarks");
    }
    let id = s.next_id("Bk");
    let bookmark =
        Bookmark { id, channel_id: channel, title: title.into(), link, date_created: now, date_updated: now };
    let body = json!({ "bookmark": json_of(&bookmark) });
    s.bookmarks.push(bookmark);
    Ok(body)
}

pub(super) fn edit(s: &mut State, params: &Value, now: i64) -> MethodResult {
    let channel = channel_id(s, params)?;
    let id = params["bookmark_id"].as_str().unwrap_or("");
    let link = link(params)?;
    let b = s.bookmarks.iter_mut().find(|b| b.id == id && b.channel_id == channel).ok_or("bookmark_not_found")?;
    if let Some(title) = params["title"].as_str().filter(|t| !t.trim().is_empty()) {
        b.title = title.into();
    }
    if let Some(link) = link {
        b.link = link;
    }
    b.date_updated = now;
    Ok(json!({ "bookmark": json_of(b) }))
}

pub(super) fn list(s: &mut State, params: &Value) -> MethodResult {
    let channel = channel_id(s, params)?;
    let listed: Vec<Value> = s.bookmarks.iter().filter(|b| b.channel_id == channel).map(json_of).collect();
    Ok(json!({ "bookmarks": listed }))
}

pub(super) fn remove(s: &mut State, params: &Value) -> MethodResult {
    let channel = channel_id(s, params)?;
    let id = params["bookmark_id"].as_str().unwrap_or("");
    let at = s.bookmarks.iter().position(|b| b.id == id && b.channel_id == channel).ok_or("bookmark_not_found")?;
    s.bookmarks.remove(at);
    Ok(json!({}))
}

/// `chat.getPermalink`: `channel`, `message_ts`.
pub(super) fn permalink(s: &mut State, params: &Value) -> MethodResult {
    let ts = params["message_ts"].as_str().unwrap_or("");
    let c = s.channel(params["channel"].as_str().unwrap_or("")).ok_or("channel_not_found")?;
    c.messages.iter().find(|m| m.ts == ts).ok_or("message_not_found")?;
    let permalink = format!("http://sandbox.slack.local/archives/{}/p{}", c.id, ts.replace('.', ""));
    Ok(json!({ "channel": c.id, "permalink": permalink }))
}

/// `files.info`: `file`; its permalink is the sandbox page's link to it.
pub(super) fn file_info(s: &mut State, params: &Value, sandbox_url: &str) -> MethodResult {
    let id = params["file"].as_str().unwrap_or("");
    let f = s.files.iter().find(|f| f.id == id && f.completed).ok_or("file_not_found")?;
    let permalink = format!("{sandbox_url}/files/{}", f.id);
    Ok(json!({ "file": { "id": f.id, "name": f.name, "title": f.title, "user": BOT_USER,
                         "size": f.length, "permalink": permalink } }))
}

impl Workspace {
    /// The bookmarks of a channel (by id or name), in the order they were added.
    pub fn bookmarks(&self, channel: &str) -> Vec<Bookmark> {
        self.read(|s| {
            let Some(id) = s.channel(channel).map(|c| c.id.clone()) else { return Vec::new() };
            s.bookmarks.iter().filter(|b| b.channel_id == id).cloned().collect()
        })
    }

    /// A person removes a bookmark from its channel's bar.
    pub fn remove_bookmark(&self, channel: &str, id: &str) {
        self.with(|s| {
            let channel = s.channel(channel).map(|c| c.id.clone());
            s.bookmarks.retain(|b| !(b.id == id && Some(&b.channel_id) == channel.as_ref()));
        });
    }

    /// Every bookmark, for the page.
    pub fn all_bookmarks(&self) -> Vec<Bookmark> {
        self.read(|s| s.bookmarks.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::sandbox::BOT_TOKEN;
    use crate::secret::Secret;

    fn workspace() -> Workspace {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Workspace::new(clock, Secret::new("test"))
    }

    fn call(ws: &Workspace, method: &str, params: Value) -> Value {
        ws.call(method, Some(BOT_TOKEN), params).body
    }

    #[test]
    fn a_bookmark_is_added_listed_edited_and_removed_with_slacks_shapes() {
        let ws = workspace();
        let channel = ws.create_bot_channel("inc-1-api");
        let link = "https://meet.example.com/x";
        let added = call(
            &ws,
            "bookmarks.add",
            json!({ "channel_id": channel, "title": "War room", "type": "link", "link": link }),
        );
        assert_eq!(added["ok"], true, "{added}");
        let id = added["bookmark"]["id"].as_str().unwrap().to_string();
        assert_eq!(added["bookmark"]["channel_id"], channel.as_str());
        assert_eq!(added["bookmark"]["type"], "link");

        let edited = call(
            &ws,
            "bookmarks.edit",
            json!({ "channel_id": channel, "bookmark_id": id, "link": "https://meet.example.com/y" }),
        );
        assert_eq!(edited["bookmark"]["link"], "https://meet.example.com/y", "{edited}");
        assert_eq!(edited["bookmark"]["title"], "War room", "a title not given is kept");
        let listed = call(&ws, "bookmarks.list", json!({ "channel_id": channel }));
        assert_eq!(listed["bookmarks"].as_array().map(Vec::len), Some(1), "{listed}");

        assert_eq!(call(&ws, "bookmarks.remove", json!({ "channel_id": channel, "bookmark_id": id }))["ok"], true);
        assert!(ws.bookmarks(&channel).is_empty());
        let again = call(&ws, "bookmarks.edit", json!({ "channel_id": channel, "bookmark_id": id, "title": "x" }));
        assert_eq!(again["error"], "bookmark_not_found");
    }

    #[test]
    fn bad_requests_get_slacks_error_codes_and_change_nothing() {
        let ws = workspace();
        let mine = ws.create_bot_channel("inc-1-api");
        let foreign = ws.create_foreign_channel("elsewhere");
        let add = |channel: &str, link: &str, kind: &str| {
            call(&ws, "bookmarks.add", json!({ "channel_id": channel, "title": "T", "type": kind, "link": link }))
                ["error"]
                .clone()
        };
        assert_eq!(add(&mine, "javascript:alert(1)", "link"), "invalid_link");
        assert_eq!(add(&mine, "https://a b", "link"), "invalid_link");
        assert_eq!(add(&mine, "https://ok.example", "folder"), "invalid_bookmark_type");
        assert_eq!(add(&foreign, "https://ok.example", "link"), "not_in_channel");
        assert_eq!(add("C0NOPE", "https://ok.example", "link"), "channel_not_found");
        assert_eq!(call(&ws, "bookmarks.list", json!({ "channel_id": foreign }))["error"], "not_in_channel");
        assert!(ws.all_bookmarks().is_empty());
    }
}
