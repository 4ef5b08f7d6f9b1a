//! The declare modal's roles: an optional users select for each role other than the commander
//! (the modal's own "Incident Commander" select fills that one), block id `role.<key>`, read
//! back from the submission into `NewIncident::roles`.

use std::collections::HashMap;

use slack_morphism::blocks::{SlackBlock, SlackBlockUsersSelectElement};
use slack_morphism::SlackActionId;

use crate::config::Role;
use crate::incident::SlackUserId;
use crate::slack::kit;

/// Block id of `role`'s select.
pub fn block_id(role: &Role) -> String {
    format!("role.{}", role.key)
}

/// One optional users select per role in `roles` (the roles other than the commander).
pub fn inputs<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Vec<SlackBlock> {
    roles
        .into_iter()
        .map(|role| {
            let select = SlackBlockUsersSelectElement::new().with_action_id(SlackActionId("value".into()));
            kit::input(&block_id(role), &role.name, select, true).into()
        })
        .collect()
}

/// The roles filled in a submission: (role key, user id), in the configuration's order. A
/// value that is no Slack user goes into `errors` under its block.
pub fn submitted<'a, 'p>(
    roles: impl IntoIterator<Item = &'a Role>,
    field: impl Fn(&str) -> Option<&'p str>,
    errors: &mut HashMap<String, String>,
) -> Vec<(String, String)> {
    let mut filled = Vec::new();
    for role in roles {
        let block = block_id(role);
        match field(&block).map(SlackUserId::parse) {
            Some(Ok(user)) => filled.push((role.key.clone(), user.as_str().to_string())),
            Some(Err(m)) => {
                errors.insert(block, m);
            }
            None => {}
        }
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RolesConfig;
    use serde_json::json;

    #[test]
    fn each_role_but_the_commander_is_an_optional_users_select() {
        let config = RolesConfig::default();
        let blocks: Vec<serde_json::Value> = inputs(config.others()).iter().map(kit::json).collect();
        let select = |id: &str, label: &str| {
            json!({ "type": "input", "block_id": id, "optional": true,
            "label": { "type": "plain_text", "text": label }, "element": { "type": "users_select", "action_id": "value" } })
        };
        assert_eq!(blocks, [select("role.scribe", "Scribe"), select("role.comms", "Communications lead")]);
    }

    #[test]
    fn a_submission_gives_the_filled_roles_and_refuses_what_is_no_user() {
        let config = RolesConfig::default();
        let values = HashMap::from([("role.scribe", "U0BOB"), ("role.comms", "bob")]);
        let mut errors = HashMap::new();
        let filled = submitted(config.others(), |block| values.get(block).copied(), &mut errors);
        assert_eq!(filled, [("scribe".to_string(), "U0BOB".to_string())]);
        assert!(errors["role.comms"].contains("not a Slack user"), "{errors:?}");
    }
}
