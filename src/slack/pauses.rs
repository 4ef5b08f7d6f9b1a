//! Slack's `Retry-After`, kept in Postgres (`rate_limits`, next to the status page's budget) so
//! that a 429 pauses the method — for `chat.postMessage`, the channel, which is what Slack limits
//! — for every job on every replica, not only for the call that got it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::warn;

use crate::clock::SharedClock;

/// The pauses, read before and written after each Web API call.
#[derive(Clone)]
pub struct Pauses {
    db: PgPool,
    clock: SharedClock,
}

impl std::fmt::Debug for Pauses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pauses")
    }
}

/// The `rate_limits` key of a method (of a channel, for posts).
pub fn key(method: &str, channel: Option<&str>) -> String {
    match channel {
        Some(channel) => format!("slack:{method}:{}", channel.trim_start_matches('#')),
        None => format!("slack:{method}"),
    }
}

impl Pauses {
    pub fn new(db: PgPool, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    /// How long `method` (on `channel`) stays paused, if it is. A database that cannot say
    /// pauses nothing: Slack answers 429 again if it must.
    pub async fn remaining(&self, method: &str, channel: Option<&str>) -> Option<Duration> {
        let now = self.clock.now();
        let until: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT next_free FROM rate_limits WHERE key = $1 AND next_free > $2")
                .bind(key(method, channel))
                .bind(now)
                .fetch_optional(&self.db)
                .await
                .unwrap_or_else(|e| {
                    warn!("reading Slack's rate limit pause failed: {e}");
                    None
                });
        // Whole seconds, rounded up, like Slack's own Retry-After.
        until.map(|at| Duration::from_secs((at - now).num_milliseconds().max(1).unsigned_abs().div_ceil(1000)))
    }

    /// Pauses `method` (on `channel`) for `retry_after` from now; a longer pause already there stays.
    pub async fn pause(&self, method: &str, channel: Option<&str>, retry_after: Duration) {
        let until = self.clock.now() + chrono::Duration::from_std(retry_after).unwrap_or_default();
        let written = sqlx::query(
            "INSERT INTO rate_limits AS r (key, next_free) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET next_free = greatest(r.next_free, excluded.next_free)",
        )
        .bind(key(method, channel))
        .bind(until)
        .execute(&self.db)
        .await;
        if let Err(e) = written {
            warn!("recording Slack's rate limit pause for {method} failed: {e}");
        }
    }
}
