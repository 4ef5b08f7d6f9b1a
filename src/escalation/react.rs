//! How escalation reacts to an incident's changes (one line in `crate::reactions`): the ladder's
//! timers and the silence check are queued with the declaration; a new severity re-plans the
//! tiers not yet fired; the resolution tells PagerDuty.

use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::{ack_check_time, ladder, tier_times};
use crate::incident::change::{Change, Context, Plan, React};
use crate::incident::store::NewIncident;
use crate::jobs::kind;

/// Escalation's reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "escalation"
    }

    fn plan(&self, ctx: &Context<'_>, new: &NewIncident, plan: &mut Plan) {
        for (index, at) in tier_times(ctx.config, new.severity, ctx.now).into_iter().enumerate() {
            let tier = index + 1;
            plan.queue(kind::ESCALATION_TIER, tier.to_string(), json!({ "tier": tier }), at);
        }
        // The silence check pings tier 1: nothing to ping without a ladder.
        let ack_check =
            ack_check_time(ctx.config, new.severity, ctx.now).filter(|_| !ladder(ctx.config, new.severity).is_empty());
        if let Some(at) = ack_check {
            plan.queue(kind::ESCALATION_ACK_CHECK, "ack", json!({}), at);
        }
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
                Change::SeverityChanged { incident, to, .. } => {
                    super::after_severity(tx, config, incident, to, now).await
                }
                Change::Resolved { incident } => super::after_resolve(tx, incident, now).await,
                // The declaration's timers were planned with it; the silence check reads the
                // acknowledgement when it fires.
                Change::Declared { .. }
                | Change::Acknowledged { .. }
                | Change::Updated { .. }
                | Change::CommanderChanged { .. }
                | Change::Reopened { .. } => Ok(()),
            }
        })
    }
}
