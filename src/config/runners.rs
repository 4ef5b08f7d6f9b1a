//! Remote runners' identities: `WARROOM_RUNNER_TOKENS` (`name=token,name=token`, or `@file` of
//! the same, one a line or comma separated), and the deprecated single `WARROOM_RUNNER_TOKEN`.
//! A runner is who its token says: the server finds the name by the token, never by what a
//! request claims. Only the tokens' SHA-256 digests are kept, and no error names a token.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::ServiceConfig;

/// The shortest token `WARROOM_RUNNER_TOKENS` accepts (`openssl rand -hex 32` gives 64).
const MIN_TOKEN_LEN: usize = 16;
/// The name the deprecated single token gets when nothing else names it.
const DEFAULT_NAME: &str = "default";

/// The runners the server accepts: each name with its token's digest.
#[derive(Clone, Default)]
pub struct RunnerTokens {
    entries: Vec<(String, [u8; 32])>,
    /// Set when the one runner came from `WARROOM_RUNNER_TOKEN`: the warning to log at start.
    deprecation: Option<String>,
}

impl std::fmt::Debug for RunnerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerTokens").field("names", &self.names().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A runner's name as services' `runner = "..."` give it: letters, digits, `.`, `_`, `-`.
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(format!("`{name}` is not a runner name (1-64 letters, digits, `.`, `_`, `-`)"));
    }
    if name == "local" {
        return Err("`local` is not a remote runner: it means warroom's own process".into());
    }
    Ok(())
}

impl RunnerTokens {
    /// Parses `name=token` entries separated by commas or new lines (blank lines and `#`
    /// comments are skipped). Every problem is reported; none repeats a token.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut entries: Vec<(String, [u8; 32])> = Vec::new();
        let items = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        for (i, item) in items.flat_map(|line| line.split(',')).map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let n = i + 1;
            let Some((name, token)) = item.split_once('=') else {
                // The entry may be a bare token: never echo it.
                problems.push(format!("entry {n} is not `name=token`"));
                continue;
            };
            let (name, token) = (name.trim(), token.trim());
            if let Err(e) = valid_name(name) {
                problems.push(format!("entry {n}: {e}"));
                continue;
            }
            if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace) {
                problems.push(format!(
                    "runner `{name}`: its token must be at least {MIN_TOKEN_LEN} characters without spaces (e.g. `openssl rand -hex 32`)"
                ));
                continue;
            }
            let hash = digest(token);
            if entries.iter().any(|(other, _)| other == name) {
                problems.push(format!("runner `{name}` is listed twice"));
            } else if let Some((other, _)) = entries.iter().find(|(_, h)| *h == hash) {
                problems.push(format!("runners `{other}` and `{name}` share a token: each runner needs its own"));
            } else {
                entries.push((name.to_string(), hash));
            }
        }
        if entries.is_empty() && problems.is_empty() {
            problems.push("no runners listed (`name=token,name=token`)".into());
        }
        if problems.is_empty() {
            Ok(Self { entries, deprecation: None })
        } else {
            Err(problems)
        }
    }

    /// From the environment: `WARROOM_RUNNER_TOKENS`, else the deprecated `WARROOM_RUNNER_TOKEN`
    /// for one runner, named by `WARROOM_RUNNER_NAME` or else by the one remote runner the
    /// services use. Problems come as (variable, message).
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        services: &BTreeMap<String, ServiceConfig>,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let (list, single, name) =
            (lookup("WARROOM_RUNNER_TOKENS"), lookup("WARROOM_RUNNER_TOKEN"), lookup("WARROOM_RUNNER_NAME"));
        match (list, single) {
            (Some(_), Some(_)) => Err(vec![(
                "WARROOM_RUNNER_TOKEN",
                "WARROOM_RUNNER_TOKEN is deprecated and WARROOM_RUNNER_TOKENS is set: list that runner in \
                 WARROOM_RUNNER_TOKENS as name=token, and unset WARROOM_RUNNER_TOKEN"
                    .into(),
            )]),
            (Some(list), None) => {
                let text = match list.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|e| vec![("WARROOM_RUNNER_TOKENS", format!("cannot read {path}: {e}"))])?,
                    None => list,
                };
                let problem = |p: String| ("WARROOM_RUNNER_TOKENS", format!("WARROOM_RUNNER_TOKENS: {p}"));
                Self::parse(&text).map_err(|problems| problems.into_iter().map(problem).collect())
            }
            (None, Some(token)) => Self::deprecated_single(&token, name.as_deref(), services),
            (None, None) if name.is_some() => Err(vec![(
                "WARROOM_RUNNER_NAME",
                "WARROOM_RUNNER_NAME names the runner of WARROOM_RUNNER_TOKEN, which is not set".into(),
            )]),
            (None, None) => Ok(Self::default()),
        }
    }

    fn deprecated_single(
        token: &str,
        name: Option<&str>,
        services: &BTreeMap<String, ServiceConfig>,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let used: BTreeSet<&str> =
            services.values().filter_map(|s| s.runner.as_deref()).filter(|r| *r != "local").collect();
        let (name, source) = match (name, used.len()) {
            (Some(name), _) => {
                valid_name(name).map_err(|e| vec![("WARROOM_RUNNER_NAME", format!("WARROOM_RUNNER_NAME: {e}"))])?;
                (name.to_string(), "WARROOM_RUNNER_NAME".to_string())
            }
            (None, 0) => (DEFAULT_NAME.to_string(), "no service uses a remote runner".to_string()),
            (None, 1) => {
                let only = used.into_iter().next().unwrap_or(DEFAULT_NAME);
                (only.to_string(), format!("the one remote runner the services use, runner = \"{only}\""))
            }
            (None, _) => {
                let names: Vec<&str> = used.into_iter().collect();
                return Err(vec![(
                    "WARROOM_RUNNER_TOKEN",
                    format!(
                        "WARROOM_RUNNER_TOKEN is one token, but the services use runners {}: give each its own in \
                         WARROOM_RUNNER_TOKENS=name=token,name=token (or name this one with WARROOM_RUNNER_NAME)",
                        names.join(", ")
                    ),
                )]);
            }
        };
        let warning = format!(
            "WARROOM_RUNNER_TOKEN is deprecated: it is the token of one runner, `{name}` ({source}); \
             set WARROOM_RUNNER_TOKENS={name}=<token> instead (one token per runner)"
        );
        Ok(Self { entries: vec![(name, digest(token))], deprecation: Some(warning) })
    }

    /// The runner whose token this is. Every entry is compared, in constant time, whatever matches.
    pub fn identify(&self, token: &str) -> Option<&str> {
        let given = digest(token);
        let mut found = None;
        for (name, hash) in &self.entries {
            if crate::secret::constant_time_eq(&given, hash) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// No runner configured: remote runners are off.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(name, _)| name.as_str())
    }

    /// The warning to log at start when the deprecated `WARROOM_RUNNER_TOKEN` is in use.
    pub fn deprecation(&self) -> Option<&str> {
        self.deprecation.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(runners: &[&str]) -> BTreeMap<String, ServiceConfig> {
        runners
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("svc{i}"), ServiceConfig { runner: Some(r.to_string()), ..Default::default() }))
            .collect()
    }

    fn lookup(vars: &[(&'static str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        move |key| vars.get(key).cloned()
    }

    const A: &str = "aaaaaaaaaaaaaaaa-token";
    const B: &str = "bbbbbbbbbbbbbbbb-token";

    #[test]
    fn each_token_identifies_its_own_runner_and_nothing_else_does() {
        let tokens = RunnerTokens::parse(&format!("edge-a={A}, edge-b={B}")).unwrap();
        assert_eq!(tokens.identify(A), Some("edge-a"));
        assert_eq!(tokens.identify(B), Some("edge-b"));
        for wrong in ["", "edge-a", "aaaaaaaaaaaaaaaa", &format!("{A} "), &A[..A.len() - 1]] {
            assert_eq!(tokens.identify(wrong), None, "{wrong:?}");
        }
        assert!(tokens.deprecation().is_none());
    }

    #[test]
    fn a_file_takes_one_runner_a_line_or_commas_with_comments() {
        let dir = std::env::temp_dir().join(format!("warroom-runners-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("runners");
        std::fs::write(&file, format!("# edge hosts\nedge-a={A}\n\n edge-b = {B} ,edge.c=cccccccccccccccccccc\n"))
            .unwrap();
        let tokens = RunnerTokens::from_lookup(
            &lookup(&[("WARROOM_RUNNER_TOKENS", &format!("@{}", file.display()))]),
            &services(&[]),
        )
        .unwrap();
        assert_eq!(tokens.names().collect::<Vec<_>>(), ["edge-a", "edge-b", "edge.c"]);
        assert_eq!(tokens.identify(B), Some("edge-b"));
        let missing =
            RunnerTokens::from_lookup(&lookup(&[("WARROOM_RUNNER_TOKENS", "@/nonexistent/runners")]), &services(&[]));
        assert!(missing.unwrap_err()[0].1.contains("cannot read /nonexistent/runners"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_entries_are_all_reported_and_no_token_is_echoed() {
        let text = format!("{A},Bad Name={B},local={B},edge-x=short-secret,edge-y={A},edge-z={A},edge-a=zzzzzzzzzzzzzzzzzzz,edge-a={B}");
        let problems = RunnerTokens::parse(&text).unwrap_err().join("\n");
        assert!(problems.contains("entry 1 is not `name=token`"), "{problems}");
        assert!(problems.contains("`Bad Name` is not a runner name"), "{problems}");
        assert!(problems.contains("`local` is not a remote runner"), "{problems}");
        assert!(problems.contains("runner `edge-x`: its token must be at least 16"), "{problems}");
        assert!(problems.contains("runner `edge-a` is listed twice"), "{problems}");
        assert!(problems.contains("runners `edge-y` and `edge-z` share a token"), "{problems}");
        for secret in [A, B, "short-secret", "zzzzzzzzzzzzzzzzzzz"] {
            assert!(!problems.contains(secret), "a token leaked: {problems}");
        }
        assert!(RunnerTokens::parse(" , \n").unwrap_err()[0].contains("no runners listed"));
    }

    #[test]
    fn the_deprecated_single_token_names_the_one_runner_the_services_use() {
        let env = lookup(&[("WARROOM_RUNNER_TOKEN", "old")]);
        let tokens = RunnerTokens::from_lookup(&env, &services(&["edge-1", "local", "edge-1"])).unwrap();
        assert_eq!((tokens.identify("old"), tokens.identify("edge-1")), (Some("edge-1"), None));
        let warning = tokens.deprecation().unwrap();
        assert!(
            warning.contains("deprecated") && warning.contains("WARROOM_RUNNER_TOKENS=edge-1=<token>"),
            "{warning}"
        );
        assert!(!warning.contains("old"), "{warning}");

        let named = lookup(&[("WARROOM_RUNNER_TOKEN", "old"), ("WARROOM_RUNNER_NAME", "edge-9")]);
        let tokens = RunnerTokens::from_lookup(&named, &services(&["edge-1", "edge-2"])).unwrap();
        assert_eq!(tokens.identify("old"), Some("edge-9"));
        assert_eq!(RunnerTokens::from_lookup(&env, &services(&[])).unwrap().identify("old"), Some("default"));
    }

    #[test]
    fn the_deprecated_token_is_refused_where_it_cannot_say_who_it_is() {
        let env = lookup(&[("WARROOM_RUNNER_TOKEN", "old-secret")]);
        let err = RunnerTokens::from_lookup(&env, &services(&["edge-1", "edge-2"])).unwrap_err();
        assert!(err[0].1.contains("runners edge-1, edge-2") && !err[0].1.contains("old-secret"), "{err:?}");
        let both = lookup(&[("WARROOM_RUNNER_TOKEN", "old-secret"), ("WARROOM_RUNNER_TOKENS", &format!("a={A}"))]);
        assert_eq!(RunnerTokens::from_lookup(&both, &services(&[])).unwrap_err()[0].0, "WARROOM_RUNNER_TOKEN");
        let lonely = lookup(&[("WARROOM_RUNNER_NAME", "edge-1")]);
        assert_eq!(RunnerTokens::from_lookup(&lonely, &services(&[])).unwrap_err()[0].0, "WARROOM_RUNNER_NAME");
        let bad = lookup(&[("WARROOM_RUNNER_TOKEN", "old-secret"), ("WARROOM_RUNNER_NAME", "a b")]);
        assert!(RunnerTokens::from_lookup(&bad, &services(&[])).is_err());
        assert!(RunnerTokens::from_lookup(&lookup(&[]), &services(&["edge-1"])).unwrap().is_empty());
    }
}
