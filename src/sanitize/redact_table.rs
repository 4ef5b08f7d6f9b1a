//! Every format redaction knows, as (input, expected output): the secret gone, what names it
//! kept; and ordinary text that must come through untouched.

use super::redact::redact;

const REDACTED: &[(&str, &str)] = &[
    // KEY=value where `\b` would not match after `_`, and keys with a prefix.
    ("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"),
    ("PGPASSWORD=hunter2 psql -h db", "PGPASSWORD=[REDACTED] psql -h db"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=[REDACTED]"),
    ("API_TOKEN=abc123def", "API_TOKEN=[REDACTED]"),
    ("SLACK_SIGNING_SECRET=8f14e45fceea167a5a36dedd4bea2543", "SLACK_SIGNING_SECRET=[REDACTED]"),
    ("SECRET_KEY_BASE=0123abcd", "SECRET_KEY_BASE=[REDACTED]"),
    ("DB_PWD=hunter2", "DB_PWD=[REDACTED]"),
    ("password=hunter2 user=bob", "password=[REDACTED] user=bob"),
    ("export STRIPE_API_KEY='k 1'", "export STRIPE_API_KEY='[REDACTED]'"),
    ("client_secret: abc", "client_secret: [REDACTED]"),
    ("GET /cb?access_token=abc&state=1", "GET /cb?access_token=[REDACTED]&state=1"),
    ("--password=hunter2", "--password=[REDACTED]"),
    ("mysqladmin --password hunter2 status", "mysqladmin --password [REDACTED] status"),
    // JSON: the quotes kept, a quoted value with spaces or escaped quotes gone whole.
    (
        r#"{"SecretAccessKey": "wJalr/K7MDENG", "Region": "eu-west-1"}"#,
        r#"{"SecretAccessKey": "[REDACTED]", "Region": "eu-west-1"}"#,
    ),
    (r#"{"Token": "FQoGZXIvYXdzE", "Expiration": "2026"}"#, r#"{"Token": "[REDACTED]", "Expiration": "2026"}"#),
    (r#"{"token":"a b \"c\" d"}"#, r#"{"token":"[REDACTED]"}"#),
    (r#"{"password" : "correct horse battery staple"}"#, r#"{"password" : "[REDACTED]"}"#),
    // Headers.
    ("X-Vault-Token: hvs.CAESIJ0abc", "X-Vault-Token: [REDACTED]"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "Authorization: Bearer [REDACTED]"),
    ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED]"),
    ("Authorization: token ghp", "Authorization: token [REDACTED]"),
    ("Cookie: session=abc; theme=dark", "Cookie: [REDACTED]"),
    ("curl -H 'bearer abc.def-123'", "curl -H 'bearer [REDACTED]'"),
    // Passwords in URLs: with a `/`, with upper-case schemes, without a user.
    ("DATABASE_URL=postgres://app:s3cr3t@db:5432/app", "DATABASE_URL=postgres://app:[REDACTED]@db:5432/app"),
    ("postgres://app:pa/ss@db/app", "postgres://app:[REDACTED]@db/app"),
    ("POSTGRES://APP:Secret@DB/app", "POSTGRES://APP:[REDACTED]@DB/app"),
    ("Amqp://guest:12345@rabbit", "Amqp://guest:[REDACTED]@rabbit"),
    ("redis://:hunter2@redis:6379/0", "redis://:[REDACTED]@redis:6379/0"),
    // Token formats.
    ("token ghp_0123456789abcdefghijABCDEFGHIJabcdef", "token [REDACTED]"),
    ("GITHUB_TOKEN_ghp_0123456789abcdefghijABCDEFGHIJ", "GITHUB_TOKEN_[REDACTED]"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[REDACTED]"),
    ("glpat-0123456789abcdefghij", "[REDACTED]"),
    ("sk_live_51H0123456789abcdef", "[REDACTED]"),
    ("key=rk_live_51H0123456789abcdef", "key=[REDACTED]"),
    ("AIzaSyA-0123456789abcdefghijklmnopqrstu", "[REDACTED]"),
    ("SLACK_BOT_TOKEN=xoxb-1234567890-abcdefghij", "SLACK_BOT_TOKEN=[REDACTED]"),
    ("xoxa-2-abcdef xoxp-1-abcdef xoxr-1-abcdef xoxs-1-abcdef", "[REDACTED] [REDACTED] [REDACTED] [REDACTED]"),
    ("xapp-1-A0123-456-abcdef", "[REDACTED]"),
    ("https://hooks.slack.com/commands/T0001/123/abcDEF", "https://hooks.slack.com/[REDACTED]"),
    ("AWS AKIAIOSFODNN7EXAMPLE", "AWS [REDACTED]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "jwt [REDACTED] end"),
    // PEM blocks, whole and cut short by the output cap.
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\ndone",
        "key:\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----\ndone",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n…[truncated]",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]\n",
    ),
];

/// Text that must come through exactly as it is.
const UNTOUCHED: &[&str] = &[
    "tokenizer: bert-base-uncased",
    "Go to the password reset page",
    "passwordless login enabled; secretary: Bob",
    "max_tokens=256 total_tokens: 40 tokens/s: 12.5",
    "PWD=/home/app OLDPWD=/",
    "the bearer of bad news, bearer requirement",
    "Authorization failed for user bob",
    "http://inference-gateway:8000/health",
    "http://host:8080/path?mail=a@b.example",
    "https://example.com:443/users/@alice",
    "git@github.com:acme/api.git",
    "monkeyJumps.abcd.efgh",
    "CONTAINER ID   IMAGE   STATUS\n3f2a   gateway   Exited (137) 2 minutes ago",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "disk_live_usage 93%",
    "commit 3f2a9c0e1b7d4a56 by alice",
];

#[test]
fn every_secret_format_is_redacted_and_its_name_kept() {
    let mut wrong = Vec::new();
    for (input, expected) in REDACTED {
        let got = redact(input);
        if got != *expected {
            wrong.push(format!("  {input:?}\n    got  {got:?}\n    want {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "redaction differs:\n{}", wrong.join("\n"));
}

#[test]
fn ordinary_text_is_not_mangled() {
    let wrong: Vec<_> =
        UNTOUCHED.iter().filter(|t| redact(t) != **t).map(|t| format!("{t:?} -> {:?}", redact(t))).collect();
    assert!(wrong.is_empty(), "changed:\n{}", wrong.join("\n"));
}

#[test]
fn redacting_twice_changes_nothing() {
    for (input, _) in REDACTED {
        let once = redact(input);
        assert_eq!(redact(&once), once, "{input:?}");
    }
}

#[test]
fn secrets_among_ordinary_lines_are_each_redacted() {
    // The ordinary lines first: the last secret is a key cut short, which takes the rest with it.
    let all: Vec<&str> = UNTOUCHED.iter().copied().chain(REDACTED.iter().map(|(input, _)| *input)).collect();
    let text = all.join("\n");
    let out = redact(&text);
    for secret in ["hunter2", "wJalrXUtnFEMI", "s3cr3t", "pa/ss", "MIIEow", "b3BlbnNzaC1r", "hvs.CAESIJ0abc"] {
        assert!(!out.contains(secret), "{secret} survived:\n{out}");
    }
    for kept in UNTOUCHED {
        assert!(out.contains(kept), "{kept:?} was changed:\n{out}");
    }
}
