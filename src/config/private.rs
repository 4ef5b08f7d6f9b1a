//! Private incidents' keys: `[slack] announce_private` (what the announcement channel hears of
//! a private incident) and `[services.x] private` (a service whose incidents are always private).

use super::FileConfig;

/// How private incidents are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateConfig {
    /// `[slack] announce_private`: true (the default) announces a private incident as its number
    /// only ("INC-42 (private) declared by @x"); false does not announce it at all.
    pub announce: bool,
}

impl Default for PrivateConfig {
    fn default() -> Self {
        Self { announce: true }
    }
}

impl PrivateConfig {
    /// From `[slack] announce_private` as written (absent: the default).
    pub fn from_raw(announce_private: Option<bool>) -> Self {
        Self { announce: announce_private.unwrap_or(true) }
    }
}

impl FileConfig {
    /// `[services.x] private = true`: every incident of `service` is declared privately.
    pub fn service_is_private(&self, service: &str) -> bool {
        self.services.get(service).is_some_and(|s| s.private)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn announce_private_defaults_to_true_and_services_to_public() {
        let config = FileConfig::parse(Path::new("warroom.toml"), "[services.api]\n").unwrap();
        assert!(config.private.announce);
        assert!(!config.service_is_private("api"));
        assert!(!config.service_is_private("unknown"));
        let text = "[slack]\nannounce_private = false\n[services.vault]\nprivate = true\n";
        let config = FileConfig::parse(Path::new("warroom.toml"), text).unwrap();
        assert!(!config.private.announce);
        assert!(config.service_is_private("vault"));
    }

    #[test]
    fn a_private_that_is_not_a_boolean_is_refused_with_its_line() {
        let problems =
            FileConfig::parse(Path::new("warroom.toml"), "[services.vault]\nprivate = \"yes\"\n").unwrap_err();
        assert_eq!(problems[0].line, 2, "{problems:?}");
    }
}
