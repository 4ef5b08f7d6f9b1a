//! `[services.x] runbook`: a path relative to the config file's directory (as `[diagnostics]
//! dirs` are, so one config works from any working directory), resolved once when the file is
//! read, with where in the file it was written so that `check-config` can say `file:line` when
//! the runbook is missing or unreadable.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::ServiceConfig;

#[derive(Deserialize)]
struct Keys {
    #[serde(default)]
    services: BTreeMap<String, ServiceKeys>,
}

#[derive(Deserialize)]
struct ServiceKeys {
    runbook: Option<Spanned<String>>,
}

/// Resolves each service's runbook against `file`'s directory and records its `file:line`.
pub(super) fn resolve(file: &Path, text: &str, services: &mut BTreeMap<String, ServiceConfig>) {
    let dir = file.parent().unwrap_or(Path::new(""));
    // Only the `runbook` keys are read here; the file already parsed as a whole.
    let keys: Keys = toml::from_str(text).unwrap_or(Keys { services: BTreeMap::new() });
    for (name, service) in services.iter_mut() {
        let Some(path) = service.runbook.take() else { continue };
        service.runbook = Some(if path.is_absolute() { path } else { dir.join(path) });
        if let Some(span) = keys.services.get(name).and_then(|k| k.runbook.as_ref()).map(Spanned::span) {
            let line = text.get(..span.start).map_or(1, |before| before.matches('\n').count() + 1);
            service.runbook_location = Some(format!("{}:{line}", file.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::FileConfig;
    use std::path::Path;

    #[test]
    fn a_runbook_is_relative_to_the_config_files_directory_and_keeps_its_line() {
        let text = "[services.api]\npacks = [\"http\"]\nrunbook = \"runbooks/api.md\"\n\n[services.abs]\nrunbook = \"/srv/abs.md\"\n";
        let config = FileConfig::parse(Path::new("/etc/warroom/warroom.toml"), text).unwrap();
        let api = &config.services["api"];
        assert_eq!(api.runbook.as_deref(), Some(Path::new("/etc/warroom/runbooks/api.md")));
        assert_eq!(api.runbook_location.as_deref(), Some("/etc/warroom/warroom.toml:3"));
        assert_eq!(config.services["abs"].runbook.as_deref(), Some(Path::new("/srv/abs.md")));
        let here = FileConfig::parse(Path::new("warroom.toml"), text).unwrap();
        assert_eq!(here.services["api"].runbook.as_deref(), Some(Path::new("runbooks/api.md")));
    }
}
