//! `chat.postMessage` exactly once per job. Each post carries its job id in its metadata; a row
//! in `slack_posts` is marked uncertain before the request goes out and settled by Slack's
//! answer. An attempt that follows an uncertain one (a timeout, a 5xx, a connection lost after
//! sending, a worker killed mid-call) first looks for the job's message in the channel's history
//! since the first attempt, and takes a found one as delivered. A post already delivered is
//! never sent again, even when what the job did after it failed.

use chrono::{DateTime, Utc};
use slack_morphism::blocks::SlackBlock;
use sqlx::PgPool;

use super::{queue, JobError};
use crate::app::AppState;
use crate::slack::api::SlackError;

/// How far before the first attempt the history look-up starts: Slack's clock and ours may
/// differ by a little.
const CLOCK_MARGIN_SECS: i64 = 60;

#[derive(sqlx::FromRow)]
struct Ledger {
    first_attempt_at: DateTime<Utc>,
    uncertain: bool,
    posted_channel: Option<String>,
    ts: Option<String>,
}

/// Posts `text`/`blocks` to `channel` for `job`, exactly once: returns (channel id, ts) of the
/// message, posted now or found posted by an earlier attempt.
pub async fn post(
    state: &AppState,
    job: &queue::Job,
    channel: &str,
    text: &str,
    blocks: &[SlackBlock],
) -> Result<(String, String), JobError> {
    let db = &state.db;
    let now = state.clock.now();
    let ledger: Option<Ledger> =
        sqlx::query_as("SELECT first_attempt_at, uncertain, posted_channel, ts FROM slack_posts WHERE job_id = $1")
            .bind(job.id)
            .fetch_optional(db)
            .await?;
    if let Some(Ledger { ts: Some(ts), posted_channel, .. }) = &ledger {
        return Ok((posted_channel.clone().unwrap_or_else(|| channel.to_string()), ts.clone()));
    }
    if let Some(earlier) = ledger.as_ref().filter(|l| l.uncertain) {
        sqlx::query("UPDATE slack_posts SET lookups = lookups + 1 WHERE job_id = $1").bind(job.id).execute(db).await?;
        let since = earlier.first_attempt_at - chrono::Duration::seconds(CLOCK_MARGIN_SECS);
        if let Some(ts) = state.slack.find_post(channel, job.id, since).await? {
            tracing::info!(job.id = job.id, "job {}'s post was delivered by an earlier attempt ({ts})", job.id);
            return settle(db, job.id, Some((channel, &ts))).await.map(|()| (channel.to_string(), ts));
        }
    }
    // Written (and committed) before the request: a worker that dies waiting for the answer
    // leaves the post uncertain, and the next attempt looks before posting.
    sqlx::query(
        "INSERT INTO slack_posts (job_id, channel, first_attempt_at, uncertain) VALUES ($1, $2, $3, true)
         ON CONFLICT (job_id) DO UPDATE SET uncertain = true",
    )
    .bind(job.id)
    .bind(channel)
    .bind(now)
    .execute(db)
    .await?;
    match post_joining(state, job, channel, text, blocks).await {
        Ok((posted, ts)) => settle(db, job.id, Some((&posted, &ts))).await.map(|()| (posted, ts)),
        Err(e) if e.outcome_unknown() => Err(e.into()),
        Err(e) => {
            settle(db, job.id, None).await?;
            Err(e.into())
        }
    }
}

/// Posts; when Slack says warroom is not in the channel, joins it (public channels) and posts
/// again. `not_in_channel` after that is final.
async fn post_joining(
    state: &AppState,
    job: &queue::Job,
    channel: &str,
    text: &str,
    blocks: &[SlackBlock],
) -> Result<(String, String), SlackError> {
    match state.slack.post_message(channel, text, blocks, job.id).await {
        Err(e) if e.code() == Some("not_in_channel") => {
            state.slack.join(channel).await.map_err(|join| match join.code() {
                // A channel warroom may not join: the post's own error is the one to tell.
                Some(_) if !join.is_retryable() => e.clone(),
                _ => join,
            })?;
            state.slack.post_message(channel, text, blocks, job.id).await
        }
        other => other,
    }
}

/// Records Slack's sure answer: delivered as (channel, ts), or not delivered.
async fn settle(db: &PgPool, job_id: i64, delivered: Option<(&str, &str)>) -> Result<(), JobError> {
    let (channel, ts) = delivered.unzip();
    sqlx::query("UPDATE slack_posts SET uncertain = false, posted_channel = $2, ts = $3 WHERE job_id = $1")
        .bind(job_id)
        .bind(channel)
        .bind(ts)
        .execute(db)
        .await?;
    Ok(())
}

/// How many history look-ups posts needed in all, and how many posts needed one (for the
/// benchmark's figures).
pub async fn lookups(db: &PgPool) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as("SELECT coalesce(sum(lookups), 0)::bigint, count(*) FILTER (WHERE lookups > 0) FROM slack_posts")
        .fetch_one(db)
        .await
}
