//! How archiving reacts to an incident's changes (one line in `crate::reactions`): a resolve
//! plans the warning and the archiving (with `[slack] archive_after`); a reopen cancels them and,
//! when the channel was archived, unarchives it before anything else is posted there.

use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use crate::incident::change::{Change, Context, React};
use crate::jobs::{kind, queue};

/// Archiving's reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let (config, now) = (ctx.config, ctx.now);
        Box::pin(async move {
            match *change {
                Change::Resolved { incident } => match config.archive_after {
                    Some(after) => super::plan(tx, incident.id, after, now + after.as_chrono(), false, now).await,
                    None => Ok(()),
                },
                Change::Reopened { incident } => {
                    super::cancel(tx, incident.id).await?;
                    if !super::archived(tx, incident.id).await? {
                        return Ok(());
                    }
                    // Due a moment before the reopen's own posts (queued at `now` by the reactors
                    // before this one): the queue claims by due time, so it goes first; a post
                    // that still finds the channel archived waits for it (`jobs::runner`).
                    let due = now - chrono::Duration::milliseconds(1);
                    let slot = format!("at:{}", now.timestamp_micros());
                    queue::enqueue(&mut **tx, Some(incident.id), kind::UNARCHIVE, &slot, json!({}), due).await?;
                    Ok(())
                }
                Change::Declared { .. }
                | Change::Acknowledged { .. }
                | Change::Updated { .. }
                | Change::CommanderChanged { .. }
                | Change::SeverityChanged { .. } => Ok(()),
            }
        })
    }
}
