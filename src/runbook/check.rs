//! `warroom runbook check FILE --service NAME` (what each command of a runbook maps to, and a
//! pack entry for each one that maps to nothing) and `check-config`'s runbook checks (each
//! service's runbook exists, reads, and has steps).

use std::collections::{BTreeMap, BTreeSet};

use super::{suggest, Runbook, StepAction, StepKind};
use crate::config::ServiceConfig;
use crate::diagnostics::{Catalog, Kind};

/// The report `warroom runbook check` prints for `runbook` (read from `file`) and the service.
pub fn report(file: &str, runbook: &Runbook, catalog: &Catalog, service_name: &str, service: &ServiceConfig) -> String {
    let mut out = format!(
        "{file}{} for `{service_name}` (packs: {})\n",
        if runbook.title.is_empty() { String::new() } else { format!(" (\"{}\")", runbook.title) },
        if service.packs.is_empty() { "none".to_string() } else { service.packs.join(", ") }
    );
    for problem in &runbook.problems {
        out.push_str(&format!("warning: {file}:{}: {}\n", problem.line, problem.message));
    }
    let mappings = runbook.map(catalog, service);
    let mut taken = BTreeSet::new();
    let mut suggested: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut run, mut request, mut manual, mut tasks, mut folded) = (0, 0, 0, 0, 0);
    let mut last_section = usize::MAX;
    let steps = runbook.sections.iter().enumerate().flat_map(|(i, s)| s.steps.iter().map(move |step| (i, step)));
    for ((index, step), mapping) in steps.zip(&mappings) {
        if index != last_section {
            out.push_str(&format!("\n{}\n", path(runbook, index)));
            last_section = index;
        }
        if step.kind == StepKind::Task {
            tasks += 1;
            out.push_str(&format!("  line {}: task \"{}\" -> Done\n", step.line, step.command));
            continue;
        }
        let mut lines = step.command.lines();
        out.push_str(&format!("  line {}: {}\n", step.line, lines.next().unwrap_or_default()));
        for line in lines {
            out.push_str(&format!("      {line}\n"));
        }
        match mapping {
            StepAction::Action { id, given, ask } => {
                let change = catalog.get(id).is_some_and(|a| a.kind == Kind::Change);
                if change {
                    request += 1;
                } else {
                    run += 1;
                }
                let params = catalog.get(id).map_or(String::new(), |action| {
                    let mut values: Vec<String> = action
                        .params
                        .keys()
                        .map(|name| {
                            let value = given
                                .get(name)
                                .or_else(|| service.params.get(name))
                                .or(action.params[name].default.as_ref());
                            match value {
                                Some(v) if !ask.contains(name) => format!("{name}={v}"),
                                _ => format!(
                                    "{name}=? (left open: the checklist step is Done; /incident run {id} {name}=...)"
                                ),
                            }
                        })
                        .collect();
                    values.dedup();
                    if values.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", values.join(", "))
                    }
                });
                let button = if change { "Request: runs after an approval" } else { "Run" };
                out.push_str(&format!("    -> {id}{params}: {button}\n"));
                folded += folded_lines(step, &mut out);
            }
            StepAction::Manual { nearest, why } => {
                manual += 1;
                match nearest {
                    Some(n) => out.push_str(&format!("    manual (nearest: {n}): {why}\n")),
                    None => out.push_str(&format!("    manual: {why}\n")),
                }
                folded += folded_lines(step, &mut out);
                if let Some(first) = suggested.get(step.command.as_str()) {
                    out.push_str(&format!("    pack entry: as for line {first}\n"));
                    continue;
                }
                suggested.insert(&step.command, step.line);
                match suggest(catalog, service_name, service, &step.command, step.note.as_deref(), &mut taken) {
                    Ok(entry) => {
                        out.push_str("    pack entry:\n");
                        for line in entry.lines() {
                            out.push_str(&format!("      {line}\n"));
                        }
                    }
                    Err(reason) if why.contains(&reason) => out.push_str("    no pack entry: see above\n"),
                    Err(reason) => out.push_str(&format!("    no pack entry: {reason}\n")),
                }
            }
        }
    }
    let commands = run + request + manual;
    out.push_str(&format!(
        "\n{commands} commands: {} map to actions ({run} Run, {request} Request), {manual} manual; {tasks} tasks (Done); {folded} folded into steps\n",
        run + request
    ));
    if !taken.is_empty() {
        out.push_str(&format!(
            "Pack entries go in a file of `[diagnostics] dirs` named `{service_name}.toml` (its pack is `{service_name}`); add \"{service_name}\" to `[services.{service_name}] packs`.\n"
        ));
    }
    out
}

/// The plumbing folded into `step` (`sleep 30`, `echo $?`), each on a line; how many.
fn folded_lines(step: &super::Step, out: &mut String) -> usize {
    for before in &step.before {
        out.push_str(&format!("    folded in: `{before}` before it (a wait, not a step of its own)\n"));
    }
    let after: Vec<&str> = step.detail.iter().filter_map(|d| d.strip_prefix("then: ")).collect();
    for then in &after {
        out.push_str(&format!("    folded in: `{then}` after it (not a step of its own)\n"));
    }
    step.before.len() + after.len()
}

/// "Immediate Actions (0-5 minutes) > 1. Verify the Alert": the section and its parents.
fn path(runbook: &Runbook, index: usize) -> String {
    let mut parts = vec![runbook.sections[index].heading.as_str()];
    let mut level = runbook.sections[index].level;
    for section in runbook.sections[..index].iter().rev() {
        if section.level < level {
            parts.push(&section.heading);
            level = section.level;
        }
    }
    parts.reverse();
    parts.join(" > ")
}

/// Every problem with the services' runbooks, `file:line: message`: a runbook that cannot be
/// read (at the config's line), a Markdown problem (at the runbook's), a runbook without steps.
pub fn check_config(services: &BTreeMap<String, ServiceConfig>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, service) in services {
        let Some(path) = &service.runbook else { continue };
        let at = service.runbook_location.clone().unwrap_or_else(|| format!("[services.{name}]"));
        let text = match std::fs::read(path).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(_)) => {
                problems.push(format!("{at}: [services.{name}] runbook `{}` is not UTF-8 text", path.display()));
                continue;
            }
            Err(e) => {
                problems.push(format!("{at}: [services.{name}] runbook `{}` cannot be read: {e}", path.display()));
                continue;
            }
        };
        let runbook = super::parse(&text);
        for problem in &runbook.problems {
            problems.push(format!("{}:{}: {}", path.display(), problem.line, problem.message));
        }
        if runbook.steps().next().is_none() {
            problems.push(format!(
                "{at}: [services.{name}] runbook `{}` has no steps (no shell code block, numbered or checkbox item): it would post an empty checklist",
                path.display()
            ));
        }
    }
    problems
}
