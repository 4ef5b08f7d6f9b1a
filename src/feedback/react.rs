//! How feedback reacts to an incident's changes (one line in `crate::reactions`): a resolve
//! queues the ask, with `[feedback] ask` on. Each resolve queues its own (a resolve after a
//! reopen may find people who joined since); who was asked already is asked no more.

use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use crate::incident::change::{Change, Context, React};
use crate::jobs::queue;

/// Feedback's reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "feedback"
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            let Change::Resolved { incident } = change else { return Ok(()) };
            if !ctx.config.feedback.ask {
                return Ok(());
            }
            let at = incident.resolved_at.unwrap_or(ctx.now);
            let slot = format!("resolved:{}", at.timestamp_micros());
            queue::enqueue(&mut **tx, Some(incident.id), super::kind::ASK, &slot, json!({}), ctx.now).await?;
            Ok(())
        })
    }
}
