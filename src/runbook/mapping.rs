//! Which catalog action a runbook command is. An action matches when one of its `forms` (how
//! runbooks write it; by default its argv) equals the command word for word, after:
//! - shell-like lexing on both sides (quotes removed: `--since "1 hour ago"` is two words);
//! - `--opt=value` read as `--opt value`;
//! - a leading `sudo` dropped (the runner runs with the rights it was given);
//! - pipelines: a form of one stage is compared with the command's first stage, a form of two
//!   (`dmesg | grep -i "killed process"`) with its first two; stages after those must be output
//!   filters (`| jq .`, `| tail -20`, `| grep x`), which warroom does not run: it shows the
//!   whole output;
//! - each `{param}` of the form standing for the service's value of that parameter, a
//!   placeholder the runbook left for the reader (`<pod-name>`, `PAGE_ID`, `$TARGET_GROUP_ARN`,
//!   `${X}`), or a literal the parameter accepts: a target only the service's own value (or one
//!   `[services.x] allow` permits), another parameter any value its pattern accepts.
//!
//! No shell construct (`&&`, `> file`, a loop) matches: warroom runs one program, never a shell.
//! When nothing matches, [`super::why`] names the nearest action and the reason.

use std::collections::BTreeMap;

use super::shell::{self, Stage};
use crate::config::ServiceConfig;
use crate::diagnostics::{Action, Catalog};

/// What a step of the checklist is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    /// This catalog action, with these parameters given (the rest come from the service).
    /// `ask` names the parameters the runbook leaves to the reader (`--replicas=<desired-count>`)
    /// that neither the service nor a default supplies: a person gives them when running it.
    Action { id: String, given: BTreeMap<String, String>, ask: Vec<String> },
    /// Nothing in the service's packs: a person does it and ticks it. `nearest` is the closest
    /// action and `why` why it is not that one.
    Manual { nearest: Option<String>, why: String },
}

pub fn map_step(catalog: &Catalog, service: &ServiceConfig, command: &str) -> StepAction {
    let script = match shell::parse(command) {
        Ok(script) => script,
        Err(open) => return StepAction::Manual { nearest: None, why: format!("not a whole command: {open}") },
    };
    if let Some(stages) = plain(&script) {
        // The form that reads the most of the pipeline wins: `journalctl ... | grep -i error` is
        // the journal's errors (the grep is its filter), not the whole journal.
        let mut best: Option<(usize, StepAction)> = None;
        for action in catalog.for_packs(&service.packs) {
            for form in action.forms() {
                if let Some(form) = form_stages(&form) {
                    if best.as_ref().is_some_and(|(stages, _)| *stages >= form.len()) {
                        continue;
                    }
                    if let Ok(bound) = match_form(action, &form, &stages, service, true) {
                        let found = StepAction::Action { id: action.id.clone(), given: bound.given, ask: bound.ask };
                        best = Some((form.len(), found));
                    }
                }
            }
        }
        if let Some((_, found)) = best {
            return found;
        }
    }
    super::why::manual(catalog, service, &script)
}

/// The command's stages as normalized words, when it is one pipeline with no shell around it
/// (no list, loop, redirection or assignment).
pub(super) fn plain(script: &shell::Script) -> Option<Vec<Vec<String>>> {
    let stages = script.single()?;
    let assigns = stages.first()?.words.first().is_some_and(|w| is_assignment(&w.text));
    if assigns || stages.iter().any(|s| !s.redirects.is_empty() || s.words.is_empty()) {
        return None;
    }
    Some(command_stages(stages))
}

/// Normalized words of each stage, `sudo` dropped from the first.
pub(super) fn command_stages(stages: &[Stage]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = stages.iter().map(|s| normalize(s.words.iter().map(|w| w.text.as_str()))).collect();
    if let Some(first) = out.first_mut() {
        if first.len() > 1 && first[0] == "sudo" && !first[1].starts_with('-') {
            first.remove(0);
        }
    }
    out
}

/// A form's stages as normalized words.
pub(super) fn form_stages(form: &str) -> Option<Vec<Vec<String>>> {
    let script = shell::parse(form).ok()?;
    Some(script.single()?.iter().map(|s| normalize(s.words.iter().map(|w| w.text.as_str()))).collect())
}

/// `--opt=value` → `--opt`, `value`.
fn normalize<'a>(words: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for word in words {
        match word.split_once('=') {
            Some((opt, value))
                if opt.len() > 2
                    && opt.starts_with("--")
                    && opt[2..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                out.push(opt.to_string());
                out.push(value.to_string());
            }
            _ => out.push(word.to_string()),
        }
    }
    out
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Programs a runbook pipes output through to read it: warroom shows the whole output instead.
pub(super) const FILTERS: &[&str] =
    &["grep", "egrep", "fgrep", "head", "tail", "jq", "sort", "uniq", "wc", "cut", "column", "tr", "less", "more"];

/// A later stage that only filters what the reader sees.
pub(super) fn is_filter(stage: &[String]) -> bool {
    let follows = stage.iter().any(|w| w == "-f" || w == "--follow");
    stage.first().is_some_and(|p| FILTERS.contains(&p.as_str())) && !follows
}

/// The parameters a match binds.
#[derive(Debug, Default)]
pub(super) struct Bound {
    pub given: BTreeMap<String, String>,
    pub ask: Vec<String>,
}

/// Where a form and a command part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mismatch {
    /// At this word the runbook writes something else; `option` is the `--option` before it.
    Word { runbook: String, form: String, option: Option<String> },
    /// A `{param}` of the form met a value it does not take; `option` is the `--option` before it.
    Value { value: String, option: Option<String>, reason: String },
    /// The runbook goes on where the form ends.
    Extra { runbook: Vec<String> },
    /// The form goes on where the runbook ends.
    Missing { form: Vec<String> },
    /// A later stage that does more than filter (`| xargs kill`).
    Pipe { program: String },
}

/// Matches `command` against one form of `action`. With `strict` false, parameter values are
/// not checked (is it *written* like this action, whatever the values?).
pub(super) fn match_form(
    action: &Action,
    form: &[Vec<String>],
    command: &[Vec<String>],
    service: &ServiceConfig,
    strict: bool,
) -> Result<Bound, Mismatch> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut placeheld: Vec<String> = Vec::new();
    for (index, form_stage) in form.iter().enumerate() {
        let Some(stage) = command.get(index) else {
            return Err(Mismatch::Missing {
                form: std::iter::once("|".to_string()).chain(form_stage.clone()).collect(),
            });
        };
        for (i, form_word) in form_stage.iter().enumerate() {
            let Some(word) = stage.get(i) else {
                return Err(Mismatch::Missing { form: form_stage[i..].to_vec() });
            };
            let Some(captures) = capture(form_word, word) else {
                let option = long_option_before(stage, i);
                return Err(Mismatch::Word { runbook: word.clone(), form: form_word.clone(), option });
            };
            for (param, value) in captures {
                if is_placeholder(&value) {
                    placeheld.push(param);
                    continue;
                }
                let option = long_option_before(stage, i);
                let mismatch =
                    |reason: String| Mismatch::Value { value: value.clone(), option: option.clone(), reason };
                if values.get(&param).is_some_and(|v| *v != value) {
                    return Err(mismatch(format!("`{{{param}}}` is already `{}` earlier in the line", values[&param])));
                }
                if strict {
                    check_value(action, service, &param, &value).map_err(mismatch)?;
                } else if !action.params.get(&param).is_some_and(|p| p.pattern.is_match(&value)) {
                    return Err(mismatch(format!("`{param}` must match its pattern")));
                }
                values.insert(param, value);
            }
        }
        if stage.len() > form_stage.len() {
            return Err(Mismatch::Extra { runbook: stage[form_stage.len()..].to_vec() });
        }
    }
    if let Some(stage) = command[form.len().min(command.len())..].iter().find(|s| !is_filter(s)) {
        return Err(Mismatch::Pipe { program: stage.first().cloned().unwrap_or_default() });
    }
    let own = |name: &String| service.params.get(name).or(action.params.get(name).and_then(|p| p.default.as_ref()));
    let given: BTreeMap<String, String> = values.into_iter().filter(|(k, v)| own(k) != Some(v)).collect();
    let ask: Vec<String> =
        action.params.keys().filter(|name| !given.contains_key(*name) && own(name).is_none()).cloned().collect();
    // A target left to the reader can only be chosen where `allow` lets people choose it.
    let unchoosable = ask
        .iter()
        .find(|name| action.params.get(*name).is_some_and(|p| p.target) && service.allow.pattern(name).is_none());
    if let (true, Some(name)) = (strict, unchoosable) {
        return Err(Mismatch::Value {
            value: name.clone(),
            option: None,
            reason: format!(
                "`{name}` is a target of `{}` that the service's params do not set, and its `allow` lets nobody choose one",
                action.id
            ),
        });
    }
    if strict && ask.iter().any(|name| !placeheld.contains(name)) {
        let missing = ask.iter().find(|name| !placeheld.contains(name)).cloned().unwrap_or_default();
        return Err(Mismatch::Value {
            value: missing.clone(),
            option: None,
            reason: format!("`{}` needs `{missing}`, which the service's params do not set", action.id),
        });
    }
    Ok(Bound { given, ask })
}

/// The `--option` a value follows (`--since "1 hour ago"`): what a reader looks for. A short
/// option may be a flag (`-f`), so only long ones are named.
fn long_option_before(stage: &[String], i: usize) -> Option<String> {
    i.checked_sub(1).map(|p| stage[p].clone()).filter(|p| p.starts_with("--"))
}

/// Whether `value` may stand for `param` of `action` in this service; why not.
fn check_value(action: &Action, service: &ServiceConfig, param: &str, value: &str) -> Result<(), String> {
    let Some(spec) = action.params.get(param) else {
        return Err(format!("`{}` has no parameter `{param}`", action.id));
    };
    let own = service.params.get(param).or(spec.default.as_ref());
    if own.is_some_and(|v| v == value) {
        return Ok(());
    }
    if spec.target {
        if service.allow.permits(param, value) && spec.pattern.is_match(value) {
            return Ok(());
        }
        let own = match (service.params.get(param), &spec.default) {
            (Some(v), _) => format!("`{v}`"),
            (None, Some(d)) => format!("`{d}`, its default"),
            (None, None) => "none is set".to_string(),
        };
        let allow = match service.allow.pattern(param) {
            Some(pattern) => format!("the service's `allow.{param}` permits only `{pattern}`"),
            None => "the service's `allow` permits no other".to_string(),
        };
        return Err(format!(
            "`{param}` is a target of `{}`: it takes the service's own value ({own}), and {allow}",
            action.id
        ));
    }
    if spec.pattern.is_match(value) {
        Ok(())
    } else {
        Err(format!("`{}`'s `{param}` must match `{}`", action.id, spec.pattern.as_str()))
    }
}

/// A form word's `{param}` parts matched against a command word: the (param, value) pairs, or
/// `None` when the word is not written like that.
pub(super) fn capture(form_word: &str, word: &str) -> Option<Vec<(String, String)>> {
    let segments = segments(form_word);
    if segments.iter().all(|s| matches!(s, Segment::Text(_))) {
        return (form_word == word).then(Vec::new);
    }
    if matches!(segments.as_slice(), [Segment::Param(_)]) && word.starts_with('-') {
        return None; // an option is never a parameter's value
    }
    let mut values = Vec::new();
    if !fill(&segments, word, &mut values) {
        return None;
    }
    let names = segments.iter().filter_map(|s| match s {
        Segment::Param(name) => Some(name.clone()),
        Segment::Text(_) => None,
    });
    Some(names.zip(values).collect())
}

/// Matches `word` against the segments, each `{param}` taking the shortest non-empty text that
/// lets the rest match (as `(.+?)` would); pushes the values taken.
fn fill(segments: &[Segment], word: &str, values: &mut Vec<String>) -> bool {
    match segments {
        [] => word.is_empty(),
        [Segment::Text(t), rest @ ..] => word.strip_prefix(t.as_str()).is_some_and(|w| fill(rest, w, values)),
        [Segment::Param(_), rest @ ..] => {
            let ends = word.char_indices().map(|(at, _)| at).skip(1).chain(std::iter::once(word.len()));
            for at in ends.filter(|at| *at > 0) {
                let depth = values.len();
                values.push(word[..at].to_string());
                if fill(rest, &word[at..], values) {
                    return true;
                }
                values.truncate(depth);
            }
            false
        }
    }
}

enum Segment {
    Text(String),
    Param(String),
}

/// `deployment/{deployment}` → Text("deployment/"), Param("deployment"). Other braces
/// (docker's `{{.State.ExitCode}}`, PromQL's `{job="..."}`) are text.
fn segments(word: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = word;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        match name_len {
            Some(len)
                if len > 0 && after[len..].starts_with('}') && !after.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                text.push_str(&rest[..start]);
                if !text.is_empty() {
                    out.push(Segment::Text(std::mem::take(&mut text)));
                }
                out.push(Segment::Param(after[..len].to_string()));
                rest = &after[len + 1..];
            }
            _ => {
                text.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
    out
}

/// A word the runbook's reader is meant to replace: `<pod-name>`, `$TARGET_GROUP_ARN`, `${X}`,
/// `PAGE_ID` (upper case with an underscore: `FLUSHALL` is a command, not a placeholder), or an
/// elided value (`arn:aws:elasticloadbalancing:...`).
pub(super) fn is_placeholder(word: &str) -> bool {
    let name = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let angle = word.len() > 2 && word.starts_with('<') && word.ends_with('>') && !word[1..].contains('<');
    let variable = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')).or_else(|| word.strip_prefix('$'));
    let upper = word.contains('_')
        && word.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        && word.starts_with(|c: char| c.is_ascii_uppercase());
    angle || variable.is_some_and(name) || upper || (word.len() > 3 && word.ends_with("..."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(packs: &[&str], params: &[(&str, &str)]) -> ServiceConfig {
        ServiceConfig::of(packs, params)
    }

    fn id(action: StepAction) -> String {
        match action {
            StepAction::Action { id, .. } => id,
            StepAction::Manual { why, .. } => format!("manual: {why}"),
        }
    }

    #[test]
    fn placeholders_are_told_from_commands() {
        for p in ["<pod-name>", "$TARGET_GROUP_ARN", "${X}", "PAGE_ID", "$slack_url", "arn:aws:elb:..."] {
            assert!(is_placeholder(p), "{p}");
        }
        for w in ["FLUSHALL", "ping", "<a>-service", "$(date)", "-", "SELECT"] {
            assert!(!is_placeholder(w), "{w}");
        }
    }

    #[test]
    fn a_form_word_captures_its_params_and_keeps_other_braces() {
        assert_eq!(
            capture("deployment/{deployment}", "deployment/api"),
            Some(vec![("deployment".into(), "api".into())])
        );
        assert_eq!(capture("{{.State.ExitCode}}", "{{.State.ExitCode}}"), Some(vec![]));
        let promql = capture(
            "{prometheus_url}/api/v1/query?query=up{job=\"{job}\"}",
            "http://p:9090/api/v1/query?query=up{job=\"gw\"}",
        );
        assert_eq!(promql, Some(vec![("prometheus_url".into(), "http://p:9090".into()), ("job".into(), "gw".into())]));
        assert_eq!(capture("deployment/{deployment}", "statefulset/db"), None);
    }

    #[test]
    fn options_quotes_sudo_and_filters_do_not_hide_a_match() {
        let catalog = Catalog::built_in().unwrap();
        let k8s = service(&["kubernetes"], &[("namespace", "prod"), ("deployment", "api")]);
        assert_eq!(
            id(map_step(&catalog, &k8s, "kubectl get events -n prod --sort-by='.lastTimestamp' | tail -20")),
            "kubernetes.events"
        );
        let sys = service(&["systemd"], &[("unit", "api")]);
        assert_eq!(id(map_step(&catalog, &sys, "sudo systemctl restart api")), "systemd.restart");
        assert!(id(map_step(&catalog, &sys, "systemctl restart api | xargs echo")).starts_with("manual"));
        assert!(id(map_step(&catalog, &sys, "systemctl restart api && echo ok")).starts_with("manual"));
    }

    #[test]
    fn a_target_takes_only_the_services_value_and_a_placeholder_stands_for_it() {
        let catalog = Catalog::built_in().unwrap();
        let k8s = service(&["kubernetes"], &[("namespace", "prod"), ("deployment", "api")]);
        let restart = map_step(&catalog, &k8s, "kubectl rollout restart deployment/<deployment-name> -n prod");
        assert_eq!(
            restart,
            StepAction::Action { id: "kubernetes.rollout_restart".into(), given: BTreeMap::new(), ask: vec![] }
        );
        let scale =
            map_step(&catalog, &k8s, "kubectl scale deployment/<deployment-name> --replicas=<desired-count> -n prod");
        assert_eq!(
            scale,
            StepAction::Action { id: "kubernetes.scale".into(), given: BTreeMap::new(), ask: vec!["replicas".into()] }
        );
        let given = map_step(&catalog, &k8s, "kubectl scale deployment/api --replicas=3 -n prod");
        let three = BTreeMap::from([("replicas".to_string(), "3".to_string())]);
        assert_eq!(given, StepAction::Action { id: "kubernetes.scale".into(), given: three, ask: vec![] });
        let StepAction::Manual { nearest, why } =
            map_step(&catalog, &k8s, "kubectl rollout restart deployment/web -n prod")
        else {
            panic!("another deployment is no match")
        };
        assert_eq!(nearest.as_deref(), Some("kubernetes.rollout_restart"));
        assert!(why.contains("`deployment` is a target of `kubernetes.rollout_restart`"), "{why}");
    }

    #[test]
    fn a_placeholder_for_a_target_the_service_does_not_set_is_no_match() {
        let catalog = Catalog::built_in().unwrap();
        let bare = service(&["kubernetes"], &[]);
        let StepAction::Manual { nearest, why } = map_step(&catalog, &bare, "kubectl top pods -n <namespace>") else {
            panic!("nobody could run it")
        };
        assert_eq!(nearest.as_deref(), Some("kubernetes.top"));
        assert!(
            why.contains("`namespace` is a target of `kubernetes.top` that the service's params do not set"),
            "{why}"
        );
    }

    #[test]
    fn a_target_the_services_allow_permits_is_given_and_another_is_refused() {
        let catalog = Catalog::built_in().unwrap();
        let mut k8s = service(&["kubernetes"], &[("namespace", "prod"), ("deployment", "backend-deployment")]);
        k8s.allow = crate::config::Allow::from_pairs([("deployment", "^backend-[a-z0-9-]+$")]).unwrap();
        let canary = map_step(&catalog, &k8s, "kubectl rollout restart deployment/backend-canary -n prod");
        let given = BTreeMap::from([("deployment".to_string(), "backend-canary".to_string())]);
        assert_eq!(canary, StepAction::Action { id: "kubernetes.rollout_restart".into(), given, ask: vec![] });
        let StepAction::Manual { why, .. } =
            map_step(&catalog, &k8s, "kubectl rollout restart deployment/frontend -n prod")
        else {
            panic!("allow does not permit `frontend`")
        };
        assert!(why.contains("the service's `allow.deployment` permits only `^backend-[a-z0-9-]+$`"), "{why}");
        let StepAction::Manual { why, .. } =
            map_step(&catalog, &k8s, "kubectl scale deployment/backend-x --replicas=many -n prod")
        else {
            panic!("`many` is no replica count")
        };
        assert!(
            why.starts_with(
                "differs at `--replicas`: the runbook says `many`; `kubernetes.scale`'s `replicas` must match"
            ),
            "{why}"
        );
    }
}
