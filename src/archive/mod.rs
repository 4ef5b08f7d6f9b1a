//! Archiving a resolved incident's channel (`[slack] archive_after`, DESIGN.md "After the
//! incident"). A resolve plans two timers: a warning in the channel with a "Keep open" button a
//! day before the archiving (at half the time when `archive_after` is shorter than two days),
//! then `conversations.archive`. Keep open moves both to one `archive_after` from the click,
//! once per resolve. A reopen cancels them, and unarchives the channel first when it was
//! archived, before anything is posted to it. Private channels the same way (`groups:write`).
//!
//! State lives in the timeline (`archive_warned`, `archive_kept_open`, `channel_archived`,
//! `channel_unarchived`) and the job queue: no table of its own.

pub mod click;
mod react;
pub mod run;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use react::Reactor;

use crate::duration::HumanDuration;
use crate::jobs::{kind, queue};
use crate::timeline::EventKind;

/// The warning's Keep open button.
pub const ACTION_KEEP_OPEN: &str = "archive.keep_open";

/// How long before the archiving the warning goes: a day, or half of `archive_after` when that
/// is shorter than two days (a warning a day before a one-day archiving would come at once).
pub fn warning_lead(after: HumanDuration) -> Duration {
    let after = after.as_chrono();
    let day = Duration::days(1);
    if after >= day * 2 {
        day
    } else {
        after / 2
    }
}

/// Plans the warning and the archiving for `archive_at` (`extended`: after a Keep open, whose
/// warning has no button). Slots carry the time, so a re-plan never collides with the first.
pub async fn plan(
    db: &mut PgConnection,
    incident_id: Uuid,
    after: HumanDuration,
    archive_at: DateTime<Utc>,
    extended: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let archive_at = crate::clock::whole_seconds(archive_at);
    let warn_at = (archive_at - warning_lead(after)).max(now);
    let at = archive_at.timestamp();
    let payload = json!({ "archive_at": archive_at, "extended": extended });
    queue::enqueue(&mut *db, Some(incident_id), kind::ARCHIVE_WARN, &format!("at:{at}"), payload.clone(), warn_at)
        .await?;
    queue::enqueue(&mut *db, Some(incident_id), kind::ARCHIVE, &format!("at:{at}"), payload, archive_at).await?;
    Ok(())
}

/// Cancels the planned warning and archiving (a reopen, a Keep open).
pub async fn cancel(db: &mut PgConnection, incident_id: Uuid) -> sqlx::Result<()> {
    queue::cancel(&mut *db, incident_id, kind::ARCHIVE_WARN).await?;
    queue::cancel(&mut *db, incident_id, kind::ARCHIVE).await?;
    Ok(())
}

/// Whether the incident's channel is archived, as warroom last left it.
pub async fn archived(db: &mut PgConnection, incident_id: Uuid) -> sqlx::Result<bool> {
    let last: Option<String> = sqlx::query_scalar(
        "SELECT kind FROM timeline_events WHERE incident_id = $1 AND kind = ANY($2) ORDER BY id DESC LIMIT 1",
    )
    .bind(incident_id)
    .bind(vec![EventKind::ChannelArchived.as_str(), EventKind::ChannelUnarchived.as_str()])
    .fetch_optional(db)
    .await?;
    Ok(last.as_deref() == Some(EventKind::ChannelArchived.as_str()))
}

/// Whether an unarchive of the incident's channel is on its way (a post into it waits for it).
pub async fn unarchiving(db: &PgPool, incident_id: Option<Uuid>) -> sqlx::Result<bool> {
    let Some(incident_id) = incident_id else { return Ok(false) };
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND kind = $2 AND state IN ('queued', 'running'))",
    )
    .bind(incident_id)
    .bind(kind::UNARCHIVE)
    .fetch_one(db)
    .await
}

/// Whether Keep open was clicked since the incident's last resolve (it extends once).
pub async fn kept_open(db: &mut PgConnection, incident_id: Uuid, since: DateTime<Utc>) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM timeline_events WHERE incident_id = $1 AND kind = $2 AND at >= $3)",
    )
    .bind(incident_id)
    .bind(EventKind::ArchiveKeptOpen.as_str())
    .bind(since)
    .fetch_one(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_comes_a_day_before_or_at_half_time() {
        let d = |s: &str| HumanDuration::parse(s).unwrap();
        assert_eq!(warning_lead(d("7d")), Duration::days(1));
        assert_eq!(warning_lead(d("2d")), Duration::days(1));
        assert_eq!(warning_lead(d("1d")), Duration::hours(12));
        assert_eq!(warning_lead(d("2h")), Duration::hours(1));
    }
}
