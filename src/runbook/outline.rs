//! The checklist as plain text: the runbook's sections in order (with the time by which the
//! commander is reminded of open steps), each step with its number, its button (`[Run id]` for
//! a read action, `[Request id]` for a change, `[Done]` for the rest), its note, the command as
//! written and what the runbook says around it. Tests compare it with a committed rendering of
//! each seed; it is also what a reviewer reads to judge the checklist without Slack.

use std::time::Duration;

use super::{Runbook, Section, StepAction, StepKind};
use crate::diagnostics::{Catalog, Kind};

/// `mappings` are in [`Runbook::steps`] order ([`Runbook::map`]); `catalog` says which actions
/// are changes.
pub fn outline(runbook: &Runbook, mappings: &[StepAction], catalog: &Catalog) -> String {
    let mut out = String::new();
    if !runbook.title.is_empty() {
        out.push_str(&format!("{}\n", runbook.title));
    }
    let mut mapping = mappings.iter();
    let mut empty = Vec::new();
    for (index, section) in runbook.sections.iter().enumerate() {
        if !has_steps(runbook, index) {
            empty.push(section.heading.as_str());
            continue;
        }
        let parent = runbook.sections[..index].iter().rev().find(|s| s.level < section.level);
        let own_window =
            parent.is_none_or(|p| (p.window_start, p.window_end) != (section.window_start, section.window_end));
        out.push_str(&format!("\n{} {}", "#".repeat(section.level as usize), section.heading));
        if let (true, Some(end)) = (own_window, section.window_end) {
            out.push_str(&format!("  [reminder at {} if steps are open]", minutes(end)));
        }
        out.push('\n');
        for step in &section.steps {
            let button = match mapping.next() {
                // The checklist ticks by hand what needs a value the runbook leaves open.
                Some(StepAction::Action { id, ask, .. }) if !ask.is_empty() => {
                    let values: Vec<String> = ask.iter().map(|k| format!("{k}=?")).collect();
                    format!("[Done; /incident run {id} {}]", values.join(" "))
                }
                Some(StepAction::Action { id, given, .. }) => {
                    let verb = match catalog.get(id).map(|a| a.kind) {
                        Some(Kind::Change) => "Request",
                        _ => "Run",
                    };
                    let extra: Vec<String> = given.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let extra = if extra.is_empty() { String::new() } else { format!(" {}", extra.join(" ")) };
                    format!("[{verb} {id}{extra}]")
                }
                _ => "[Done]".to_string(),
            };
            let mut head = match step.kind {
                StepKind::Task => Some(step.command.as_str()),
                StepKind::Command => step.note.as_deref(),
            }
            .unwrap_or_default()
            .lines();
            let first = head.next().map_or(String::new(), |h| format!(" {h}"));
            let number = format!("  {}. ", step.number + 1);
            out.push_str(&format!("{number}{button}{first}\n"));
            let pad = " ".repeat(number.len() + 2);
            for line in head {
                out.push_str(&format!("{pad}{line}\n"));
            }
            for before in &step.before {
                out.push_str(&format!("{pad}first: {before}\n"));
            }
            if step.kind == StepKind::Command {
                // SQL statements are typed into the session the runbook opened above, not a shell.
                let sql = step.command.split_whitespace().next().is_some_and(super::why::is_sql);
                for (i, line) in step.command.lines().enumerate() {
                    let prompt = match (i, sql) {
                        (0, true) => "sql> ",
                        (0, false) => "$ ",
                        _ => "  ",
                    };
                    out.push_str(format!("{pad}{prompt}{line}").trim_end());
                    out.push('\n');
                }
            }
            for line in &step.detail {
                out.push_str(format!("{pad}{line}").trim_end());
                out.push('\n');
            }
        }
    }
    if !empty.is_empty() {
        out.push_str(&format!("\nSections without steps: {}\n", empty.join("; ")));
    }
    out
}

/// Whether the section or one below it (before the next at its level or above) has steps.
fn has_steps(runbook: &Runbook, index: usize) -> bool {
    let level = runbook.sections[index].level;
    let below = runbook.sections[index + 1..].iter().take_while(|s: &&Section| s.level > level);
    !runbook.sections[index].steps.is_empty() || below.into_iter().any(|s| !s.steps.is_empty())
}

fn minutes(d: Duration) -> String {
    format!("{} min", d.as_secs() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::parse;

    #[test]
    fn sections_steps_buttons_and_windows_are_rendered() {
        let runbook = parse(
            "# Down\n## Symptoms\n- slow\n## Immediate Actions (0-5 minutes)\n### 1. Verify\n```bash\n# Check status\nsystemctl status api\nsystemctl restart api\ngit log\n```\n## Post-Incident\n1. Document it\n",
        );
        let catalog = Catalog::built_in().unwrap();
        let service = crate::config::ServiceConfig {
            packs: vec!["systemd".into()],
            params: [("unit".to_string(), "api".to_string())].into(),
            ..Default::default()
        };
        let text = outline(&runbook, &runbook.map(&catalog, &service), &catalog);
        assert_eq!(
            text,
            "Down\n\n## Immediate Actions (0-5 minutes)  [reminder at 5 min if steps are open]\n\n### 1. Verify\n  1. [Run systemd.status] Check status\n       $ systemctl status api\n  2. [Request systemd.restart]\n       $ systemctl restart api\n  3. [Done]\n       $ git log\n\n## Post-Incident\n  4. [Done] Document it\n\nSections without steps: Symptoms\n"
        );
    }
}
