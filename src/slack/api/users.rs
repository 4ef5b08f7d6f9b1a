//! Finding a Slack user by email (`users.lookupByEmail`, scope `users:read.email`): how an
//! on-call person in PagerDuty becomes a mention.

use slack_morphism::prelude::*;

use super::{into_slack_error, SlackClient, SlackError};

impl SlackClient {
    /// The user whose email is `email`; `None` when the workspace has nobody with it.
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        let method = "users.lookupByEmail";
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.into()));
        match self.session().users_lookup_by_email(&request).await.map_err(|e| into_slack_error(method, e)) {
            Ok(answer) => Ok(Some(answer.user.id.0).filter(|id| !id.is_empty())),
            Err(e) if e.code() == Some("users_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The email in `user`'s profile (`users.info`, scope `users:read.email`); `None` when the
    /// profile shows none or there is no such user.
    pub async fn user_email(&self, user: &str) -> Result<Option<String>, SlackError> {
        let method = "users.info";
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user.into()));
        match self.session().users_info(&request).await.map_err(|e| into_slack_error(method, e)) {
            Ok(answer) => Ok(answer.user.profile.and_then(|p| p.email).map(|e| e.0).filter(|e| !e.is_empty())),
            Err(e) if e.code() == Some("user_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` is a bot, an app or a deactivated account (`users.info`, scope
    /// `users:read`): nobody to ask anything. An unknown user counts as one.
    pub async fn is_bot(&self, user: &str) -> Result<bool, SlackError> {
        match self.call_form("users.info", &[("user", user)]).await {
            Ok(answer) => {
                let u = &answer["user"];
                Ok(u["is_bot"] == true || u["deleted"] == true || u["id"] == "USLACKBOT")
            }
            Err(e) if e.code() == Some("user_not_found") => Ok(true),
            Err(e) => Err(e),
        }
    }
}
