//! Why a runbook command is a manual step, and the nearest action: the reason a person reading
//! the checklist (or `warroom runbook check`) needs to decide whether to add a pack entry, a
//! form, an `allow` pattern, or nothing. Reasons are checked from the most telling down: an SQL
//! statement, a destructive command, something warroom does itself, a shell construct, an
//! interactive or endless command, a command run inside a container, a pack the service lacks,
//! and last the first word where the nearest action's form and the command part.

use super::mapping::{self, form_stages, match_form, Mismatch, StepAction};
use super::shell::Script;
use crate::config::ServiceConfig;
use crate::diagnostics::{Action, Catalog};

/// Words that make a command destructive: never mapped implicitly (only an explicit form does).
const DESTRUCTIVE: &[&str] = &[
    "rm", "kill", "pkill", "killall", "delete", "-delete", "purge", "flushall", "flushdb", "prune", "truncate", "drop",
    "reboot", "shutdown", "mkfs", "dd",
];

/// Programs whose arguments are text to look for or print, not verbs.
const TEXT_TOOLS: &[&str] = &["grep", "egrep", "fgrep", "echo", "printf", "jq", "awk", "sed", "man"];

const SQL: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "SHOW", "EXPLAIN", "WITH", "BEGIN", "COMMIT", "VACUUM", "ANALYZE",
    "CREATE", "DROP", "ALTER", "GRANT", "TRUNCATE", "SET",
];

const BUILTINS: &[&str] =
    &["ulimit", "cd", "export", "source", ".", "alias", "unset", "eval", "exec", "read", "type", "history", "set"];

const INTERACTIVE: &[&str] = &["top", "htop", "watch", "less", "more", "vi", "vim", "nano", "gdb", "tcpdump"];

pub(super) fn manual(catalog: &Catalog, service: &ServiceConfig, script: &Script) -> StepAction {
    let stages = script.pipelines.first().map(|p| mapping::command_stages(p)).unwrap_or_default();
    let words: Vec<String> = stages.first().cloned().unwrap_or_default();
    let all: Vec<&str> =
        script.pipelines.iter().flatten().flat_map(|s| s.words.iter().map(|w| w.text.as_str())).collect();
    // What a wrapper (`docker exec c ...`, `kubectl exec ... --`) runs counts as the command.
    let words: Vec<String> = match exec_wrapper(&words) {
        Some((mut head, target, inner)) if destructive(&inner).is_some() => {
            head.push(target);
            head.extend(inner);
            head
        }
        _ => words,
    };
    let (closest, diff) = nearest(catalog.for_packs(&service.packs), service, &stages);
    let manual =
        |nearest: Option<&Action>, why: String| StepAction::Manual { nearest: nearest.map(|a| a.id.clone()), why };
    let Some(program) = words.first() else {
        return manual(None, "no command on this line".into());
    };

    if is_sql(program) {
        return manual(None, format!("`{program} ...` is an SQL statement for the database session the runbook opens above, not a command: warroom runs programs"));
    }
    if let Some(word) = destructive(&words) {
        return manual(closest, format!("`{word}` is no action: destructive commands are never mapped implicitly"));
    }
    if let Some(why) = done_by_warroom(&all) {
        return manual(None, why);
    }
    if let Some(why) = shell_construct(script, &words) {
        return manual(closest, why);
    }
    if let Some(why) = endless(&words) {
        return manual(closest, why);
    }
    if let Some((wrapper, target, inner)) = exec_wrapper(&words) {
        let wrapped_form = catalog
            .for_packs(&service.packs)
            .flat_map(|a| a.forms())
            .any(|f| f.split_whitespace().take(wrapper.len()).eq(wrapper.iter().map(String::as_str)));
        if !wrapped_form {
            let (inner_nearest, _) = nearest(catalog.for_packs(&service.packs), service, std::slice::from_ref(&inner));
            let why = format!(
                "runs `{}` inside `{target}` (`{}`): no action of the service's packs runs a command there",
                super::shell::display(&inner),
                wrapper.join(" ")
            );
            let why = match inner_nearest {
                Some(a) => format!("{why}; `{}` runs `{}` where the runner is, not in `{target}`", a.id, inner[0]),
                None => why,
            };
            return manual(inner_nearest, why);
        }
    }
    if let Some(stages) = mapping::plain(script) {
        let other_packs = catalog.all().filter(|a| !service.packs.contains(&a.pack));
        for action in other_packs {
            let written_so = action
                .forms()
                .iter()
                .filter_map(|f| form_stages(f))
                .any(|form| match_form(action, &form, &stages, service, false).is_ok());
            if written_so {
                return manual(
                    Some(action),
                    format!("`{}` runs this, but its pack `{}` is not in the service's packs", action.id, action.pack),
                );
            }
        }
    }
    match (closest, diff) {
        (Some(action), Some(diff)) => manual(Some(action), explain(action, &diff)),
        _ => {
            let elsewhere: Vec<String> = catalog
                .all()
                .filter(|a| {
                    !service.packs.contains(&a.pack)
                        && a.forms().iter().any(|f| f.split_whitespace().next() == Some(program))
                })
                .map(|a| a.pack.clone())
                .collect();
            let runs = match words.get(1) {
                Some(sub)
                    if is_word(sub)
                        && catalog
                            .for_packs(&service.packs)
                            .flat_map(|a| a.forms())
                            .any(|f| f.split_whitespace().next() == Some(program)) =>
                {
                    format!("{program} {sub}")
                }
                _ => program.clone(),
            };
            let why = format!("no action of the service's packs runs `{runs}`");
            match elsewhere.first() {
                Some(pack) => {
                    manual(None, format!("{why} (the `{pack}` pack has one, and is not in the service's packs)"))
                }
                None => manual(None, why),
            }
        }
    }
}

/// The action whose form shares the most words with the command (and its first word), and
/// where they part.
fn nearest<'a>(
    actions: impl Iterator<Item = &'a Action>,
    service: &ServiceConfig,
    stages: &[Vec<String>],
) -> (Option<&'a Action>, Option<Mismatch>) {
    let Some(words) = stages.first() else { return (None, None) };
    let mut best: Option<(usize, usize, &Action, Mismatch)> = None;
    for action in actions {
        for form in action.forms().iter().filter_map(|f| form_stages(f)) {
            let Some(first) = form.first() else { continue };
            if first.first() != words.first() {
                continue;
            }
            let Err(diff) = match_form(action, &form, stages, service, true) else { continue };
            // Another subcommand (`kubectl describe` against `kubectl scale`) is no neighbour.
            let (f, w) = (first.get(1).filter(|w| is_word(w)), words.get(1).filter(|w| is_word(w)));
            if let (Some(f), Some(w)) = (f, w) {
                if f != w {
                    continue;
                }
            }
            let common = common_words(first, words);
            let apart = first.len().abs_diff(words.len());
            if best.as_ref().is_none_or(|(c, a, _, _)| common > *c || (common == *c && apart < *a)) {
                best = Some((common, apart, action, diff));
            }
        }
    }
    best.map_or((None, None), |(_, _, a, d)| (Some(a), Some(d)))
}

/// Words in common, a literal counting twice a `{param}` word (which matches any value), and
/// the same subcommand (`kubectl logs`) more than any option.
fn common_words(form: &[String], words: &[String]) -> usize {
    let mut unused: Vec<&String> = words.iter().collect();
    let mut common = 0;
    for f in form {
        let literal = !f.contains('{');
        let found = unused
            .iter()
            .position(|w| mapping::capture(f, w).is_some() && (literal || !w.starts_with('-') || f.starts_with('-')));
        if let Some(at) = found {
            unused.remove(at);
            common += if literal { 2 } else { 1 };
        }
    }
    if form.get(1).is_some_and(|f| words.get(1) == Some(f)) {
        common += 3;
    }
    common
}

/// A subcommand-like word (`describe`, `get`, `network`), not a value (`inference-gateway`).
fn is_word(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_lowercase())
}

fn explain(action: &Action, diff: &Mismatch) -> String {
    let id = &action.id;
    match diff {
        Mismatch::Word { runbook, form, option } => {
            let at = option.as_ref().unwrap_or(runbook);
            format!("differs at `{at}`: the runbook says `{runbook}` where `{id}` says `{form}`")
        }
        Mismatch::Value { value, option, reason } => match option {
            Some(option) => format!("differs at `{option}`: the runbook says `{value}`; {reason}"),
            None => format!("differs at `{value}`: {reason}"),
        },
        Mismatch::Extra { runbook } => {
            format!(
                "differs at `{}`: the runbook adds `{}`, which `{id}` does not write",
                runbook[0],
                runbook.join(" ")
            )
        }
        Mismatch::Missing { form } => format!("the runbook stops where `{id}` goes on with `{}`", form.join(" ")),
        Mismatch::Pipe { program } => {
            format!("pipes into `{program}`, which does more than filter what the reader sees (`{id}` runs the first part only)")
        }
    }
}

pub(super) fn is_sql(program: &str) -> bool {
    SQL.contains(&program)
}

/// The word that makes the command destructive: its program (`rm`, `kill`), or a verb of it
/// (`kubectl delete`, `redis-cli FLUSHALL`, `find -delete`); never a word a filter searches for.
pub(super) fn destructive(words: &[String]) -> Option<&String> {
    if words.first().is_some_and(|p| TEXT_TOOLS.contains(&p.as_str())) {
        return None;
    }
    words.iter().find(|w| DESTRUCTIVE.contains(&w.to_ascii_lowercase().as_str()) || w.starts_with("--vacuum"))
}

/// Slack posts and status page calls: warroom makes them itself.
pub(super) fn done_by_warroom(words: &[&str]) -> Option<String> {
    if words.iter().any(|w| w.contains("api.statuspage.io")) {
        return Some("updates the status page: warroom keeps it in step with the incident itself (`[severity.Px] statuspage`), so a person only checks it".into());
    }
    if words.iter().any(|w| w.contains("hooks.slack.com") || w.contains("SLACK_WEBHOOK") || *w == "slack-cli") {
        return Some(
            "posts to Slack: warroom posts the incident's messages itself, so a person only checks they went out"
                .into(),
        );
    }
    None
}

/// What needs a shell: warroom runs one program with its arguments.
pub(super) fn shell_construct(script: &Script, words: &[String]) -> Option<String> {
    let none = "warroom runs one program per action, never a shell";
    if script.compound {
        return Some(format!("a shell loop or conditional (`{} ...`): {none}", words.first()?));
    }
    if script.pipelines.len() > 1 {
        let op = match script.joins.first() {
            Some(super::shell::Op::And) => "`&&`",
            Some(super::shell::Op::Or) => "`||`",
            Some(super::shell::Op::Background) => "`&`",
            _ => "`;` or a new line",
        };
        let parts: Vec<String> =
            script.pipelines.iter().map(|p| p.first().map_or(String::new(), first_words)).collect();
        return Some(format!("{op} joins {} commands ({}): {none}", parts.len(), parts.join(", ")));
    }
    let stages = script.pipelines.first()?;
    if let Some(redirect) = stages.iter().flat_map(|s| &s.redirects).next() {
        return Some(format!("redirects with `{redirect}`: {none}, and keeps the output in the incident instead"));
    }
    let first = stages.first()?.words.first()?;
    if first
        .text
        .split_once('=')
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Some(format!("sets `{}` for the command, as a shell does: {none}", first.text));
    }
    if BUILTINS.contains(&first.text.as_str()) {
        return Some(format!("`{}` is a shell builtin, not a program: {none}", first.text));
    }
    let all = stages.iter().flat_map(|s| &s.words);
    if let Some(word) = all.clone().find(|w| w.glob) {
        return Some(format!("`{}` is a shell glob: {none}", word.text));
    }
    if let Some(word) = all.clone().find(|w| w.expands && !mapping::is_placeholder(&w.text) && w.text.contains("$(")) {
        return Some(format!("`{}` is a shell substitution: {none}", word.text));
    }
    None
}

fn first_words(stage: &super::shell::Stage) -> String {
    let words: Vec<&str> = stage.words.iter().take(3).map(|w| w.text.as_str()).collect();
    let more = if stage.words.len() > 3 { " ..." } else { "" };
    format!("`{}{more}`", words.join(" "))
}

/// Commands that never end by themselves, or wait for a person at the keyboard.
pub(super) fn endless(words: &[String]) -> Option<String> {
    let program = words.first()?.as_str();
    let has = |flag: &str| words.iter().any(|w| w == flag);
    let ends = "an action runs once and ends within its timeout";
    if has("-f") || has("--follow") {
        let logs = words.get(1).is_some_and(|w| w == "logs");
        let follows = matches!(program, "tail" | "journalctl")
            || (matches!(program, "kubectl" | "docker" | "docker-compose") && logs);
        if follows {
            return Some(format!("follows the output until interrupted (`-f`): {ends}"));
        }
    }
    if INTERACTIVE.contains(&program) {
        return Some(format!("`{program}` is interactive: {ends}"));
    }
    match program {
        "psql" if !has("-c") && !has("--command") && !has("-f") => {
            Some(format!("`psql` without `-c` opens an interactive session: {ends}"))
        }
        "ping" if !has("-c") => Some(format!("`ping` without `-c` never stops: {ends}")),
        "strace" if has("-p") => Some(format!("`strace -p` traces until interrupted: {ends}")),
        "systemctl" if words.get(1).is_some_and(|w| w == "edit") => {
            Some(format!("`systemctl edit` opens an editor: {ends}"))
        }
        "docker" if words.get(1).is_some_and(|w| w == "events") && !has("--until") => {
            Some(format!("`docker events` without `--until` streams until interrupted: {ends}"))
        }
        _ => None,
    }
}

/// `kubectl exec [-it] -n ns deployment/x -- cmd...`, `docker exec c cmd...`,
/// `docker-compose exec s cmd...`: (the wrapper's words, where, the inner command).
fn exec_wrapper(words: &[String]) -> Option<(Vec<String>, String, Vec<String>)> {
    let (head, rest) = match words {
        [k, e, rest @ ..] if k == "kubectl" && e == "exec" => (vec![k.clone(), e.clone()], rest),
        [d, e, rest @ ..] if (d == "docker" || d == "docker-compose") && e == "exec" => {
            (vec![d.clone(), e.clone()], rest)
        }
        [d, c, e, rest @ ..] if d == "docker" && c == "compose" && e == "exec" => {
            (vec![d.clone(), c.clone(), e.clone()], rest)
        }
        _ => return None,
    };
    let (target, inner) = match rest.iter().position(|w| w == "--") {
        Some(at) => (rest[..at].iter().rev().find(|w| !w.starts_with('-'))?.clone(), rest[at + 1..].to_vec()),
        None => {
            let mut i = 0;
            while i < rest.len() && rest[i].starts_with('-') {
                // Options that take a value (`-u user`, `-w dir`, `-e K=V`).
                i += if matches!(rest[i].as_str(), "-u" | "--user" | "-w" | "--workdir" | "-e" | "--env") {
                    2
                } else {
                    1
                };
            }
            (rest.get(i)?.clone(), rest.get(i + 1..)?.to_vec())
        }
    };
    (!inner.is_empty()).then_some((head, target, inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::map_step;

    fn manual_of(packs: &[&str], params: &[(&str, &str)], command: &str) -> (Option<String>, String) {
        let service = ServiceConfig::of(packs, params);
        match map_step(&Catalog::built_in().unwrap(), &service, command) {
            StepAction::Manual { nearest, why } => (nearest, why),
            other => panic!("{command} mapped: {other:?}"),
        }
    }

    #[test]
    fn a_target_of_another_value_names_the_param_and_the_services_value() {
        let (nearest, why) = manual_of(&["systemd"], &[("unit", "api")], "systemctl status postgresql");
        assert_eq!(nearest.as_deref(), Some("systemd.status"));
        assert_eq!(
            why,
            "differs at `postgresql`: `unit` is a target of `systemd.status`: it takes the service's own value (`api`), and the service's `allow` permits no other"
        );
    }

    #[test]
    fn a_missing_pack_is_named() {
        let (nearest, why) = manual_of(&["systemd"], &[("unit", "api")], "redis-cli ping");
        assert_eq!(nearest.as_deref(), Some("redis.ping"));
        assert_eq!(why, "`redis.ping` runs this, but its pack `redis` is not in the service's packs");
    }

    #[test]
    fn destructive_commands_are_never_mapped_implicitly() {
        let (_, why) = manual_of(&["redis"], &[], "docker exec dmarc-redis redis-cli FLUSHALL");
        assert_eq!(why, "`FLUSHALL` is no action: destructive commands are never mapped implicitly");
        let (_, why) = manual_of(&["kubernetes"], &[("namespace", "p")], "kubectl delete pod -n p redis-master-0");
        assert!(why.starts_with("`delete` is no action"), "{why}");
    }

    #[test]
    fn shell_constructs_and_endless_commands_say_so() {
        let (_, why) = manual_of(&["host"], &[], "du -sh /var/log/* | sort -hr | head -5");
        assert_eq!(why, "`/var/log/*` is a shell glob: warroom runs one program per action, never a shell");
        let (_, why) = manual_of(&["host"], &[], "ulimit -n");
        assert!(why.starts_with("`ulimit` is a shell builtin"), "{why}");
        let (nearest, why) = manual_of(&["docker"], &[("container", "gw")], "docker logs gw -f");
        assert_eq!(nearest.as_deref(), Some("docker.logs"));
        assert!(why.starts_with("follows the output until interrupted"), "{why}");
        let (_, why) =
            manual_of(&["docker"], &[], "kubectl rollout history deployment/gw 2>/dev/null || docker inspect gw");
        assert!(why.starts_with("`||` joins 2 commands (`kubectl rollout history ...`, `docker inspect gw`)"), "{why}");
    }

    #[test]
    fn a_command_inside_a_pod_is_held_to_the_pod_forms_targets() {
        let (nearest, why) = manual_of(
            &["kubernetes", "redis"],
            &[("namespace", "p")],
            "kubectl exec -it -n p deployment/backend -- redis-cli -h redis-master ping",
        );
        // The pod form of the same check is nearest; it does not match (`-h redis-master`).
        assert_eq!(nearest.as_deref(), Some("redis.kubectl_ping"));
        assert!(
            why.starts_with("differs at `deployment/backend`: `redis_pod` is a target of `redis.kubectl_ping`"),
            "{why}"
        );
    }

    #[test]
    fn the_nearest_action_and_the_word_where_they_part() {
        let (nearest, why) = manual_of(
            &["kubernetes"],
            &[("namespace", "p"), ("deployment", "d")],
            "kubectl logs -n p deployment/d --previous",
        );
        assert_eq!(nearest.as_deref(), Some("kubernetes.logs"));
        assert!(why.starts_with("differs at `--previous`"), "{why}");
        let (nearest, why) = manual_of(&["host"], &[], "git log --oneline -10");
        assert_eq!((nearest, why.as_str()), (None, "no action of the service's packs runs `git`"));
        let (_, why) = manual_of(&["host"], &[], "SELECT * FROM pg_locks WHERE NOT granted;");
        assert!(why.contains("SQL statement"), "{why}");
    }
}
