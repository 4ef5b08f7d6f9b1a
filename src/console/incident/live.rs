//! `/console/incidents/{number}/events`: an open incident's new timeline events as server-sent
//! events, which `assets/console/incident.js` appends to the page. The stream starts after
//! `?after=<event id>` (the page's last event) or, on a reconnect, after the browser's
//! `Last-Event-ID`, so nothing is sent twice or missed. It looks for new rows every [`POLL`]
//! (one range of the primary key: the newest ids, filtered by incident), and ends with a
//! `resolved` event once the incident is resolved.
//!
//! A stream also ends after [`LIFETIME`] and the browser reconnects where it was (told to wait
//! [`RETRY`]): a server shutting down waits for the requests in flight, and an open incident's
//! stream would otherwise be one of them for as long as the incident lasts.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use uuid::Uuid;

use super::timeline::{added_after, entry};
use crate::app::AppState;
use crate::console::page::{message, with_headers};
use crate::console::session::Viewer;
use crate::incident::IncidentNumber;
use crate::timeline::Event;

/// How often the stream looks for new events.
const POLL: Duration = Duration::from_millis(500);
/// Events read (and sent) per look.
const BATCH: i64 = 200;
/// How long one stream lasts before the browser reconnects.
const LIFETIME: Duration = Duration::from_secs(55);
/// How long the browser waits before it reconnects.
const RETRY: Duration = Duration::from_secs(1);

pub async fn events(
    viewer: Viewer,
    State(state): State<AppState>,
    number: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let incident = match super::find(&state, &viewer, number).await {
        Ok(incident) => incident,
        Err(refusal) => return refusal,
    };
    let after = match start(&headers, query.as_deref()) {
        Ok(after) => after,
        Err(text) => return message(&viewer, StatusCode::BAD_REQUEST, "Bad request", &text),
    };
    let tail = Tail {
        state,
        incident_id: incident.id,
        number: incident.number(),
        after,
        pending: VecDeque::new(),
        started: Instant::now(),
        looked: false,
        end: End::No,
    };
    with_headers(Sse::new(tail.stream()).keep_alive(KeepAlive::default()).into_response())
}

/// Where the stream starts: after `Last-Event-ID` (a reconnect), else after `?after=`.
fn start(headers: &HeaderMap, query: Option<&str>) -> Result<i64, String> {
    let id = |text: &str| text.trim().parse::<i64>().ok().filter(|n| *n >= 0);
    if let Some(value) = headers.get("last-event-id") {
        return value.to_str().ok().and_then(id).ok_or_else(|| "Last-Event-ID is not an event number.".into());
    }
    match query.filter(|q| !q.is_empty()) {
        None => Ok(0),
        Some(q) => q.strip_prefix("after=").and_then(id).ok_or_else(|| "Use ?after=<event number>.".into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    No,
    /// The incident is resolved: say so, then end.
    Resolved,
    Now,
}

/// What the stream has sent and has yet to send.
struct Tail {
    state: AppState,
    incident_id: Uuid,
    number: IncidentNumber,
    after: i64,
    pending: VecDeque<Event>,
    started: Instant,
    looked: bool,
    end: End,
}

impl Tail {
    fn stream(self) -> impl Stream<Item = Result<SseEvent, Infallible>> {
        let hello = SseEvent::default().retry(RETRY).comment("warroom timeline");
        let first = stream::once(async move { Ok(hello) });
        let rest = stream::unfold(self, |mut tail| async move { tail.next().await.map(|e| (Ok(e), tail)) });
        futures_util::StreamExt::chain(first, rest)
    }

    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.after = event.id;
                let entry = serde_json::to_string(&entry(&event)).unwrap_or_default();
                return Some(SseEvent::default().id(event.id.to_string()).event("entry").data(entry));
            }
            match self.end {
                End::Now => return None,
                End::Resolved => {
                    self.end = End::Now;
                    let text = format!("{} is resolved: its timeline is complete.", self.number);
                    return Some(SseEvent::default().event("resolved").data(text));
                }
                End::No => {}
            }
            if self.looked {
                tokio::time::sleep(POLL).await;
            }
            self.looked = true;
            if self.started.elapsed() >= LIFETIME {
                return None;
            }
            if let Err(e) = self.look().await {
                // The browser reconnects after `RETRY`, where it was.
                tracing::warn!(incident.number = %self.number, "console: the live timeline of {} stopped: {e}", self.number);
                return None;
            }
        }
    }

    /// Reads what was added since the last look. Whether the incident is resolved is read
    /// first: the events committed with (or before) the resolution are then in this read.
    async fn look(&mut self) -> sqlx::Result<()> {
        let db = &self.state.db;
        let resolved: bool = sqlx::query_scalar("SELECT resolved_at IS NOT NULL FROM incidents WHERE id = $1")
            .bind(self.incident_id)
            .fetch_one(db)
            .await?;
        let events = added_after(db, self.incident_id, self.after, BATCH).await?;
        let full = events.len() as i64 == BATCH;
        self.pending.extend(events);
        if resolved && !full {
            self.end = End::Resolved;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconnect_resumes_after_its_last_event_id_else_after_the_page() {
        let mut headers = HeaderMap::new();
        assert_eq!(start(&headers, Some("after=41")), Ok(41));
        assert_eq!(start(&headers, None), Ok(0));
        assert!(start(&headers, Some("after=x")).is_err());
        assert!(start(&headers, Some("since=4")).is_err());
        headers.insert("last-event-id", "57".parse().unwrap());
        assert_eq!(start(&headers, Some("after=41")), Ok(57));
        headers.insert("last-event-id", "-3".parse().unwrap());
        assert!(start(&headers, Some("after=41")).is_err());
    }
}
