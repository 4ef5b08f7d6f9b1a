//! Secrets in diagnostic output: Slack and AWS tokens, bearer tokens, private keys and
//! `password=`-style assignments are replaced before output reaches Slack or the timeline.

use std::sync::LazyLock;

use regex::Regex;

const MARK: &str = "[REDACTED]";

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: [(&str, &'static str); 6] = [
        // A PEM private key, whole.
        (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", MARK),
        // Slack tokens: bot, user, app, refresh, config.
        (r"xox[abposr]-[A-Za-z0-9-]{6,}", MARK),
        (r"xapp-[A-Za-z0-9-]{6,}", MARK),
        // AWS access key ids.
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", MARK),
        // `Authorization: Bearer ...` and the like.
        (r"(?i)\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}", "$1$2[REDACTED]"),
        // password=..., secret: ..., api_key="...", postgres://user:pass@host
        (
            r#"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?token)(["']?\s*[=:]\s*["']?)[^\s"',;&]+"#,
            "$1$2[REDACTED]",
        ),
    ];
    rules.iter().map(|(p, r)| (Regex::new(p).expect("redaction patterns are valid"), *r)).collect()
});

static URL_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@").expect("valid"));

/// `text` with every secret it recognises replaced by `[REDACTED]`, and every NUL (which
/// Postgres cannot store, and a binary log may hold) by U+FFFD.
pub fn redact(text: &str) -> String {
    let mut out = URL_PASSWORD.replace_all(text, "${1}[REDACTED]@").into_owned();
    for (pattern, replacement) in PATTERNS.iter() {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    if out.contains('\0') {
        out = out.replace('\0', "\u{FFFD}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keys_and_passwords_are_redacted() {
        let text = "SLACK_BOT_TOKEN=xoxb-1234567890-abcdefghij\nAWS AKIAIOSFODNN7EXAMPLE\n\
                    Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\npassword=hunter2 user=bob\n\
                    DATABASE_URL=postgres://app:s3cr3t@db:5432/app\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----";
        let out = redact(text);
        for secret in ["xoxb-1234567890", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9", "hunter2", "s3cr3t", "MIIE"] {
            assert!(!out.contains(secret), "{secret} survived:\n{out}");
        }
        assert!(out.contains("user=bob") && out.contains("postgres://app:[REDACTED]@db:5432/app"), "{out}");
    }

    #[test]
    fn a_nul_in_output_is_replaced_so_that_it_can_be_stored() {
        assert_eq!(redact("binary\0log\x1b[31m"), "binary\u{FFFD}log\x1b[31m");
    }

    #[test]
    fn ordinary_output_is_left_alone() {
        let text = "CONTAINER ID   IMAGE   STATUS\n3f2a   gateway   Exited (137) 2 minutes ago";
        assert_eq!(redact(text), text);
    }
}
