//! Diagnostics: the catalog of runbook actions ([`catalog`]; the pack format and its rules in
//! [`pack_file`] and [`pack_rules`], where packs come from in [`pack_load`]), what an incident's service lets
//! people run and with which values ([`policy`]), running them safely ([`exec`], [`builtin`]
//! over [`net`] and [`http_get`]), keeping secrets out of what they print ([`redact`]), and
//! two-person approvals for changes ([`approvals`]). Read-only actions run from the job queue when asked; changes run
//! only once approved, and at most once ([`change`]).

pub mod approval_message;
pub mod approvals;
pub mod builtin;
pub mod catalog;
pub mod change;
pub mod exec;
pub mod http_get;
pub mod net;
pub mod pack_file;
pub mod pack_load;
pub mod pack_rules;
#[cfg(test)]
mod pack_tests;
pub mod policy;
pub mod redact;
pub mod run_job;
pub mod runner;
pub mod runner_cancel;
pub mod runner_results;
pub mod runner_tasks;
#[cfg(test)]
mod shipped_tests;

pub use catalog::{Action, Catalog, Kind};
