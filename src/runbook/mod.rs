//! A team's Markdown runbook read as a checklist: its sections in order, each shell command in
//! them a step (and each numbered or checkbox item, and each instruction a code block gives only
//! as a comment, a step a person ticks), and for each command the catalog action it is, or why
//! it is a manual step. This layer knows Markdown, shell words and the catalog; it knows nothing
//! of Slack or the database.

mod check;
mod code;
mod mapping;
mod outline;
mod parse;
#[cfg(test)]
mod seeds;
pub mod shell;
mod suggest;
mod why;

use std::time::Duration;

pub use check::{check_config, report};
pub use mapping::{map_step, StepAction};
pub use outline::outline;
pub use parse::parse;
pub use suggest::suggest;

/// A parsed runbook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Runbook {
    /// The first `#` heading ("Service Down Runbook"), or empty.
    pub title: String,
    /// Every `##`, `###` and `####` section, in file order (sections without steps included, so
    /// that nothing of the runbook's structure is lost).
    pub sections: Vec<Section>,
    /// What could not be read as the author meant (a code block never closed, a quote never
    /// closed): `check-config` reports each with the runbook's file and line.
    pub problems: Vec<Problem>,
}

/// One `##`, `###` or `####` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    /// 2 for `##`, 3 for `###`, 4 for `####`.
    pub level: u8,
    /// The heading's line (1-based).
    pub line: usize,
    /// When the section's time window starts, counted from the declaration: "(5-15 minutes)"
    /// is 5 minutes, "(15+ minutes)" 15. A deeper section inherits its parent's window.
    pub window_start: Option<Duration>,
    /// When the section's time window ends, counted from the declaration: "(0-5 minutes)" is
    /// 5 minutes, "(First 2 Minutes)" 2, "(Next 5 Minutes)" 5 after the previous window's end.
    /// A deeper section inherits its parent's window.
    pub window_end: Option<Duration>,
    pub steps: Vec<Step>,
}

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A shell command of a code block: it may map to a catalog action ([`map_step`]).
    Command,
    /// Something a person does and ticks: a numbered or checkbox list item, or an instruction a
    /// code block gives only as comments ("# Update load balancer to show maintenance page").
    Task,
}

/// One step of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Position in the whole runbook, from 0: the step's id within an incident.
    pub number: usize,
    pub kind: StepKind,
    /// The command as written (continuation lines joined with newlines, the code block's
    /// indentation removed); for a task, its text.
    pub command: String,
    /// The comment line(s) just above a command ("Check service status"), if any, one per line.
    pub note: Option<String>,
    /// Shell plumbing the runbook runs before this step, folded into it: `sleep 30`.
    pub before: Vec<String>,
    /// Lines shown under the step, as written: the comments right below a command (what to
    /// expect, what to do next) and its own trailing comment, a folded `echo $?`, a list item's
    /// nested items, the rest of a comment-only instruction.
    pub detail: Vec<String>,
    /// The line of the file where it starts (1-based).
    pub line: usize,
}

/// Something in the runbook that is not as its author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl Runbook {
    /// Every step with its section, in runbook order.
    pub fn steps(&self) -> impl Iterator<Item = (&Section, &Step)> {
        self.sections.iter().flat_map(|s| s.steps.iter().map(move |step| (s, step)))
    }

    /// What each step is, in [`Runbook::steps`] order: [`map_step`] for commands, a manual
    /// step for tasks.
    pub fn map(
        &self,
        catalog: &crate::diagnostics::Catalog,
        service: &crate::config::ServiceConfig,
    ) -> Vec<StepAction> {
        self.steps()
            .map(|(_, step)| match step.kind {
                StepKind::Command => map_step(catalog, service, &step.command),
                StepKind::Task => StepAction::Manual { nearest: None, why: "a task a person does".into() },
            })
            .collect()
    }
}
