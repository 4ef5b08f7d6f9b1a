//! The Slack app manifest compiled in (`slack-app-manifest.yml`): the bot scopes warroom asks
//! for, which `warroom doctor` compares with what the workspace granted and the sandbox grants.
//!
//! The manifest is plain block YAML; reading one list out of it needs no YAML parser (and no
//! YAML dependency): the `- scope` items under `oauth_config:` → `scopes:` → `bot:`.

/// The manifest as shipped.
pub const MANIFEST: &str = include_str!("../../slack-app-manifest.yml");

/// The bot scopes of [`MANIFEST`], in its order.
pub fn bot_scopes() -> Vec<String> {
    bot_scopes_of(MANIFEST)
}

/// The bot scopes of a manifest: the list under `oauth_config.scopes.bot`.
pub fn bot_scopes_of(manifest: &str) -> Vec<String> {
    // The path of keys to the line being read: (indent, key) of each open mapping.
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut scopes = Vec::new();
    for line in manifest.lines() {
        let text = line.split(" #").next().unwrap_or("").trim_end();
        let content = text.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = text.len() - content.len();
        if let Some(item) = content.strip_prefix("- ") {
            let under: Vec<&str> = path.iter().map(|(_, k)| k.as_str()).collect();
            if under == ["oauth_config", "scopes", "bot"] {
                scopes.push(item.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
            }
            continue;
        }
        let Some((key, _)) = content.split_once(':') else { continue };
        while path.last().is_some_and(|(i, _)| *i >= indent) {
            path.pop();
        }
        path.push((indent, key.trim().to_string()));
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_asks_for_the_scopes_warroom_uses() {
        let scopes = bot_scopes();
        for needed in [
            "chat:write",
            "channels:manage",
            "usergroups:read",
            "files:write",
            "bookmarks:write",
            "bookmarks:read",
            // The post-mortem canvas ([slack] postmortem_canvas).
            "canvases:write",
            "channels:history",
            // Private incidents: their channels are private.
            "groups:write",
            "groups:read",
            "groups:history",
            "users:read",
            "users:read.email",
        ] {
            assert!(scopes.iter().any(|s| s == needed), "{needed} in {scopes:?}");
        }
        assert!(!scopes.iter().any(|s| s.contains(' ') || s.is_empty()), "{scopes:?}");
    }

    #[test]
    fn the_socket_mode_manifest_asks_for_the_same_bot_scopes() {
        let socket = bot_scopes_of(include_str!("../../slack-app-manifest.socket-mode.yml"));
        assert_eq!(socket, bot_scopes());
    }

    #[test]
    fn only_the_bot_list_counts() {
        let manifest = "oauth_config:\n  scopes:\n    user:\n      - search:read\n    bot:\n      - chat:write   # posts\n      - \"pins:write\"\nsettings:\n  bot_events:\n    - reaction_added\n";
        assert_eq!(bot_scopes_of(manifest), ["chat:write", "pins:write"]);
    }
}
