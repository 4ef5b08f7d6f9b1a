//! `conversations.history` as Slack serves it: newest first, between `oldest` and `latest`
//! (exclusive unless `inclusive`), `limit` per page with a cursor, and each message's
//! `metadata` only when `include_all_metadata` is asked for.

use serde_json::{json, Value};

use super::{State, BOT_USER};

/// A message ts as (seconds, suffix), for ordering (`""` is no bound).
fn ts_key(ts: &str) -> Option<(i64, u64)> {
    let (secs, suffix) = ts.split_once('.').unwrap_or((ts, "0"));
    Some((secs.parse().ok()?, suffix.parse().ok()?))
}

fn flag(params: &Value, key: &str) -> bool {
    params[key] == true || params[key] == "true" || params[key] == "1"
}

pub(super) fn history(s: &mut State, params: &Value) -> Result<Value, &'static str> {
    let text = |key: &str| params[key].as_str().unwrap_or("").to_string();
    let c = s.channel_mut(&text("channel")).ok_or("channel_not_found")?;
    if !c.members.iter().any(|m| m == BOT_USER) {
        return Err("not_in_channel");
    }
    let inclusive = flag(params, "inclusive");
    let with_metadata = flag(params, "include_all_metadata");
    let (oldest, latest) = (ts_key(&text("oldest")), ts_key(&text("latest")));
    let limit = params["limit"].as_u64().or_else(|| text("limit").parse().ok()).unwrap_or(100).clamp(1, 999) as usize;
    let skip: usize = text("cursor").parse().unwrap_or(0);
    let within: Vec<Value> = c
        .messages
        .iter()
        .rev()
        .filter(|m| {
            let Some(key) = ts_key(&m.ts) else { return false };
            let after = oldest.is_none_or(|o| key > o || (inclusive && key == o));
            let before = latest.is_none_or(|l| key < l || (inclusive && key == l));
            after && before
        })
        .map(|m| {
            let mut json = json!({ "type": "message", "ts": m.ts, "user": m.user, "text": m.text });
            if with_metadata && !m.metadata.is_null() {
                json["metadata"] = m.metadata.clone();
            }
            json
        })
        .collect();
    let page: Vec<Value> = within.iter().skip(skip).take(limit).cloned().collect();
    let has_more = skip + limit < within.len();
    let next = if has_more { (skip + limit).to_string() } else { String::new() };
    Ok(json!({ "messages": page, "has_more": has_more, "response_metadata": { "next_cursor": next } }))
}
