//! What an incident's change causes, in one place. Every transition of the domain (declare,
//! acknowledge, update, commander, severity, resolve, reopen) says what changed
//! ([`Change`](crate::incident::change::Change)) and tells each part below, in this order,
//! inside the transaction that made the change: a part's failure rolls the change back, and a
//! part's work is committed with it or not at all.
//!
//! The order is the order each part's work is queued in: the channel hears of a change before
//! customers and the escalation ladder do.
//!
//! A new part implements [`React`] in its own module (`react.rs`: what it queues with a
//! declaration in `plan`, what it does for each change in `on`) and is one line here. The
//! domain imports none of them.

use crate::app::AppState;
use crate::incident::change::{React, Reactions};

/// Every part that reacts to incident changes.
pub static ALL: &[&dyn React] = &[
    // The incident's own Slack work: its channel, the post telling of each change, the
    // declaration kept current.
    &crate::jobs::SlackWork,
    // The public status page: the opening push, then updates, opens and resolves.
    &crate::statuspage::Reactor,
    // The escalation ladder's timers and the silence check; PagerDuty hears the resolution.
    &crate::escalation::Reactor,
    // Who is on call: an incident nobody commands gets its service's on-call.
    &crate::oncall::Reactor,
    // Roles: those the declare modal filled, and the reminder of required ones left unfilled.
    &crate::roles::Reactor,
    // The channel's bookmarks: war room, runbook, status page, report.
    &crate::bookmarks::Reactor,
    // Archiving: a resolve plans the warning and the archiving; a reopen unarchives first.
    &crate::archive::Reactor,
    // Feedback: on resolve, each participant asked once for a rating and a comment.
    &crate::feedback::Reactor,
    // "Seen before": resolved incidents like this one, posted after the declaration.
    &crate::seen_before::Reactor,
];

impl AppState {
    /// The reactions every transition is handed: [`ALL`], reading this process's configuration.
    pub fn reactions(&self) -> Reactions<'_> {
        Reactions { config: &self.settings.file, reactors: ALL }
    }
}
