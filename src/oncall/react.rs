//! How on-call reacts to an incident's changes (one line in `crate::reactions`): a declaration
//! nobody would command (an alert's, the API's without a commander) queues the look-up of its
//! service's on-call with it. The shift-end timer it plans later is a timer like the others, so
//! the resolution cancels it; no other change needs on-call's attention.

use serde_json::json;

use super::assign;
use crate::incident::change::{Context, Plan, React};
use crate::incident::store::NewIncident;
use crate::jobs::kind;

/// On-call's reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "oncall"
    }

    fn plan(&self, ctx: &Context<'_>, new: &NewIncident, plan: &mut Plan) {
        if assign::wanted(ctx.config, new) {
            // Tried for about two hours (PagerDuty down at 3 a.m. is no reason to give up early).
            plan.queue_with_attempts(kind::ONCALL_ASSIGN, "declared", json!({}), ctx.now, assign::ATTEMPTS);
        }
    }
}
