//! Slack request signatures: `v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the signing
//! secret, accepted within ±300 seconds of now and compared in constant time.
//!
//! Not slack-morphism's `SlackEventSignatureVerifier`: its `verify` takes "now" from the
//! system clock (`current_unix_seconds()`, `SystemTime::now()`; `verify_at_time` is private),
//! where warroom checks against the injected clock (so tests move time instead of sleeping);
//! it takes the body as `&str`, where Slack signs bytes; and its `signature-verifier` feature
//! would bring hmac 0.13 / sha2 0.11 beside the versions warroom uses.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, in seconds (replay window).
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature header")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a number")]
    BadTimestamp,
    #[error("request timestamp is more than 5 minutes from now (replayed or clock skew)")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// The `v0=...` signature Slack would send for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks a request's signature headers against its raw body.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(VerifyError::Missing);
    };
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now.timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale);
    }
    let expected = signature.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).ok_or(VerifyError::Mismatch)?;
    // verify_slice compares in constant time.
    mac(secret, timestamp, body).verify_slice(&expected).map_err(|_| VerifyError::Mismatch)
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    // Slack's worked example from "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn reproduces_slacks_worked_example() {
        assert_eq!(sign(SECRET, TIMESTAMP, BODY.as_bytes()), EXPECTED);
        assert_eq!(verify(SECRET, Some(TIMESTAMP), Some(EXPECTED), BODY.as_bytes(), at(1531420618)), Ok(()));
    }

    #[test]
    fn refuses_a_changed_body_or_a_wrong_secret() {
        let now = at(1531420618);
        let changed = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verify(SECRET, Some(TIMESTAMP), Some(EXPECTED), changed.as_bytes(), now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify("other", Some(TIMESTAMP), Some(EXPECTED), BODY.as_bytes(), now), Err(VerifyError::Mismatch));
        assert_eq!(verify(SECRET, Some(TIMESTAMP), Some("v0=zz"), BODY.as_bytes(), now), Err(VerifyError::Mismatch));
    }

    #[test]
    fn refuses_timestamps_outside_five_minutes() {
        let body = BODY.as_bytes();
        assert_eq!(verify(SECRET, Some(TIMESTAMP), Some(EXPECTED), body, at(1531420618 + 300)), Ok(()));
        assert_eq!(
            verify(SECRET, Some(TIMESTAMP), Some(EXPECTED), body, at(1531420618 + 301)),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(TIMESTAMP), Some(EXPECTED), body, at(1531420618 - 301)),
            Err(VerifyError::Stale)
        );
        assert_eq!(verify(SECRET, None, Some(EXPECTED), body, at(0)), Err(VerifyError::Missing));
        assert_eq!(verify(SECRET, Some("soon"), Some(EXPECTED), body, at(0)), Err(VerifyError::BadTimestamp));
    }
}
