//! Finding a Slack user by email (`users.lookupByEmail`, scope `users:read.email`): how an
//! on-call person in PagerDuty becomes a mention. Kept apart from the client's other methods.

use super::api::{SlackClient, SlackError};

impl SlackClient {
    /// The user whose email is `email`; `None` when the workspace has nobody with it.
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        // A read method: Slack takes its arguments form-encoded.
        match self.call_form("users.lookupByEmail", &[("email", email)]).await {
            Ok(answer) => Ok(answer["user"]["id"].as_str().filter(|id| !id.is_empty()).map(str::to_string)),
            Err(e) if e.code() == Some("users_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }
}
