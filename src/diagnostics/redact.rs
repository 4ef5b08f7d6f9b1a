//! Secrets in diagnostic output are redacted before it reaches Slack or the timeline. The rules
//! live in [`crate::sanitize::redact`], shared with everything else that leaves warroom (the
//! status page, the report, the API).

pub use crate::sanitize::redact::{redact, redacted};
