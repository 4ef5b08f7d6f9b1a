//! SQL for `channel_bookmarks`: what warroom knows Slack has, per channel and kind.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::Kind;

/// A channel's bookmark of one kind, as far as warroom knows.
#[derive(Debug, sqlx::FromRow)]
pub struct Row {
    pub bookmark_id: Option<String>,
    pub source: Option<String>,
    /// An add went out whose answer was lost: it may exist in Slack.
    pub uncertain: bool,
}

pub async fn get(db: &PgPool, channel: &str, kind: Kind) -> sqlx::Result<Option<Row>> {
    sqlx::query_as("SELECT bookmark_id, source, uncertain FROM channel_bookmarks WHERE channel_id = $1 AND kind = $2")
        .bind(channel)
        .bind(kind.as_str())
        .fetch_optional(db)
        .await
}

/// Written (and committed) before an add goes out: a worker that dies waiting for the answer
/// leaves it uncertain, and the next attempt looks in the channel before adding.
pub async fn mark_uncertain(
    db: &PgPool,
    channel: &str,
    kind: Kind,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_bookmarks (channel_id, kind, incident_id, uncertain, updated_at)
         VALUES ($1, $2, $3, true, $4)
         ON CONFLICT (channel_id, kind) DO UPDATE SET uncertain = true, updated_at = $4",
    )
    .bind(channel)
    .bind(kind.as_str())
    .bind(incident_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Slack surely did not carry the add out.
pub async fn not_added(db: &PgPool, channel: &str, kind: Kind) -> sqlx::Result<()> {
    sqlx::query("UPDATE channel_bookmarks SET uncertain = false WHERE channel_id = $1 AND kind = $2")
        .bind(channel)
        .bind(kind.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// The bookmark is gone from Slack (someone removed it): the next refresh adds it again.
pub async fn forget(db: &PgPool, channel: &str, kind: Kind) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE channel_bookmarks SET bookmark_id = NULL, link = NULL, source = NULL
         WHERE channel_id = $1 AND kind = $2",
    )
    .bind(channel)
    .bind(kind.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Slack has bookmark `bookmark_id` in `channel` pointing at `link`, made from `source`.
pub struct Settled<'a> {
    pub channel: &'a str,
    pub kind: Kind,
    pub incident_id: Uuid,
    pub bookmark_id: String,
    pub link: String,
    pub source: String,
    pub now: DateTime<Utc>,
}

pub async fn settle(db: &PgPool, s: &Settled<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_bookmarks (channel_id, kind, incident_id, bookmark_id, link, source, uncertain, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, false, $7)
         ON CONFLICT (channel_id, kind) DO UPDATE
         SET bookmark_id = $4, link = $5, source = $6, uncertain = false, updated_at = $7",
    )
    .bind(s.channel)
    .bind(s.kind.as_str())
    .bind(s.incident_id)
    .bind(&s.bookmark_id)
    .bind(&s.link)
    .bind(&s.source)
    .bind(s.now)
    .execute(db)
    .await?;
    Ok(())
}
