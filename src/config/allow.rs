//! `[services.x] allow`: the target parameters a person may choose for the service's
//! diagnostics, each with the pattern a chosen value must match in full (anchored, whatever the
//! pattern says). A target without an entry always takes the service's own value.

use std::collections::BTreeMap;
use std::ops::Range;

use regex::Regex;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// The validated `allow` table of one service.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// `None` when the pattern did not compile (reported by [`Allow::problems`]).
    pattern: Option<Regex>,
    source: String,
    /// Where the entry is in the file, for the problem's line.
    span: Range<usize>,
    /// `file:line`, once [`Allow::locate`] was told.
    location: Option<String>,
}

impl Allow {
    /// Entries from code (tests, built-in services): `(parameter, pattern)`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut allow = Allow::default();
        for (name, source) in pairs {
            allow.insert(name, source, 0..0);
        }
        match allow.problems("allow").into_iter().next() {
            Some((_, problem)) => Err(problem),
            None => Ok(allow),
        }
    }

    fn insert(&mut self, name: &str, source: &str, span: Range<usize>) {
        let pattern = Regex::new(&format!("^(?:{source})$")).ok();
        let entry = Entry { pattern, source: source.to_string(), span, location: None };
        self.entries.insert(name.to_string(), entry);
    }

    /// Whether a person may give `value` for the target `name`: an entry whose pattern matches
    /// the whole value.
    pub fn permits(&self, name: &str, value: &str) -> bool {
        self.entries.get(name).and_then(|e| e.pattern.as_ref()).is_some_and(|p| p.is_match(value))
    }

    /// The pattern configured for `name`, as written.
    pub fn pattern(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(|e| e.source.as_str())
    }

    /// The parameters named, each with where it was configured (`file:line`), if known.
    pub fn names(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.entries.iter().map(|(name, e)| (name.as_str(), e.location.as_deref()))
    }

    /// Records where each entry is, from its span in the file.
    pub fn locate(&mut self, at: impl Fn(&Range<usize>) -> String) {
        for entry in self.entries.values_mut() {
            entry.location = Some(at(&entry.span));
        }
    }

    /// Every problem, with where it is in the file; `service` names the table.
    pub fn problems(&self, service: &str) -> Vec<(Range<usize>, String)> {
        let mut problems = Vec::new();
        for (name, entry) in &self.entries {
            let valid_name = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_name {
                let m = format!("[services.{service}] allow: `{name}` is not a parameter name (lower case, digits, _)");
                problems.push((entry.span.clone(), m));
            }
            if let Err(e) = Regex::new(&format!("^(?:{})$", entry.source)) {
                let e = e.to_string().lines().last().unwrap_or_default().to_string();
                problems.push((entry.span.clone(), format!("[services.{service}] allow.{name}: not a pattern: {e}")));
            } else if entry.source.is_empty() {
                problems.push((entry.span.clone(), format!("[services.{service}] allow.{name}: an empty pattern")));
            }
        }
        problems
    }
}

impl<'de> Deserialize<'de> for Allow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<Spanned<String>, Spanned<String>>::deserialize(deserializer)?;
        let mut allow = Allow::default();
        for (name, pattern) in &raw {
            allow.insert(name.get_ref(), pattern.get_ref(), pattern.span());
        }
        Ok(allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_only_whole_values() {
        let allow = Allow::from_pairs([("pod", "backend-[a-z0-9-]+"), ("container", "^api-.*$")]).unwrap();

        assert!(allow.permits("pod", "backend-7d9"));
        assert!(!allow.permits("pod", "x-backend-7d9"), "anchored at the start");
        assert!(!allow.permits("pod", "backend-7d9 extra"), "anchored at the end");
        assert!(allow.permits("container", "api-1"));
        assert!(!allow.permits("namespace", "backend-1"), "no entry, no choice");
    }

    #[test]
    fn an_alternation_cannot_escape_the_anchors() {
        let allow = Allow::from_pairs([("host", "a|b")]).unwrap();
        assert!(allow.permits("host", "a") && allow.permits("host", "b"));
        assert!(!allow.permits("host", "a.evil") && !allow.permits("host", "evil.b"));
    }

    #[test]
    fn bad_patterns_and_names_are_problems() {
        assert!(Allow::from_pairs([("pod", "backend-[")]).unwrap_err().contains("allow.pod: not a pattern"));
        assert!(Allow::from_pairs([("Pod", "x")]).unwrap_err().contains("not a parameter name"));
        assert!(Allow::from_pairs([("pod", "")]).unwrap_err().contains("an empty pattern"));
    }

    #[test]
    fn check_config_reports_a_bad_pattern_with_its_file_and_line() {
        let text = "[services.api]\npacks = [\"kubernetes\"]\n\n[services.api.allow]\ndeployment = \"backend-[a-z]+\"\npod = \"backend-[\"\n";

        let problems = super::super::FileConfig::parse(std::path::Path::new("warroom.toml"), text).unwrap_err();

        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].to_string().starts_with("warroom.toml:6: [services.api] allow.pod: not a pattern"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn an_inline_allow_table_loads() {
        let text = "[services.api]\nallow = { deployment = \"^backend-[a-z0-9-]+$\" }\n";
        let config = super::super::FileConfig::parse(std::path::Path::new("warroom.toml"), text).unwrap();
        assert!(config.services["api"].allow.permits("deployment", "backend-blue"));
    }
}
