//! How "seen before" reacts to an incident's changes (one line in `crate::reactions`): the
//! declaration queues its one post, in the declaration's own statement. The job's fixed slot
//! makes it one per incident; a replayed declaration writes nothing and queues nothing.
//!
//! The post is due [`AFTER`] the declaration: the declaration's own post is queued only once
//! the channel exists (so after this job), and "seen before" must follow it, never precede it.
//! A declaration still not posted by then is waited for ([`super::post`]).

use serde_json::json;

use crate::incident::change::{Context, Plan, React};
use crate::incident::store::NewIncident;
use crate::jobs::kind;

/// How long after the declaration the post is due: the declaration is normally posted by then.
pub const AFTER: chrono::Duration = chrono::Duration::seconds(5);

/// "Seen before"'s reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "seen_before"
    }

    fn plan(&self, ctx: &Context<'_>, _new: &NewIncident, plan: &mut Plan) {
        plan.queue(kind::SEEN_BEFORE, "", json!({}), ctx.now + AFTER);
    }
}
