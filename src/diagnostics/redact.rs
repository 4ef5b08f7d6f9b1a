//! What diagnostics print is cleaned before it reaches Slack or the timeline: control
//! characters out (colour codes, and NUL, which Postgres cannot store: a program that prints one
//! must not make its run unrecordable) and secrets redacted. The rules live in
//! [`crate::sanitize`], shared with everything else that leaves warroom.

use crate::sanitize::{redacted, strip_controls};

/// `output` without control characters (bar `\n` and `\t`) and with its secrets redacted.
pub fn redact(output: &str) -> String {
    redacted(&strip_controls(output)).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_is_redacted_and_free_of_controls() {
        assert_eq!(super::redact("\u{1b}[32mok\u{1b}[0m\0 PGPASSWORD=hunter2\r\n"), "ok PGPASSWORD=[REDACTED]\n");
    }
}
