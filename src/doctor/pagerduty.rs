//! PagerDuty: the Events API v2 routing key has its form (32 letters and digits), and the REST
//! API token, when one is set, has its form too. Neither is sent anywhere: the Events API has
//! no request that checks a key without paging someone (an event with a bad key is refused,
//! a good one triggers an incident), and warroom itself uses no REST API.

use super::{Check, Context};

const ROUTING: &str = "pagerduty routing key";
const REST: &str = "pagerduty api token";

pub fn checks(cx: &Context<'_>) -> Vec<Check> {
    let settings = cx.settings;
    let paging_tiers = settings.file.escalation.values().flatten().filter(|t| t.pagerduty).count();
    let routing = match &settings.pagerduty_routing_key {
        None => Check::skip(
            ROUTING,
            format!("no PAGERDUTY_ROUTING_KEY ({paging_tiers} escalation tiers ask for PagerDuty; they notify only in Slack)"),
        ),
        Some(key) if is_routing_key(key.expose()) => {
            Check::pass(ROUTING, "set, 32 letters and digits (form only: checking it would page someone)")
        }
        Some(_) => Check::fail(
            ROUTING,
            "PAGERDUTY_ROUTING_KEY is set but is not 32 letters and digits",
            "copy the Integration Key of the service's Events API v2 integration (Service → Integrations)",
        ),
    };
    let rest = match std::env::var("PAGERDUTY_API_TOKEN").ok().filter(|t| !t.is_empty()) {
        None => Check::skip(REST, "no PAGERDUTY_API_TOKEN (warroom needs none: it pages through the Events API)"),
        Some(token) if is_rest_token(&token) => {
            Check::pass(REST, "set, 20 characters (form only: warroom makes no REST call to check it with)")
        }
        Some(_) => Check::fail(
            REST,
            "PAGERDUTY_API_TOKEN is set but is not a 20-character API key",
            "create one under Integrations → API Access Keys, or unset it",
        ),
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
        assert!(is_rest_token("u+abcdefghij_klmn-pq"));
        assert!(!is_rest_token("u+abcdefghij klmn-pq"));
        assert!(!is_rest_token("short"));
    }
}
