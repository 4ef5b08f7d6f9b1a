//! The sandbox's `users.lookupByEmail`, with Slack's answer (the user object) and its error
//! (`users_not_found`), and a way for tests to give a person another email.

use serde_json::{json, Value};

use super::{State, Workspace};

pub(super) fn lookup_by_email(s: &State, email: &str) -> Result<Value, &'static str> {
    // Slack matches emails without regard to case.
    let user = s.users.iter().find(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email.trim())));
    let user = user.ok_or("users_not_found")?;
    Ok(json!({ "user": { "id": user.id, "team_id": super::TEAM_ID, "name": user.name, "real_name": user.name,
                         "deleted": false, "is_bot": false, "tz": "UTC",
                         "profile": { "email": user.email, "real_name": user.name, "display_name": user.name } } }))
}

impl Workspace {
    /// Gives `user` another email (`None`: none), as if they changed it in their profile.
    pub fn set_email(&self, user: &str, email: Option<&str>) {
        self.with(|s| {
            if let Some(u) = s.users.iter_mut().find(|u| u.id == user) {
                u.email = email.map(str::to_string);
            }
        });
    }
}
