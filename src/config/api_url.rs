//! Which URLs warroom may send API credentials to (`SLACK_API_URL`, `STATUSPAGE_API_URL`,
//! `PAGERDUTY_EVENTS_URL`): https anywhere, plain http only to a loopback *host* (the sandbox,
//! tests). The URL is parsed as a browser would (WHATWG: case, userinfo, brackets, `127.1`), so
//! `http://127.0.0.1:x@evil/` (whose host is `evil`) and `http://localhost.evil.com/` are
//! plain http to somewhere else. A user name or password in the URL is refused too: it would
//! be sent, and printed wherever the URL is.

use std::net::IpAddr;

use reqwest::Url;

/// Why `url` may not be an API URL, or `None` when it may.
pub fn refusal(url: &str) -> Option<&'static str> {
    let Ok(parsed) = Url::parse(url) else { return Some("is not a URL") };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("must not carry a user name or password");
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => None,
        "http" if is_loopback(&parsed) => None,
        "http" => Some("must be https, or plain http to a loopback address (127.0.0.1, [::1], localhost)"),
        _ => Some("must be an https URL"),
    }
}

/// External APIs are reached over TLS, except loopback servers (the sandbox, tests).
pub fn is_allowed_api_url(url: &str) -> bool {
    refusal(url).is_none()
}

/// The parsed host is `localhost` (lower-cased by the parser) or a loopback address (written
/// out in full by the parser: `127.1` is `127.0.0.1`, IPv6 in brackets).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host == "localhost" || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_a_loopback_host() {
        for allowed in [
            "http://127.0.0.1:9/api",
            "http://127.0.0.1:9999/api",
            "http://[::1]:9/",
            "http://localhost:9",
            "HTTP://LOCALHOST:9/api",
            "http://127.1:9/",
            "http://127.0.0.2/",
            "https://slack.com/api",
            "HTTPS://api.statuspage.io/v1",
        ] {
            assert_eq!(refusal(allowed), None, "{allowed}");
        }
        for refused in [
            "http://127.0.0.1:x@evil/",
            "http://127.0.0.1@evil.example/api",
            "http://localhost.evil.com/",
            "http://localhost.:9@evil/",
            "http://[::1].evil/",
            "http://evil.example/api",
            "http://slack.example.com/api",
            "http://0.0.0.0:9/",
            "http://[::ffff:169.254.169.254]/",
            "http://169.254.169.254/latest",
            "https://user:pass@slack.com/api",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "127.0.0.1:9",
            "",
        ] {
            assert!(refusal(refused).is_some(), "{refused} should be refused");
        }
    }
}
