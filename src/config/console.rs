//! The console's sign-in (DESIGN.md "Console", "Environment"): `SLACK_CLIENT_ID`,
//! `SLACK_CLIENT_SECRET` (Sign in with Slack), `SLACK_OIDC_URL` (where the browser is sent to
//! sign in) and `WARROOM_PUBLIC_URL` (warroom's address as people reach it: the `redirect_uri`
//! and the console links in messages). The secret is a [`Secret`], never printed.

use crate::secret::Secret;

/// The console's environment.
#[derive(Debug, Clone)]
pub struct ConsoleEnv {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Without the trailing slash: `https://slack.com`.
    pub oidc_url: String,
    /// Without the trailing slash; `None` means `http://{WARROOM_LISTEN}`.
    pub public_url: Option<String>,
}

impl ConsoleEnv {
    /// Reads the console variables; a bad URL or half a client is a problem `(variable, message)`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>, problems: &mut Vec<(String, String)>) -> Self {
        let mut url = |key: &str, default: Option<&str>| {
            let value = lookup(key).or_else(|| default.map(str::to_string))?;
            match super::api_url::refusal(&value) {
                Some(why) => {
                    problems.push((key.to_string(), format!("{key} {why}")));
                    None
                }
                None => Some(value.trim_end_matches('/').to_string()),
            }
        };
        let oidc_url = url("SLACK_OIDC_URL", Some("https://slack.com")).unwrap_or_default();
        let public_url = url("WARROOM_PUBLIC_URL", None);
        let env = Self {
            client_id: lookup("SLACK_CLIENT_ID"),
            client_secret: lookup("SLACK_CLIENT_SECRET").map(Secret::new),
            oidc_url,
            public_url,
        };
        if env.client_id.is_some() != env.client_secret.is_some() {
            problems.push((
                "SLACK_CLIENT_SECRET".into(),
                "Sign in with Slack needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET together (one of them is set)".into(),
            ));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> (ConsoleEnv, Vec<(String, String)>) {
        let map: std::collections::HashMap<_, _> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut problems = Vec::new();
        (ConsoleEnv::from_lookup(&|k: &str| map.get(k).cloned(), &mut problems), problems)
    }

    #[test]
    fn defaults_to_slack_and_no_public_url() {
        let (console, problems) = env(&[]);
        assert!(problems.is_empty());
        assert_eq!(console.oidc_url, "https://slack.com");
        assert!(console.public_url.is_none() && console.client_id.is_none());
    }

    #[test]
    fn half_a_client_and_a_bad_url_are_problems() {
        let (_, problems) = env(&[("SLACK_CLIENT_ID", "123.456"), ("WARROOM_PUBLIC_URL", "ftp://x")]);
        let keys: Vec<_> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"SLACK_CLIENT_SECRET") && keys.contains(&"WARROOM_PUBLIC_URL"), "{problems:?}");
    }
}
