//! A runbook as an incident's checklist: its sections in order, each command a numbered step
//! with the catalog action it maps to (or none: a manual step). This is what is stored with each
//! incident (as JSON), so that the incident keeps the steps it was given whatever later happens
//! to the runbook file or the catalog.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::ServiceConfig;
use crate::diagnostics::{Catalog, Kind};
use crate::runbook::{self, Runbook, StepAction};

/// A runbook's checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// The runbook's `#` heading ("Service Down Runbook"); the file name when it has none.
    pub title: String,
    /// The file it was read from, as `[services.x] runbook` names it.
    pub source: String,
    /// The sections that hold steps, and the `##` sections above them, in file order.
    pub sections: Vec<Section>,
}

/// One `##` or `###` section of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Its place among all the runbook's sections (from 0): the slot of its time-window timer.
    pub index: usize,
    pub heading: String,
    /// 2 for `##`, 3 for `###`.
    pub level: u8,
    /// Seconds from the declaration when its time window ends (a `###` inherits its `##`'s).
    pub window_end_secs: Option<u64>,
    pub steps: Vec<Step>,
}

/// One command: a step of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1, 2, 3... through the whole runbook: the step's number in the channel, the timeline and
    /// the report.
    pub number: u32,
    pub command: String,
    /// The comment above the command ("Check service status").
    pub note: Option<String>,
    /// The runbook line it was read from.
    pub line: usize,
    /// The catalog action it is, if any.
    pub action: Option<Mapped>,
    /// Something a person does rather than a command (a numbered list item, an instruction the
    /// runbook gives only as comments): shown as text, not as code.
    #[serde(default)]
    pub task: bool,
}

/// The action a step maps to, with what the command gave its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapped {
    pub id: String,
    /// A change (Request, approved by another person) rather than a read (Run).
    pub change: bool,
    pub given: BTreeMap<String, String>,
    /// The action's time limit: a run not finished this long (and a margin) after it was asked
    /// counts as lost, and the step may be run again.
    pub timeout_secs: u64,
}

/// The button a step gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Run,
    Request,
    Done,
}

impl Button {
    pub fn label(self) -> &'static str {
        match self {
            Self::Run => "Run",
            Self::Request => "Request",
            Self::Done => "Done",
        }
    }

    /// The word in the button's `action_id` (`checklist.run.4`).
    pub fn word(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Request => "request",
            Self::Done => "done",
        }
    }

    pub fn from_word(word: &str) -> Option<Self> {
        [Self::Run, Self::Request, Self::Done].into_iter().find(|b| b.word() == word)
    }
}

impl Step {
    pub fn button(&self) -> Button {
        match &self.action {
            Some(action) if action.change => Button::Request,
            Some(_) => Button::Run,
            None => Button::Done,
        }
    }
}

/// A time window: a section whose heading gives a time, with the steps it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<'a> {
    /// The section's [`Section::index`].
    pub index: usize,
    pub heading: &'a str,
    pub end_secs: u64,
    /// Its own steps and those of the `###` sections under it that share its window.
    pub steps: Vec<&'a Step>,
}

impl Checklist {
    /// The checklist of `runbook` for `service`: each command mapped through the service's
    /// packs and params. Sections without steps are left out, but for a `##` whose `###`
    /// sections have some.
    pub fn new(runbook: &Runbook, source: &str, catalog: &Catalog, service: &ServiceConfig) -> Self {
        let mut sections: Vec<Section> = Vec::new();
        // The `##` seen last, kept back until a step shows it is needed.
        let mut parent: Option<Section> = None;
        for (index, section) in runbook.sections.iter().enumerate() {
            let steps: Vec<Step> = section.steps.iter().map(|s| step(catalog, service, s)).collect();
            let this = Section {
                index,
                heading: section.heading.clone(),
                level: section.level,
                window_end_secs: section.window_end.map(|w| w.as_secs()),
                steps,
            };
            if this.level == 2 {
                parent = None;
                if this.steps.is_empty() {
                    parent = Some(this);
                    continue;
                }
            } else if this.steps.is_empty() {
                continue;
            }
            if let Some(parent) = parent.take() {
                sections.push(parent);
            }
            sections.push(this);
        }
        let title = match runbook.title.trim() {
            "" => source.rsplit('/').next().unwrap_or(source).to_string(),
            title => title.to_string(),
        };
        Self { title, source: source.to_string(), sections }
    }

    pub fn steps(&self) -> impl Iterator<Item = (&Section, &Step)> {
        self.sections.iter().flat_map(|s| s.steps.iter().map(move |step| (s, step)))
    }

    pub fn step(&self, number: u32) -> Option<(&Section, &Step)> {
        self.steps().find(|(_, s)| s.number == number)
    }

    /// How many steps get each button: (Run, Request, Done).
    pub fn buttons(&self) -> (usize, usize, usize) {
        self.steps().fold((0, 0, 0), |(r, q, d), (_, s)| match s.button() {
            Button::Run => (r + 1, q, d),
            Button::Request => (r, q + 1, d),
            Button::Done => (r, q, d + 1),
        })
    }

    /// The window that section `position` (of [`Checklist::sections`]) gives, unless it is the
    /// one it inherits from its `##`.
    pub fn own_window(&self, position: usize) -> Option<u64> {
        let section = self.sections.get(position)?;
        let parent = self.sections[..position].iter().rev().find(|s| s.level == 2).filter(|_| section.level == 3);
        section.window_end_secs.filter(|w| parent.is_none_or(|p| p.window_end_secs != Some(*w)))
    }

    /// The time windows that cover steps. A `###` that inherits its `##`'s window is covered by
    /// the `##`'s (one reminder for the whole section); one with a window of its own has its own.
    pub fn windows(&self) -> Vec<Window<'_>> {
        let mut windows: Vec<Window<'_>> = Vec::new();
        let mut open: Option<usize> = None; // the `##` window the following `###` may share
        for section in &self.sections {
            let shared = match (section.level, open) {
                (3, Some(w)) => Some(w).filter(|w| Some(windows[*w].end_secs) == section.window_end_secs),
                _ => None,
            };
            if section.level == 2 {
                open = None;
            }
            if let Some(w) = shared {
                windows[w].steps.extend(section.steps.iter());
                continue;
            }
            let Some(end_secs) = section.window_end_secs else { continue };
            windows.push(Window {
                index: section.index,
                heading: &section.heading,
                end_secs,
                steps: section.steps.iter().collect(),
            });
            if section.level == 2 {
                open = Some(windows.len() - 1);
            }
        }
        windows.retain(|w| !w.steps.is_empty());
        windows
    }
}

fn step(catalog: &Catalog, service: &ServiceConfig, step: &runbook::Step) -> Step {
    // What the runbook says around the command is shown with it, nothing dropped: the comment
    // above, the plumbing folded into it (`sleep 30` first), the lines below (`echo $?`, what to
    // expect).
    let lines: Vec<String> = step
        .note
        .iter()
        .cloned()
        .chain(step.before.iter().map(|b| format!("first: {b}")))
        .chain(step.detail.iter().cloned())
        .collect();
    let mut note = (!lines.is_empty()).then(|| lines.join("\n"));
    let action = match runbook::map_step(catalog, service, &step.command) {
        StepAction::Action { id, given, ask } if ask.is_empty() => catalog.get(&id).map(|action| Mapped {
            change: action.kind == Kind::Change,
            timeout_secs: action.timeout.as_secs(),
            id,
            given,
        }),
        // A value the runbook leaves to the reader (`--replicas=<count>`) cannot ride on a button:
        // the step is ticked by hand, and says how to run it with the value.
        StepAction::Action { id, ask, .. } => {
            let values: Vec<String> = ask.iter().map(|name| format!("{name}=…")).collect();
            let how = format!("run it with `/incident run {id} {}`", values.join(" "));
            note = Some(note.map_or(how.clone(), |n| format!("{n}\n{how}")));
            None
        }
        StepAction::Manual { .. } => None,
    };
    Step {
        number: step.number as u32 + 1,
        command: step.command.clone(),
        task: step.kind == runbook::StepKind::Task,
        note,
        line: step.line,
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(packs: &[&str], params: &[(&str, &str)]) -> ServiceConfig {
        ServiceConfig::of(packs, params)
    }

    const RUNBOOK: &str = "# Down\n## Symptoms\ntext\n## Immediate Actions (0-5 minutes)\n### 1. Verify\n```bash\n# Memory\nfree -h\n# Restart\nsystemctl restart api\n```\n### 2. Look\n```bash\nls /tmp\n```\n## Investigation (5-15 minutes)\n```bash\nuptime\n```\n### Deeper (First 20 Minutes)\n```bash\ndf -h\n```\n## Notes\n";

    #[test]
    fn steps_are_numbered_from_one_and_get_their_button() {
        let catalog = Catalog::built_in().unwrap();
        let checklist = Checklist::new(
            &runbook::parse(RUNBOOK),
            "runbooks/api.md",
            &catalog,
            &service(&["host", "systemd"], &[("unit", "api")]),
        );
        let headings: Vec<&str> = checklist.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            [
                "Immediate Actions (0-5 minutes)",
                "1. Verify",
                "2. Look",
                "Investigation (5-15 minutes)",
                "Deeper (First 20 Minutes)"
            ],
            "sections without steps are left out, their `##` kept"
        );
        let steps: Vec<(u32, Button)> = checklist.steps().map(|(_, s)| (s.number, s.button())).collect();
        assert_eq!(
            steps,
            [(1, Button::Run), (2, Button::Request), (3, Button::Done), (4, Button::Run), (5, Button::Run)]
        );
        assert_eq!(checklist.step(2).unwrap().1.action.as_ref().unwrap().id, "systemd.restart");
        assert_eq!(checklist.buttons(), (3, 1, 1));
    }

    #[test]
    fn a_window_covers_the_subsections_that_share_it() {
        let catalog = Catalog::built_in().unwrap();
        let checklist = Checklist::new(&runbook::parse(RUNBOOK), "api.md", &catalog, &service(&[], &[]));
        let windows: Vec<(usize, u64, Vec<u32>)> = checklist
            .windows()
            .iter()
            .map(|w| (w.index, w.end_secs, w.steps.iter().map(|s| s.number).collect()))
            .collect();
        assert_eq!(windows, [(1, 300, vec![1, 2, 3]), (4, 900, vec![4]), (5, 1200, vec![5])]);
    }
}
