//! `channel_members`: who is in each incident channel, as Slack last said. Written when warroom
//! invites people, replaced by a read of `conversations.members`, and kept current from
//! `member_joined_channel` / `member_left_channel` (see `crate::slack::membership`).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::jobs::{kind, queue};

/// Is `user` a member of `channel` (when given), and of any of `groups`?
pub async fn lookup(
    db: impl PgExecutor<'_>,
    channel: Option<&str>,
    groups: &[String],
    user: &str,
) -> sqlx::Result<(bool, bool)> {
    sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM channel_members WHERE channel_id = $1 AND user_id = $3), \
                EXISTS (SELECT 1 FROM usergroup_members WHERE handle = ANY($2) AND user_id = $3)",
    )
    .bind(channel)
    .bind(groups)
    .bind(user)
    .fetch_one(db)
    .await
}

/// Records that `users` are in `channel` (warroom invited them, or Slack said they joined).
pub async fn add(db: impl PgExecutor<'_>, channel: &str, users: &[String]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_members (channel_id, user_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(channel)
    .bind(users)
    .execute(db)
    .await?;
    Ok(())
}

/// Records that `user` left `channel`.
pub async fn remove(db: impl PgExecutor<'_>, channel: &str, user: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2")
        .bind(channel)
        .bind(user)
        .execute(db)
        .await?;
    Ok(())
}

/// Replaces what is known of `channel`'s members with Slack's complete list.
pub async fn replace(db: &PgPool, channel: &str, users: &[String]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM channel_members WHERE channel_id = $1").bind(channel).execute(&mut *tx).await?;
    add(&mut *tx, channel, users).await?;
    tx.commit().await
}

/// Queues a read of `channel`'s members from Slack (once per `slot`).
pub async fn queue_refresh(db: impl PgExecutor<'_>, channel: &str, slot: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
    queue::enqueue(db, None, kind::REFRESH_MEMBERS, &format!("{channel}:{slot}"), json!({ "channel": channel }), at)
        .await?;
    Ok(())
}

/// Queues a read of `channel`'s members when warroom knows none of them (at most once a minute);
/// returns whether it did.
pub async fn queue_refresh_if_unknown(db: &mut PgConnection, channel: &str, now: DateTime<Utc>) -> sqlx::Result<bool> {
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channel_members WHERE channel_id = $1)")
        .bind(channel)
        .fetch_one(&mut *db)
        .await?;
    if !known {
        queue_refresh(db, channel, &format!("unknown:{}", now.timestamp() / 60), now).await?;
    }
    Ok(!known)
}
