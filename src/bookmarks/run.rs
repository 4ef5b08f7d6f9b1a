//! [`kind::BOOKMARKS`]: brings every bookmark of an incident channel up to date, exactly once
//! each. A bookmark is added the first time (`bookmarks.add`), edited when its link changed
//! (`bookmarks.edit`), and left alone when it is current (no call at all). An add whose answer
//! was lost is looked for by its title (`bookmarks.list`) before it is added again.
//!
//! One job at a time per channel (an advisory lock held across the Slack calls): a refresh
//! queued while another runs edits what that one added instead of adding a second bookmark.
//!
//! [`kind::BOOKMARKS`]: crate::jobs::kind::BOOKMARKS

use uuid::Uuid;

use super::links::{self, Source};
use super::{store, Kind};
use crate::app::AppState;
use crate::jobs::{queue, JobError};
use crate::slack::api::SlackError;

/// Why one bookmark could not be brought up to date.
enum Failure {
    Db(sqlx::Error),
    Slack(SlackError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<SlackError> for Failure {
    fn from(e: SlackError) -> Self {
        Failure::Slack(e)
    }
}

pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    if !state.settings.file.bookmarks {
        return Ok(());
    }
    let incident = crate::jobs::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let mut lock = state.db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("bookmarks:{channel}"))
        .execute(&mut *lock)
        .await?;
    let mut refused = Vec::new();
    for kind in Kind::ALL {
        let Some(source) = links::source(state, incident.id, kind).await? else { continue };
        let mut outcome = keep(state, &channel, incident.id, kind, &source).await;
        if matches!(&outcome, Err(Failure::Slack(e)) if e.code() == Some("not_in_channel")) {
            // Someone removed warroom from its channel: it joins again (public channels) and
            // tries once more.
            outcome = match state.slack.join(&channel).await {
                Ok(_) => keep(state, &channel, incident.id, kind, &source).await,
                Err(e) => Err(e.into()),
            };
        }
        match outcome {
            Ok(()) => {}
            Err(Failure::Db(e)) => return Err(e.into()),
            Err(Failure::Slack(e)) if e.is_retryable() => return Err(e.into()),
            // A bookmark Slack refuses for good (`invalid_link`, a scope the app lacks) is no
            // reason to tell anyone in the channel: logged, and the others still kept.
            Err(Failure::Slack(e)) => {
                tracing::warn!(incident.number = %incident.number(), "the {} bookmark was refused: {e}", kind.title());
                refused.push(format!("{}: {e}", kind.title()));
            }
        }
    }
    lock.commit().await?;
    if refused.is_empty() {
        Ok(())
    } else {
        Err(JobError::Reported(refused.join("; ")))
    }
}

/// Brings `channel`'s bookmark of `kind` to point at `source`.
async fn keep(state: &AppState, channel: &str, incident_id: Uuid, kind: Kind, source: &Source) -> Result<(), Failure> {
    let db = &state.db;
    let key = source.key();
    let row = store::get(db, channel, kind).await?;
    let mut id = row.as_ref().and_then(|r| r.bookmark_id.clone());
    if id.is_some() && row.as_ref().is_some_and(|r| r.source.as_deref() == Some(&key)) {
        return Ok(());
    }
    let Some(link) = source.link(state).await? else { return Ok(()) };
    let now = state.clock.now();
    let settle = |id: &str| store::Settled {
        channel,
        kind,
        incident_id,
        bookmark_id: id.to_string(),
        link: link.clone(),
        source: key.clone(),
        now,
    };
    if id.is_none() && row.as_ref().is_some_and(|r| r.uncertain) {
        if let Some(found) = state.slack.bookmarks(channel).await?.into_iter().find(|b| b.title == kind.title()) {
            tracing::info!(channel, "the {} bookmark was added by an earlier attempt ({})", kind.title(), found.id);
            if found.link == link {
                return Ok(store::settle(db, &settle(&found.id)).await?);
            }
            id = Some(found.id);
        }
    }
    if let Some(existing) = &id {
        match state.slack.bookmark_edit(channel, existing, kind.title(), &link).await {
            Ok(edited) => return Ok(store::settle(db, &settle(&edited.id)).await?),
            // Removed in Slack by someone: added again below.
            Err(e) if matches!(e.code(), Some("bookmark_not_found" | "not_found")) => {
                store::forget(db, channel, kind).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    store::mark_uncertain(db, channel, kind, incident_id, now).await?;
    match state.slack.bookmark_add(channel, kind.title(), &link).await {
        Ok(added) => Ok(store::settle(db, &settle(&added.id)).await?),
        Err(e) => {
            if !e.outcome_unknown() {
                store::not_added(db, channel, kind).await?;
            }
            Err(e.into())
        }
    }
}
