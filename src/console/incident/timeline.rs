//! The timeline as the page shows it: each event in one line (time, actor and what happened,
//! in `crate::timeline::describe`'s words made plain, redacted again), oldest first.
//!
//! A long timeline is shown [`PAGE`] events at a time, the newest page first (where an open
//! incident's new events arrive), with links to the earlier and later pages: every event is
//! reachable without JavaScript, and the page of a 10,000-event incident costs what a
//! 1,000-event one does (the report downloads carry the whole timeline at once).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::sanitize::{redacted, strip_controls};
use crate::timeline::{describe, Event};

/// Events on one page of the timeline.
pub const PAGE: i64 = 1000;

/// One line of the timeline, as the page and the live stream show it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    /// `2026-11-30 15:02:07` (UTC).
    pub at: String,
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    pub actor: String,
    pub kind: String,
    pub text: String,
}

pub fn entry(event: &Event) -> Entry {
    Entry {
        id: event.id,
        at: event.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        iso: event.at.to_rfc3339(),
        actor: clean(&describe::plain(&describe::actor(&event.actor))),
        kind: event.kind.clone(),
        text: clean(&describe::plain(&describe::what(event))),
    }
}

/// Text on its way to the page: redacted (again: redacting twice changes nothing) and without
/// control characters.
pub fn clean(text: &str) -> String {
    strip_controls(&redacted(text)).into_owned()
}

/// Which page of the timeline: `?before=<event id>`, `?after=<event id>`, or the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Newest,
    Before(i64),
    After(i64),
}

impl Cursor {
    /// From the page's query string; anything else in it is refused, with why.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let Some(query) = query.filter(|q| !q.is_empty()) else { return Ok(Self::Newest) };
        let (name, value) = query.split_once('=').unwrap_or((query, ""));
        let id = || value.parse::<i64>().ok().filter(|n| *n > 0);
        let bad = || {
            format!("`{}`: use ?before= or ?after= with an event number", query.chars().take(60).collect::<String>())
        };
        match name {
            "before" => id().map(Self::Before).ok_or_else(bad),
            "after" => id().map(Self::After).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// One page of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Every event of the incident.
    pub total: i64,
    /// The first event shown, when there are earlier ones (`?before=` it).
    pub earlier: Option<i64>,
    /// The last event shown, when there are later ones (`?after=` it).
    pub later: Option<i64>,
    /// The page ends with the newest event: new ones are appended to it live.
    pub newest: bool,
    /// The last event shown (0 when none): where the live stream starts.
    pub last_id: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    incident_id: Uuid,
    at: DateTime<Utc>,
    actor: String,
    kind: String,
    payload: Value,
}

impl From<Row> for Event {
    fn from(r: Row) -> Self {
        Event { id: r.id, incident_id: r.incident_id, at: r.at, actor: r.actor, kind: r.kind, payload: r.payload }
    }
}

const COLUMNS: &str = "id, incident_id, at, actor, kind, payload";

/// The page at `cursor`. Each read is one range of the `(incident_id, at, id)` index.
pub async fn page(db: &sqlx::PgPool, incident_id: Uuid, cursor: Cursor) -> sqlx::Result<Page> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_events WHERE incident_id = $1")
        .bind(incident_id)
        .fetch_one(db)
        .await?;
    // One more than a page says whether there are more beyond it.
    let (sql, from) = match cursor {
        // `id > 0` holds for every event; it keeps the three statements' parameters alike.
        Cursor::Newest => (
            format!("SELECT {COLUMNS} FROM timeline_events WHERE incident_id = $1 AND id > $2 ORDER BY at DESC, id DESC LIMIT $3"),
            0,
        ),
        Cursor::Before(id) => (
            format!(
                "SELECT {COLUMNS} FROM timeline_events WHERE incident_id = $1
                   AND (at, id) < (SELECT at, id FROM timeline_events WHERE id = $2 AND incident_id = $1)
                 ORDER BY at DESC, id DESC LIMIT $3"
            ),
            id,
        ),
        Cursor::After(id) => (
            format!(
                "SELECT {COLUMNS} FROM timeline_events WHERE incident_id = $1
                   AND (at, id) > (SELECT at, id FROM timeline_events WHERE id = $2 AND incident_id = $1)
                 ORDER BY at, id LIMIT $3"
            ),
            id,
        ),
    };
    let mut rows: Vec<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(incident_id).bind(from).bind(PAGE + 1).fetch_all(db).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let backwards = !matches!(cursor, Cursor::After(_));
    if backwards {
        rows.reverse();
    }
    let entries: Vec<Entry> = rows.into_iter().map(|r| entry(&r.into())).collect();
    let (first, last) = (entries.first().map(|e| e.id), entries.last().map(|e| e.id));
    let (earlier, later) = match cursor {
        Cursor::Newest => (first.filter(|_| more), None),
        Cursor::Before(_) => (first.filter(|_| more), last),
        Cursor::After(_) => (first, last.filter(|_| more)),
    };
    let newest = later.is_none() && !matches!(cursor, Cursor::Before(_));
    Ok(Page { entries, total, earlier, later, newest, last_id: last.unwrap_or(0) })
}

/// The incident's events added after event `after` (in the order they were added), at most
/// `limit`: what the live stream sends next. One range of the primary key (the newest ids).
pub async fn added_after(db: &sqlx::PgPool, incident_id: Uuid, after: i64, limit: i64) -> sqlx::Result<Vec<Event>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, incident_id, at, actor, kind, payload FROM timeline_events
         WHERE id > $2 AND incident_id = $1 ORDER BY id LIMIT $3",
    )
    .bind(incident_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_is_a_positive_event_number_before_or_after_and_nothing_else() {
        assert_eq!(Cursor::parse(None), Ok(Cursor::Newest));
        assert_eq!(Cursor::parse(Some("")), Ok(Cursor::Newest));
        assert_eq!(Cursor::parse(Some("before=12")), Ok(Cursor::Before(12)));
        assert_eq!(Cursor::parse(Some("after=3")), Ok(Cursor::After(3)));
        for bad in ["before=", "before=-1", "after=x", "page=2", "before=1&after=2", "after=99999999999999999999"] {
            assert!(Cursor::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_entry_is_plain_text_and_shows_no_secret() {
        let event = Event {
            id: 7,
            incident_id: Uuid::nil(),
            at: "2026-11-30T15:02:07Z".parse().unwrap(),
            actor: "U0ALICE".into(),
            kind: "note".into(),
            payload: serde_json::json!({ "text": "<b> PGPASSWORD=hunter2 \u{1b}[31m" }),
        };
        let e = entry(&event);
        assert_eq!((e.at.as_str(), e.actor.as_str()), ("2026-11-30 15:02:07", "@U0ALICE"));
        assert!(e.text.starts_with("note: <b> PGPASSWORD=[REDACTED]"), "{}", e.text);
        assert!(!e.text.contains('\u{1b}'));
    }
}
