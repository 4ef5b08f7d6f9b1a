//! How bookmarks react to an incident's changes (one line in `crate::reactions`): a
//! declaration queues the channel's first bookmarks with it. The links that appear later (the
//! status page incident, the checklist, a report) queue their refresh where they are recorded
//! ([`super::queue_refresh`]); no other change moves a link.

use serde_json::json;

use crate::incident::change::{Context, Plan, React};
use crate::incident::store::NewIncident;
use crate::jobs::kind;

/// Bookmarks' reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "bookmarks"
    }

    fn plan(&self, ctx: &Context<'_>, _new: &NewIncident, plan: &mut Plan) {
        if ctx.config.bookmarks {
            plan.queue(kind::BOOKMARKS, "declared", json!({}), ctx.now);
        }
    }
}
