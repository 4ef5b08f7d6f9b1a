//! Secrets in text: private keys, credentials in URLs, the token formats of Slack, GitHub,
//! GitLab, Stripe, Google and AWS, JWTs, `Authorization`/`Cookie` headers, `--password x` flags
//! and `KEY=value` / `"Key": "value"` assignments whose key names a secret (`DB_PASSWORD`,
//! `PGPASSWORD`, `SLACK_SIGNING_SECRET`, `AWS_SECRET_ACCESS_KEY`, `X-Vault-Token`...).
//!
//! What names the secret (the key, the header, the scheme, the URL's user) is kept; the secret
//! becomes `[REDACTED]`. Redacting twice changes nothing, so text may pass through here at every
//! exit. Speed: one [`RegexSet`] scan says whether any rule applies (usually none, and the text
//! is returned as it is, uncopied); only then are the rules that match found and run.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

/// Characters that end an unquoted secret value.
macro_rules! value {
    () => {
        r#"[^\s"',;&]+"#
    };
}

/// Before a token with a recognisable prefix: the start of the text, or a character that cannot
/// be part of the token (an `_` counts: `\b` would not match in `GITHUB_TOKEN_ghp_…`).
macro_rules! start {
    () => {
        r"(^|[^A-Za-z0-9])"
    };
}

/// (pattern, replacement), applied in this order.
const RULES: &[(&str, &str)] = &[
    // A PEM private key, BEGIN line to END line; a key cut short by the output cap (no END line)
    // loses everything after its BEGIN line.
    (
        r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        "${1}\n[REDACTED]\n${2}",
    ),
    // scheme://user:password@host, any case of scheme; the password may hold a `/`, but a port
    // (`host:8080/path?mail=a@b`) is not a password.
    (
        r#"(?i)(?-u:\b)([a-z][a-z0-9+.-]*://[^\s:/@"'<>]*:)(?:[^\s@/"'<>]+|[^\s@/"'<>]*[^\s@/"'<>0-9][^\s@/"'<>]*/[^\s@"'<>]*)@"#,
        "${1}[REDACTED]@",
    ),
    // Slack: bot, user, app, refresh and config tokens; webhook and response URLs.
    (concat!(start!(), r"xox[abeoprs]-[A-Za-z0-9-]{6,}"), "${1}[REDACTED]"),
    (concat!(start!(), r"xapp-[A-Za-z0-9-]{6,}"), "${1}[REDACTED]"),
    (r"(?i)(?-u:\b)(hooks\.slack\.com/)[A-Za-z0-9/_.-]+", "${1}[REDACTED]"),
    // GitHub (classic, OAuth, app, refresh; fine-grained), GitLab, Stripe, Google API keys.
    (concat!(start!(), r"gh[pousr]_[A-Za-z0-9]{20,}"), "${1}[REDACTED]"),
    (concat!(start!(), r"github_pat_[A-Za-z0-9_]{20,}"), "${1}[REDACTED]"),
    (concat!(start!(), r"gl(?:pat|dt|rt|ptt|oas|cbt)-[A-Za-z0-9_-]{20,}"), "${1}[REDACTED]"),
    (concat!(start!(), r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"), "${1}[REDACTED]"),
    (concat!(start!(), r"AIza[0-9A-Za-z_-]{35}"), "${1}[REDACTED]"),
    // AWS access key ids.
    (r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)", "[REDACTED]"),
    // A JWT (header.payload.signature; the header is base64url JSON, so it starts `eyJ`).
    (r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", "[REDACTED]"),
    // `Authorization: Bearer …` (any scheme, kept), and cookies.
    (
        concat!(
            r#"(?i)(?-u:\b)((?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?"#,
            r"(?:(?:bearer|basic|token|digest|negotiate|apikey|sso-key)[ \t]+)?)",
            r#"[^\s"',;]+"#
        ),
        "${1}[REDACTED]",
    ),
    (r"(?i)(?-u:\b)((?:set-)?cookie[ \t]*:[ \t]*)[^\r\n]+", "${1}[REDACTED]"),
    // "Bearer <token>" on its own: a token has a digit or a symbol, the English word does not.
    (r"(?i)(?-u:\b)(bearer[ \t]+)[A-Za-z]*[0-9._~+/=-][A-Za-z0-9._~+/=-]*", "${1}[REDACTED]"),
    // `--password hunter2`, `--api-token x` on a command line.
    (r#"(?i)(--[a-z0-9-]*(?:password|passwd|token|secret|api-key)[ \t]+)[^\s"']+"#, "${1}[REDACTED]"),
    // KEY=value, key: value, "Key": "value", 'key' = 'value', ?access_token=value&: a key whose
    // last word names a secret. The key may have any prefix (`PGPASSWORD`, `DB_PASSWORD`); a word
    // that only starts like one (`tokenizer`, `passwordless`) is not a key.
    (
        concat!(
            r"(?i)(?-u:\b)([a-z0-9_.-]*?(?:password|passwd|passphrase|[_.-]pwd|secret|token|credentials?",
            r"|(?:api|access|private|secret|encryption|signing|master|client|account)[_.-]?key",
            r"|[_.-]auth|key[_.-]?base))",
            r#"(["']?[ \t]*[:=][ \t]*)(?:(")(?:[^"\\\r\n]|\\.)*"|(')[^'\r\n]*'|"#,
            value!(),
            ")"
        ),
        "${1}${2}${3}${4}[REDACTED]${3}${4}",
    ),
];

static SET: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(RULES.iter().map(|(p, _)| *p)).expect("redaction patterns are valid"));

static PATTERNS: LazyLock<Vec<Regex>> =
    LazyLock::new(|| RULES.iter().map(|(p, _)| Regex::new(p).expect("redaction patterns are valid")).collect());

/// `text` with every secret it recognises replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    redacted(text).into_owned()
}

/// [`redact`], without a copy when there is nothing to redact (the usual case).
pub fn redacted(text: &str) -> Cow<'_, str> {
    // `is_match` can stop early and allocates nothing; most text has no secret.
    if !SET.is_match(text) {
        return Cow::Borrowed(text);
    }
    let matched = SET.matches(text);
    let mut out = text.to_string();
    for rule in matched.iter() {
        let replaced = match PATTERNS[rule].replace_all(&out, RULES[rule].1) {
            Cow::Owned(changed) => Some(changed),
            Cow::Borrowed(_) => None,
        };
        if let Some(changed) = replaced {
            out = changed;
        }
    }
    Cow::Owned(out)
}

/// Redacts every string in `value`, in place (object keys are names, not secrets).
pub fn redact_json(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(changed) = redacted(text) {
                *text = changed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(fields) => fields.values_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordinary_output_is_left_alone_and_not_copied() {
        let text = "CONTAINER ID   IMAGE   STATUS\n3f2a   gateway   Exited (137) 2 minutes ago";
        assert!(matches!(redacted(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn json_strings_are_redacted_wherever_they_are() {
        let mut value = json!({ "text": "PGPASSWORD=hunter2 psql", "nested": [{ "out": "ghp_0123456789abcdefghijABCDEFGHIJ" }],
                                "n": 3, "password": "a key is a name" });
        redact_json(&mut value);
        assert_eq!(value["text"], "PGPASSWORD=[REDACTED] psql");
        assert_eq!(value["nested"][0]["out"], "[REDACTED]");
        assert_eq!((value["n"].as_i64(), value["password"].as_str()), (Some(3), Some("a key is a name")));
    }
}
