//! How Slack reaches warroom: over HTTP, signed with the signing secret (32 hexadecimal
//! characters); or over Socket Mode with the app-level token (`xapp-…`), which must open a
//! connection Slack greets with `hello`. Secrets are judged by their form, never printed.

use super::{Check, Context};
use crate::slack::api::SlackClient;

const SIGNING: &str = "slack signing secret";
const APP_TOKEN: &str = "slack app token";
const SOCKET: &str = "slack socket mode";

pub async fn checks(cx: &Context<'_>) -> Vec<Check> {
    let settings = cx.settings;
    let Some(app_token) = &settings.slack_app_token else {
        return vec![signing_check(settings.slack_signing_secret.as_ref().map(|s| s.expose()))];
    };
    let form = app_token_form(app_token.expose());
    if let Err(found) = form {
        let fix = "set SLACK_APP_TOKEN to an app-level token with connections:write (Basic Information → \
                   App-Level Tokens → Generate, `xapp-…`)";
        return vec![Check::fail(APP_TOKEN, found, fix), Check::skip(SOCKET, "the app token is malformed")];
    }
    let mut checks =
        vec![Check::pass(APP_TOKEN, "set, an app-level token (xapp-…): Slack reaches warroom over Socket Mode")];
    let Some(bot_token) = &settings.slack_bot_token else {
        checks.push(Check::skip(SOCKET, "no Slack token"));
        return checks;
    };
    let slack = SlackClient::new(cx.http.clone(), settings.slack_api_url.clone(), bot_token.clone());
    checks.push(match crate::slack::socket::hello(&slack, app_token, settings.slack_timeout).await {
        Ok(hello) => {
            let connections =
                hello["num_connections"].as_u64().map_or(String::new(), |n| format!(" ({n} connections)"));
            Check::pass(SOCKET, format!("apps.connections.open answered and Slack said hello{connections}"))
        }
        Err(e) => {
            let said =
                |code: &str| e.downcast_ref::<crate::slack::api::SlackError>().and_then(|e| e.code()) == Some(code);
            let fix = if said("invalid_auth") || said("not_authed") {
                "set SLACK_APP_TOKEN to this app's app-level token (Basic Information → App-Level Tokens)"
            } else {
                "turn Socket Mode on (Settings → Socket Mode) and give the app token connections:write"
            };
            Check::fail(SOCKET, format!("could not connect: {e}"), fix)
        }
    });
    checks
}

fn signing_check(secret: Option<&str>) -> Check {
    let fix = "copy the Signing Secret (Basic Information → App Credentials) into SLACK_SIGNING_SECRET, or use \
               Socket Mode with SLACK_APP_TOKEN";
    match secret {
        None => Check::fail(SIGNING, "SLACK_SIGNING_SECRET is not set: requests from Slack cannot be verified", fix),
        Some(secret) if is_signing_secret(secret) => {
            Check::pass(SIGNING, "set, 32 hexadecimal characters (requests from Slack are verified with it)")
        }
        Some(_) => Check::fail(SIGNING, "SLACK_SIGNING_SECRET is set but is not 32 hexadecimal characters", fix),
    }
}

/// Slack's signing secrets are 32 lowercase hexadecimal characters.
fn is_signing_secret(secret: &str) -> bool {
    secret.len() == 32 && secret.chars().all(|c| c.is_ascii_hexdigit())
}

/// An app-level token is `xapp-`, then dash-separated parts (`xapp-1-A0123ABCD-1234-abcdef…`).
fn app_token_form(token: &str) -> Result<(), String> {
    let Some(rest) = token.strip_prefix("xapp-") else {
        return Err("SLACK_APP_TOKEN is not an app-level token (it does not start with xapp-)".into());
    };
    let parts: Vec<&str> = rest.split('-').collect();
    let well_formed =
        parts.len() >= 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if well_formed {
        Ok(())
    } else {
        Err("SLACK_APP_TOKEN starts with xapp- but is not of the form xapp-1-A…-…".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_secret_is_32_hex_characters() {
        assert!(is_signing_secret("8f742231b10e8888abcd99yyyzzz85a5".replace('y', "a").replace('z', "b").as_str()));
        for bad in [
            "",
            "test-signing-secret",
            "8f742231b10e8888abcd99aaabbb85a",
            "8f742231b10e8888abcd99aaabbb85a5f",
            "8f742231b10e8888abcd99aaabbb85ag",
        ] {
            assert!(!is_signing_secret(bad), "{bad}");
        }
    }

    #[test]
    fn an_app_token_is_xapp_and_its_parts() {
        assert!(app_token_form("xapp-1-A0WARROOM-sandbox").is_ok());
        assert!(app_token_form("xapp-1-A01ABCD-1234567890-0123456789abcdef").is_ok());
        for bad in ["xoxb-1-2-3", "xapp-", "xapp-oops", "xapp-1--x", "xapp-1-A0 1-x"] {
            assert!(app_token_form(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_line_carries_the_secret() {
        for secret in ["not-a-secret-value-xyz", "0123456789abcdef0123456789abcdef"] {
            assert!(!signing_check(Some(secret)).to_string().contains(secret));
        }
    }
}
