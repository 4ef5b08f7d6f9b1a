//! The catch-up card (DESIGN.md "People"): whoever joins an incident channel, and whoever types
//! `/incident catchup`, sees where the incident stands — status, severity, roles, time since the
//! declaration and the last update, the last three updates, running diagnostics, pending
//! approvals, open follow-ups and the runbook's open steps — in one ephemeral message.
//!
//! [`card`] reads it from Postgres in one statement, [`render`] makes it Block Kit, [`join`]
//! decides who gets it on `member_joined_channel` (once per join), and [`send`] is the job that
//! sends it.

pub mod card;
pub mod join;
pub mod render;
pub mod send;

pub use card::{load, Card};
pub use render::render;
