//! PagerDuty: the Events API v2 routing key has its form (32 letters and digits), and the REST
//! API key, when `PAGERDUTY_API_TOKEN` is set, has its form and answers `GET /abilities`. The
//! routing key is never sent: the Events API has no request that checks a key without paging
//! someone (a good key triggers an incident).

use super::{Check, Context};

const ROUTING: &str = "pagerduty routing key";
const REST: &str = "pagerduty api token";

pub async fn checks(cx: &Context<'_>) -> Vec<Check> {
    let settings = cx.settings;
    let paging_tiers = settings.file.escalation.values().flatten().filter(|t| t.pagerduty).count();
    let routing = match &settings.pagerduty_routing_key {
        None => Check::skip(
            ROUTING,
            match paging_tiers {
                0 => "no PAGERDUTY_ROUTING_KEY (no escalation tier asks for PagerDuty)".to_string(),
                n => format!(
                    "no PAGERDUTY_ROUTING_KEY: {n} escalation tier{} asking for PagerDuty notify only in Slack",
                    if n == 1 { "" } else { "s" }
                ),
            },
        ),
        Some(key) if is_routing_key(key.expose()) => {
            Check::pass(ROUTING, "set, 32 letters and digits (its form only: sending it would page someone)")
        }
        Some(_) => Check::fail(
            ROUTING,
            "PAGERDUTY_ROUTING_KEY is set but is not 32 letters and digits",
            "copy the Integration Key of the service's Events API v2 integration (Service → Integrations)",
        ),
    };
    let fix = "create a REST API key under Integrations → API Access Keys, or unset PAGERDUTY_API_TOKEN";
    let rest = match &settings.pagerduty_api_token {
        None => Check::skip(REST, "no PAGERDUTY_API_TOKEN (warroom needs none: it pages through the Events API)"),
        Some(token) if !is_rest_token(token.expose()) => {
            Check::fail(REST, "PAGERDUTY_API_TOKEN is set but is not a 20-character REST API key", fix)
        }
        Some(token) => {
            let url = format!("{}/abilities", settings.pagerduty_api_url);
            let answer = cx
                .http
                .get(url)
                .header("authorization", format!("Token token={}", token.expose()))
                .header("accept", "application/vnd.pagerduty+json;version=2")
                .send()
                .await;
            match answer.map(|r| r.status().as_u16()) {
                Ok(200) => Check::pass(REST, format!("{} answers GET /abilities", settings.pagerduty_api_url)),
                Ok(401 | 403) => Check::fail(REST, "PagerDuty refuses the REST API key (HTTP 401)", fix),
                Ok(status) => {
                    Check::fail(REST, format!("GET /abilities answered HTTP {status}"), "check PAGERDUTY_API_URL")
                }
                Err(_) => Check::fail(
                    REST,
                    format!("{}: no answer", settings.pagerduty_api_url),
                    "check PAGERDUTY_API_URL (https://api.pagerduty.com)",
                ),
            }
        }
    };
    vec![routing, rest]
}

fn is_routing_key(key: &str) -> bool {
    key.len() == 32 && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// PagerDuty's REST API keys are 20 characters of letters, digits, `+`, `-` and `_`.
fn is_rest_token(token: &str) -> bool {
    token.len() == 20 && token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_forms() {
        assert!(is_routing_key("R0TESTROUTINGKEY0000000000000000"));
        assert!(!is_routing_key("R0TESTROUTINGKEY000000000000000"));
        assert!(!is_routing_key("R0TESTROUTINGKEY000000000000000-"));
        assert!(is_rest_token(crate::sandbox::pagerduty::REST_TOKEN));
        assert!(is_rest_token("u+abcdefghij_klmn-pq"));
        assert!(!is_rest_token("u+abcdefghij klmn-pq"));
        assert!(!is_rest_token("short"));
    }
}
