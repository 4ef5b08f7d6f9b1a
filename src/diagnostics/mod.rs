//! Diagnostics: the catalog of runbook actions ([`catalog`]), running them safely ([`exec`],
//! [`builtin`]), and keeping secrets out of what they print ([`redact`]). Read-only actions run
//! from the job queue when asked; changes need a second person's approval (not in this version:
//! they are refused with that explanation and nothing runs).

pub mod builtin;
pub mod catalog;
pub mod exec;
pub mod redact;
pub mod run_job;

pub use catalog::{Action, Catalog, Kind};
