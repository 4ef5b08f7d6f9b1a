//! The sandbox's `conversations.archive` and `conversations.unarchive`, with Slack's errors, and
//! what an archived channel refuses: every write into it answers `is_archived`.

use serde_json::{json, Value};

use super::{State, BOT_USER};

type MethodResult = Result<Value, &'static str>;

/// The channel Slack's `#general` is: it can never be archived.
const GENERAL: &str = "C0GENERAL";

/// `conversations.archive`: `already_archived`, `cant_archive_general`, `channel_not_found` (a
/// private channel the bot is not in does not exist for it), `not_in_channel`.
pub(super) fn archive(s: &mut State, channel: &str) -> MethodResult {
    let c = s.channel_mut(channel).filter(|c| super::web_api::visible_to_bot(c)).ok_or("channel_not_found")?;
    if c.id == GENERAL {
        return Err("cant_archive_general");
    }
    if c.is_archived {
        return Err("already_archived");
    }
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    c.is_archived = true;
    Ok(json!({}))
}

/// `conversations.unarchive`: `not_archived`, `channel_not_found`.
pub(super) fn unarchive(s: &mut State, channel: &str) -> MethodResult {
    let c = s.channel_mut(channel).filter(|c| super::web_api::visible_to_bot(c)).ok_or("channel_not_found")?;
    if !c.is_archived {
        return Err("not_archived");
    }
    c.is_archived = false;
    Ok(json!({}))
}

/// `is_archived` for a method that writes into an archived channel (a post, an edit, a topic, an
/// invitation, a pin, a bookmark).
pub(super) fn refusal(s: &State, method: &str, params: &Value) -> Option<&'static str> {
    let writes = matches!(
        method,
        "chat.postMessage"
            | "chat.update"
            | "chat.postEphemeral"
            | "conversations.setTopic"
            | "conversations.invite"
            | "conversations.join"
            | "pins.add"
            | "bookmarks.add"
            | "bookmarks.edit"
    );
    let channel = params["channel"].as_str().or_else(|| params["channel_id"].as_str())?;
    (writes && s.channel(channel).is_some_and(|c| c.is_archived)).then_some("is_archived")
}
