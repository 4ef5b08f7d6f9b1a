//! What leaves warroom is clean: secrets redacted ([`redact`]) and control characters taken out
//! ([`control`]) before text reaches the status page, the post-incident report, the API, Slack
//! or the timeline. A leaf module (like `secret`): every layer may use it, it uses none.

pub mod control;
pub mod redact;

#[cfg(test)]
mod redact_table;

pub use control::strip_controls;
pub use redact::{redact, redact_json, redacted};
