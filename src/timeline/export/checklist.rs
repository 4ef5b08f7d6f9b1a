//! The runbook checklist in the report, read from the timeline alone: the checklist as it was
//! posted (`checklist_created`, which carries its sections and steps), then each run asked from
//! it (`checklist_step_run`) and each tick (`checklist_step_done`). Every step, with who did it
//! and when; the others are open.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{Events, ExportError, Source};

/// The kinds of event the checklist is read from.
const KINDS: [&str; 3] = ["checklist_created", "checklist_step_run", "checklist_step_done"];

/// The incident's checklist as the report shows it.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub source: String,
    pub steps: Vec<Row>,
}

/// One step.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u64,
    /// `Immediate Actions (0-5 minutes) › 1. Verify the Alert`.
    pub section: String,
    pub command: String,
    pub note: Option<String>,
    pub action: Option<String>,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Open,
    /// Ticked by hand.
    Done {
        by: String,
        at: DateTime<Utc>,
    },
    /// Ticked when its run finished (`ok` or `failed`).
    Ran {
        by: String,
        at: DateTime<Utc>,
        result: String,
    },
    /// Run or requested from the checklist, and not finished.
    Asked {
        by: String,
        at: DateTime<Utc>,
        change: bool,
    },
}

impl State {
    pub fn word(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done { .. } => "done",
            Self::Ran { .. } => "run",
            Self::Asked { .. } => "asked",
        }
    }

    pub fn by_at(&self) -> Option<(&str, DateTime<Utc>)> {
        match self {
            Self::Open => None,
            Self::Done { by, at } | Self::Ran { by, at, .. } | Self::Asked { by, at, .. } => Some((by, *at)),
        }
    }

    /// "done by @U0ALICE at 15:47:10", "open"...
    pub fn describe(&self) -> String {
        let at = |t: &DateTime<Utc>| t.format("%H:%M:%S");
        match self {
            Self::Open => "open".into(),
            Self::Done { by, at: t } => format!("done by @{by} at {} UTC", at(t)),
            Self::Ran { by, at: t, result } => format!("run by @{by} at {} UTC → {result}", at(t)),
            Self::Asked { by, at: t, change: true } => format!("open: requested by @{by} at {} UTC, not run", at(t)),
            Self::Asked { by, at: t, change: false } => format!("open: run by @{by} at {} UTC, no result", at(t)),
        }
    }
}

impl Report {
    /// The step as the JSON report has it.
    pub fn json(row: &Row) -> Value {
        let (by, at) = row.state.by_at().unzip();
        let result = match &row.state {
            State::Ran { result, .. } => Some(result.as_str()),
            _ => None,
        };
        json!({
            "number": row.number, "section": row.section, "command": row.command, "note": row.note,
            "action": row.action, "state": row.state.word(), "by": by, "at": at, "result": result,
        })
    }

    pub fn done(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.state, State::Done { .. } | State::Ran { .. })).count()
    }
}

/// The incident's checklist, if it had one.
pub async fn read(source: &Source<'_>) -> Result<Option<Report>, ExportError> {
    let mut events = Events::of(source, &KINDS);
    let mut report: Option<Report> = None;
    while let Some(event) = events.next().await? {
        let p = &event.payload;
        if event.kind == "checklist_created" {
            if report.is_none() {
                report = Some(from_created(p));
            }
            continue;
        }
        let Some(row) = report.as_mut().and_then(|r| r.steps.iter_mut().find(|s| Some(s.number) == p["step"].as_u64()))
        else {
            continue;
        };
        let by = event.actor.clone();
        row.state = match (event.kind.as_str(), p["via"].as_str()) {
            ("checklist_step_done", Some("run")) => {
                State::Ran { by, at: event.at, result: p["result"].as_str().unwrap_or("failed").to_string() }
            }
            ("checklist_step_done", _) => State::Done { by, at: event.at },
            _ if matches!(row.state, State::Done { .. } | State::Ran { .. }) => continue,
            _ => State::Asked { by, at: event.at, change: p["kind"] == "change" },
        };
    }
    Ok(report)
}

fn from_created(p: &Value) -> Report {
    let checklist = &p["checklist"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut steps = Vec::new();
    let mut parent = String::new();
    for section in checklist["sections"].as_array().into_iter().flatten() {
        let heading = text(&section["heading"]);
        let path = if section["level"] == 2 {
            parent = heading.clone();
            heading
        } else if parent.is_empty() {
            heading
        } else {
            format!("{parent} › {heading}")
        };
        for step in section["steps"].as_array().into_iter().flatten() {
            steps.push(Row {
                number: step["number"].as_u64().unwrap_or_default(),
                section: path.clone(),
                command: text(&step["command"]),
                note: step["note"].as_str().map(str::to_string),
                action: step["action"]["id"].as_str().map(str::to_string),
                state: State::Open,
            });
        }
    }
    Report { title: text(&checklist["title"]), source: text(&checklist["source"]), steps }
}
