//! The diagnostics catalog: packs of actions declared in TOML — the shipped ones
//! (`diagnostics/*.toml`, compiled in) and the team's own (`[diagnostics] dirs`), in one format
//! ([`super::pack_file`], [`super::pack_rules`]). An action is an argument vector template (or a
//! built-in check) whose `{placeholders}` are typed parameters, each checked against its own
//! anchored pattern before anything runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::pack_load;
use crate::config::{ConfigProblem, PackDir};

/// Read-only, or a change that needs another person's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Read,
    Change,
}

/// One parameter: values must match `pattern` (anchored).
#[derive(Debug, Clone)]
pub struct Param {
    pub pattern: Regex,
    pub default: Option<String>,
    /// What the action acts on (URL, host, port, container, unit, namespace, ...): it takes the
    /// service's value, and a person may choose another only where `[services.x] allow` says.
    pub target: bool,
}

/// One action of a pack.
#[derive(Debug, Clone)]
pub struct Action {
    pub id: String,
    pub pack: String,
    pub title: String,
    pub kind: Kind,
    pub argv: Vec<String>,
    /// `http_check` or `tcp_connect` instead of a program.
    pub builtin: Option<String>,
    pub timeout: Duration,
    pub output_cap: usize,
    pub params: BTreeMap<String, Param>,
    /// `exit_code`: explain a container exit code (137 OOM, ...).
    pub explain: Option<String>,
    /// Keep only output lines matching this (e.g. the OOM killer's in the kernel log).
    pub filter: Option<Regex>,
    /// Approvals a change needs (its own policy; default `[approvals] required`).
    pub approvals: Option<u32>,
    /// How runbooks write it (`systemctl status {unit}`): what a runbook step is matched against.
    pub(super) forms: Vec<String>,
}

/// Every action of every pack, by id.
#[derive(Debug, Clone)]
pub struct Catalog {
    actions: BTreeMap<String, Action>,
    /// Every pack's name, also one without actions (a service may still list it).
    packs: BTreeSet<String>,
}

impl Catalog {
    /// The shipped packs. They are part of the binary, so a bad one is a bug caught by tests.
    pub fn built_in() -> Result<Self, String> {
        Self::load(&[]).map_err(|problems| joined(&problems))
    }

    /// The shipped packs and the team's own, from `[diagnostics] dirs`; or every problem found
    /// in them, each with its file and line.
    pub fn load(dirs: &[PackDir]) -> Result<Self, Vec<ConfigProblem>> {
        let (catalog, problems) = Self::load_checked(dirs);
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(problems)
        }
    }

    /// [`Catalog::load`] for `check-config`: the actions that are valid, and every problem, so
    /// that the services can be checked against the packs all the same.
    pub fn load_checked(dirs: &[PackDir]) -> (Self, Vec<ConfigProblem>) {
        let mut problems = Vec::new();
        let team = dirs.iter().flat_map(|dir| pack_load::read_team_dir(dir, &mut problems)).collect::<Vec<_>>();
        let (packs, actions) = pack_load::assemble(pack_load::shipped(), team, &mut problems);
        (Self { actions, packs }, problems)
    }

    /// A remote runner's own catalog (`--catalog`, repeated): pack files, and directories whose
    /// `*.toml` files are packs; each pack named by its file's stem. Nothing else runs there.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let sources = paths.iter().flat_map(|path| pack_load::read_path(path, &mut problems)).collect::<Vec<_>>();
        let (packs, actions) = pack_load::assemble(Vec::new(), sources, &mut problems);
        if problems.is_empty() {
            Ok(Self { actions, packs })
        } else {
            Err(problems)
        }
    }

    /// [`Catalog::from_paths`] for one pack file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        Self::from_paths(&[path.to_path_buf()]).map_err(|problems| joined(&problems))
    }

    /// Whether a pack of this name is loaded.
    pub fn has_pack(&self, name: &str) -> bool {
        self.packs.contains(name)
    }

    /// Every problem with the services' packs: a pack that does not exist.
    pub fn check_services(&self, services: &BTreeMap<String, crate::config::ServiceConfig>) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, service) in services {
            for pack in service.packs.iter().filter(|p| !self.has_pack(p)) {
                let known: Vec<&str> = self.packs.iter().map(String::as_str).collect();
                problems.push(format!("[services.{name}]: no diagnostics pack `{pack}` (packs: {})", known.join(", ")));
            }
            // An `allow` entry that no target of the service's actions has is a typo, or a
            // belief that something is allowed that is not.
            for (param, location) in service.allow.names() {
                let is_target = self.for_packs(&service.packs).any(|a| a.params.get(param).is_some_and(|p| p.target));
                if !is_target {
                    let at = location.map(|l| format!("{l}: ")).unwrap_or_default();
                    problems.push(format!(
                        "{at}[services.{name}] allow.{param}: no action of its packs has a target parameter `{param}`"
                    ));
                }
            }
        }
        problems
    }

    pub fn get(&self, id: &str) -> Option<&Action> {
        self.actions.get(id)
    }

    /// Every action, in catalog order.
    pub fn all(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }

    /// The actions of these packs, in catalog order.
    pub fn for_packs<'a>(&'a self, packs: &'a [String]) -> impl Iterator<Item = &'a Action> + 'a {
        self.actions.values().filter(move |a| packs.contains(&a.pack))
    }
}

impl Action {
    /// The parameter values for a run: given ones (the user's, over the service's), defaults
    /// for the rest; each checked against its pattern. Unknown names are refused.
    pub fn resolve_params(
        &self,
        service: &BTreeMap<String, String>,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        if let Some(unknown) = given.keys().find(|k| !self.params.contains_key(*k)) {
            let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
            return Err(format!("`{}` takes no parameter `{unknown}` (it takes: {})", self.id, known.join(", ")));
        }
        let mut values = BTreeMap::new();
        for (name, param) in &self.params {
            let value = given.get(name).or_else(|| service.get(name)).or(param.default.as_ref()).ok_or_else(|| {
                format!(
                    "`{}` needs `{name}`: set it in the service's params in warroom.toml, or pass {name}=...",
                    self.id
                )
            })?;
            if !param.pattern.is_match(value) {
                return Err(format!(
                    "`{name}` = `{value}` is not allowed for `{}` (must match {})",
                    self.id, param.pattern
                ));
            }
            values.insert(name.clone(), value.clone());
        }
        Ok(values)
    }

    /// How runbooks write this action: its `forms`, else its argv as one line.
    pub fn forms(&self) -> Vec<String> {
        if self.forms.is_empty() && !self.argv.is_empty() {
            vec![self.argv.join(" ")]
        } else {
            self.forms.clone()
        }
    }

    /// The argument vector with the (already checked) values in place.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.argv
            .iter()
            .map(|word| {
                let mut out = word.clone();
                for (name, value) in values {
                    out = out.replace(&format!("{{{name}}}"), value);
                }
                out
            })
            .collect()
    }
}

/// `{name}` placeholders in an argv word; other braces (docker's `{{.State.ExitCode}}`) are text.
pub(super) fn placeholders(word: &str) -> impl Iterator<Item = &str> {
    word.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).filter(|name| {
        name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Problems as lines of text, for callers that report one string.
fn joined(problems: &[ConfigProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// What a container exit code means (seed 002's table).
pub fn explain_exit_code(code: &str) -> Option<&'static str> {
    match code.trim() {
        "0" => Some("exited normally"),
        "1" => Some("general error"),
        "137" => Some("killed by SIGKILL: usually the OOM killer (out of memory)"),
        "139" => Some("segmentation fault (SIGSEGV)"),
        "143" => Some("SIGTERM: graceful shutdown (stopped or restarted)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_shipped_packs_load() {
        let catalog = Catalog::built_in().unwrap();
        for id in [
            "http.health",
            "systemd.status",
            "docker.ps",
            "docker.restart",
            "kubernetes.pods",
            "postgres.ready",
            "redis.ping",
        ] {
            assert!(catalog.get(id).is_some(), "{id}");
        }
        assert_eq!(catalog.get("docker.restart").unwrap().kind, Kind::Change);
    }

    #[test]
    fn parameters_are_checked_against_their_patterns() {
        let catalog = Catalog::built_in().unwrap();
        let logs = catalog.get("docker.logs").unwrap();
        let ok = logs.resolve_params(&map(&[("container", "inference-gateway")]), &map(&[])).unwrap();
        assert_eq!(logs.render(&ok), ["docker", "logs", "--tail", "100", "--timestamps", "inference-gateway"]);
        for evil in ["x; rm -rf /", "$(reboot)", "a b", "--privileged", "../../etc", "`id`", "a\nb"] {
            let err = logs.resolve_params(&map(&[("container", evil)]), &map(&[])).unwrap_err();
            assert!(err.contains("is not allowed"), "{evil}: {err}");
        }
        assert!(logs.resolve_params(&map(&[]), &map(&[])).unwrap_err().contains("needs `container`"));
        assert!(logs
            .resolve_params(&map(&[("container", "c")]), &map(&[("cmd", "x")]))
            .unwrap_err()
            .contains("takes no parameter"));
    }

    #[test]
    fn the_example_services_use_existing_packs() {
        let config =
            crate::config::FileConfig::parse(std::path::Path::new("x"), include_str!("../../warroom.example.toml"))
                .unwrap();
        assert_eq!(Catalog::built_in().unwrap().check_services(&config.services), Vec::<String>::new());
    }

    #[test]
    fn no_parameter_of_any_action_accepts_an_injection() {
        let catalog = Catalog::built_in().unwrap();
        let evil =
            ["x; rm -rf /", "$(id)", "`id`", "a b", "a\nb", "--help", "../../etc/passwd", "a|b", "a&&b", "'x'", ""];
        for action in catalog.actions.values() {
            for (name, param) in &action.params {
                for value in evil {
                    assert!(!param.pattern.is_match(value), "{}.{name} accepts {value:?}", action.id);
                }
            }
        }
        assert_eq!(catalog.get("kubernetes.rollout_undo").unwrap().approvals, Some(2), "a rollback needs two people");
    }

    #[test]
    fn every_shipped_parameter_is_decided_target_or_not() {
        // What an action acts on (DESIGN.md: URL, host, port, container, unit, namespace,
        // deployment, pod, job) and the names that mean the same (a compose project, a Celery
        // app, the database user an action logs in as).
        let target_words =
            ["url", "host", "port", "container", "unit", "namespace", "deployment", "pod", "job", "project", "service"];
        let targets_too = ["celery_app", "pg_user"];
        // How much or how far back: a person may give these within their patterns.
        let not_targets = ["minutes", "replicas", "lines", "since", "priority"];
        let catalog = Catalog::built_in().unwrap();
        for action in catalog.actions.values() {
            for (name, param) in &action.params {
                let named_like_a_target =
                    name.split('_').any(|word| target_words.contains(&word)) || targets_too.contains(&name.as_str());
                if named_like_a_target {
                    assert!(param.target, "{}.{name} is named like a target but not marked `target = true`", action.id);
                } else {
                    assert!(
                        not_targets.contains(&name.as_str()),
                        "{}.{name}: decide whether it is a target",
                        action.id
                    );
                    assert!(!param.target, "{}.{name} is marked a target", action.id);
                }
            }
        }
        assert!(catalog.get("http.health").unwrap().params["health_url"].target);
        assert!(!catalog.get("systemd.journal").unwrap().params["since"].target);
        assert!(catalog.get("celery.docker_ping").unwrap().params["celery_container"].target);
        assert!(catalog.get("postgres.kubectl_ready").unwrap().params["pg_pod"].target);
    }

    #[test]
    fn an_allow_entry_must_name_a_target_of_the_services_packs() {
        let catalog = Catalog::built_in().unwrap();
        let service = |allow: &[(&str, &str)]| crate::config::ServiceConfig {
            packs: vec!["kubernetes".into()],
            allow: crate::config::Allow::from_pairs(allow.iter().copied()).unwrap(),
            ..Default::default()
        };
        let services = BTreeMap::from([
            ("ok".to_string(), service(&[("deployment", "backend-[a-z]+")])),
            ("typo".to_string(), service(&[("deploymnet", "x")])),
            ("not-a-target".to_string(), service(&[("replicas", "[0-9]+")])),
        ]);

        let problems = catalog.check_services(&services);

        assert_eq!(
            problems,
            [
                "[services.not-a-target] allow.replicas: no action of its packs has a target parameter `replicas`",
                "[services.typo] allow.deploymnet: no action of its packs has a target parameter `deploymnet`",
            ]
        );
    }

    #[test]
    fn exit_codes_are_explained() {
        assert!(explain_exit_code("137").unwrap().contains("OOM"));
        assert_eq!(explain_exit_code("42"), None);
    }
}
