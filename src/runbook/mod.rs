//! A team's Markdown runbook read as a checklist: its sections in order, each shell command in
//! them a step, and for each step the catalog action it is (or "manual"). This layer knows
//! Markdown and the catalog; it knows nothing of Slack or the database.

mod mapping;
mod parse;

use std::time::Duration;

pub use mapping::{map_step, StepAction};
pub use parse::parse;

/// A parsed runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// The first `#` heading ("Service Down Runbook"), or empty.
    pub title: String,
    /// Every `##`/`###` section, in file order (sections without steps included, so that
    /// nothing of the runbook's structure is lost).
    pub sections: Vec<Section>,
}

/// One `##` or `###` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    /// 2 for `##`, 3 for `###`.
    pub level: u8,
    /// When the section's time window ends, counted from the declaration: "(0-5 minutes)" is
    /// 5 minutes, "(First 2 Minutes)" 2. A `###` inherits its `##`'s window.
    pub window_end: Option<Duration>,
    pub steps: Vec<Step>,
}

/// One command of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Position in the whole runbook, from 0: the step's id within an incident.
    pub number: usize,
    /// The command as written (continuation lines joined with newlines).
    pub command: String,
    /// The comment line(s) just above it ("Check service status"), if any.
    pub note: Option<String>,
    /// The line of the file where it starts (1-based).
    pub line: usize,
}

impl Runbook {
    pub fn steps(&self) -> impl Iterator<Item = (&Section, &Step)> {
        self.sections.iter().flat_map(|s| s.steps.iter().map(move |step| (s, step)))
    }
}
