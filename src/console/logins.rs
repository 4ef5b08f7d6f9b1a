//! Sign-ins under way (`console_logins`): from `/auth/slack/login` to Slack's callback. The
//! browser holds the state (in the URL and in a short-lived cookie); only its sha256 is stored,
//! with the nonce the ID token must carry and where to go afterwards. A row is taken once.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

/// How long a sign-in may take, from leaving warroom to coming back.
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// A sign-in taken back at the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub nonce: String,
    pub next_path: String,
}

fn hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// Records a sign-in leaving for Slack.
pub async fn start(
    db: impl PgExecutor<'_>,
    state: &str,
    nonce: &str,
    next_path: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO console_logins (state_hash, nonce, next_path, created_at) VALUES ($1, $2, $3, $4)",
        hash(state),
        nonce,
        next_path,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes the sign-in `state` names (once: a second callback with it finds nothing), if it
/// started less than [`LIFETIME`] ago.
pub async fn take(db: impl PgExecutor<'_>, state: &str, now: DateTime<Utc>) -> sqlx::Result<Option<Login>> {
    let row = sqlx::query!(
        "DELETE FROM console_logins WHERE state_hash = $1 RETURNING nonce, next_path, created_at",
        hash(state)
    )
    .fetch_optional(db)
    .await?;
    Ok(row.filter(|r| r.created_at > now - LIFETIME).map(|r| Login { nonce: r.nonce, next_path: r.next_path }))
}

/// Housekeeping: sign-ins never finished and sessions expired (one statement).
pub async fn purge(db: impl PgExecutor<'_>, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let purged = sqlx::query!(
        "WITH logins AS (DELETE FROM console_logins WHERE created_at < $1 RETURNING 1), \
              sessions AS (DELETE FROM console_sessions WHERE expires_at < $2 RETURNING 1) \
         SELECT (SELECT count(*) FROM logins) + (SELECT count(*) FROM sessions) AS \"purged!\"",
        now - LIFETIME,
        now
    )
    .fetch_one(db)
    .await?;
    Ok(purged.purged as u64)
}
