//! How the status page reacts to an incident's changes (one line in `crate::reactions`): the
//! opening push at declaration, then an update, an open or a resolve for each change customers
//! see, each queued in the change's own transaction.

use futures_util::future::BoxFuture;
use sqlx::{Postgres, Transaction};

use super::mode;
use crate::config::StatuspageMode;
use crate::incident::change::{Change, Context, Plan, React};
use crate::incident::store::NewIncident;

/// The status page's reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "statuspage"
    }

    fn plan(&self, ctx: &Context<'_>, new: &NewIncident, plan: &mut Plan) {
        // The mirror row is the status page's own: written after the declaration, in its
        // transaction (only for a severity shown there).
        // A private incident opens nothing there: only a person who may publish it does.
        if mode(ctx.config, new.severity) != StatuspageMode::Off && !new.private {
            plan.then_react();
        }
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let (config, actor, now) = (ctx.config, ctx.actor, ctx.now);
        Box::pin(async move {
            match *change {
                Change::Declared { new, .. } if new.private => Ok(()),
                // A private incident's customer text waits, as a draft, for a `publish_private`
                // principal to post it (its resolution follows only what was published).
                Change::Updated { incident, .. } => {
                    if incident.private {
                        super::private_draft(tx, config, incident, actor, now, false).await
                    } else {
                        super::after_update(tx, config, incident, actor, now).await
                    }
                }
                Change::SeverityChanged { incident, .. } | Change::Reopened { incident } if incident.private => {
                    super::private_draft(tx, config, incident, actor, now, true).await
                }
                Change::Declared { id, new, .. } => super::after_declare(tx, config, id, new, now).await,
                Change::SeverityChanged { incident, .. } => {
                    super::after_severity(tx, config, incident, actor, now).await
                }
                Change::Resolved { incident } => super::after_resolve(tx, incident, actor, now).await,
                Change::Reopened { incident } => super::after_reopen(tx, config, incident, actor, now).await,
                // Customers are not told who acknowledged or who commands.
                Change::Acknowledged { .. } | Change::CommanderChanged { .. } => Ok(()),
            }
        })
    }
}
