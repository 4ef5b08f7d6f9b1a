//! Where a step stands, read from its stored state: open, done, running, awaiting approval...;
//! the line its message shows, and whether its button is offered (again).

use chrono::{DateTime, Utc};

use super::model::Step;
use super::store::StepState;
use crate::slack::blocks::{hhmm, who};

/// How long past its time limit a run asked from the checklist may go without finishing before
/// it is taken as lost (the same margin as a change's watch).
const MARGIN_SECS: i64 = crate::diagnostics::change::MARGIN.as_secs() as i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<'a> {
    Open,
    /// Ticked by hand.
    Done {
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// Ticked by its run, which ended `ok` (exit 0) or not.
    Ran {
        by: &'a str,
        at: DateTime<Utc>,
        ok: bool,
    },
    /// A read asked from the checklist, not finished yet.
    Running {
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// Asked, and not finished within its time limit and a margin: taken as lost.
    Lost {
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// A change waiting for its approval.
    Awaiting {
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// A change approved, running or about to.
    Approved {
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// A change whose request ended without running it (`denied`, `expired`, `cancelled`).
    Dropped {
        by: &'a str,
        at: DateTime<Utc>,
        how: &'a str,
    },
    /// A change that started and whose outcome is unknown.
    Unknown {
        by: &'a str,
        at: DateTime<Utc>,
    },
}

impl<'a> Progress<'a> {
    pub fn of(step: &Step, state: Option<&'a StepState>, now: DateTime<Utc>) -> Self {
        let Some(state) = state else { return Self::Open };
        if let (Some(by), Some(at)) = (state.done_by.as_deref(), state.done_at) {
            return match state.done_via.as_deref() {
                Some("run") => Self::Ran { by, at, ok: state.result.as_deref() == Some("ok") },
                _ => Self::Done { by, at },
            };
        }
        let (Some(by), Some(at)) = (state.run_by.as_deref(), state.run_at) else { return Self::Open };
        match state.approval_state.as_deref() {
            None if state.approval_id.is_some() => Self::Open,
            None => {
                let limit = step.action.as_ref().map_or(0, |a| a.timeout_secs as i64) + MARGIN_SECS;
                if now > at + chrono::Duration::seconds(limit) {
                    Self::Lost { by, at }
                } else {
                    Self::Running { by, at }
                }
            }
            Some("pending") => Self::Awaiting { by, at },
            Some(how @ ("denied" | "expired" | "cancelled")) => Self::Dropped { by, at, how },
            Some("outcome_unknown") => Self::Unknown { by, at },
            Some(_) => Self::Approved { by, at },
        }
    }

    /// Ticked: by hand or by its run.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done { .. } | Self::Ran { .. })
    }

    /// Whether the step's button is offered: open, or its last run came to nothing.
    pub fn offers_button(&self) -> bool {
        matches!(self, Self::Open | Self::Lost { .. } | Self::Dropped { .. } | Self::Unknown { .. })
    }

    /// The line under the step in its message (mrkdwn), none while it is open.
    pub fn line(&self) -> Option<String> {
        let t = hhmm;
        Some(match self {
            Self::Open => return None,
            Self::Done { by, at } => format!("✅ done by {} at {}", who(by), t(*at)),
            Self::Ran { by, at, ok: true } => format!("▶ run by {} at {} → ok ✅", who(by), t(*at)),
            Self::Ran { by, at, ok: false } => format!("▶ run by {} at {} → failed ❌", who(by), t(*at)),
            Self::Running { by, at } => format!("▶ running — asked by {} at {}", who(by), t(*at)),
            Self::Lost { by, at } => {
                format!("⚠ asked by {} at {}, and no result came back: run it again", who(by), t(*at))
            }
            Self::Awaiting { by, at } => format!("⏳ awaiting approval — requested by {} at {}", who(by), t(*at)),
            Self::Approved { by, at } => format!("⏳ approved, running — requested by {} at {}", who(by), t(*at)),
            Self::Dropped { by, at, how } => {
                format!("✖ request {how} — requested by {} at {}; request it again", who(by), t(*at))
            }
            Self::Unknown { by, at } => {
                format!("⚠ started, outcome unknown — requested by {} at {}: check by hand", who(by), t(*at))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Mapped;
    use super::*;

    fn read_step() -> Step {
        let action = Mapped { id: "host.load".into(), change: false, given: Default::default(), timeout_secs: 10 };
        Step { number: 1, command: "uptime".into(), note: None, line: 1, action: Some(action), task: false }
    }

    #[test]
    fn a_run_that_never_reports_is_taken_as_lost_after_its_limit_and_a_margin() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let state = StepState { run_by: Some("U0ALICE".into()), run_at: Some(at), ..Default::default() };
        let step = read_step();
        let running = Progress::of(&step, Some(&state), at + chrono::Duration::seconds(60));
        assert!(matches!(running, Progress::Running { .. }) && !running.offers_button());
        let lost = Progress::of(&step, Some(&state), at + chrono::Duration::seconds(131));
        assert!(matches!(lost, Progress::Lost { .. }) && lost.offers_button());
    }

    #[test]
    fn a_denied_request_offers_the_button_again_and_a_tick_is_final() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut state = StepState {
            run_by: Some("U0BOB".into()),
            run_at: Some(at),
            approval_id: Some(uuid::Uuid::nil()),
            approval_state: Some("denied".into()),
            ..Default::default()
        };
        let step = read_step();
        assert!(Progress::of(&step, Some(&state), at).offers_button());
        state.done_by = Some("U0BOB".into());
        state.done_at = Some(at);
        state.done_via = Some("run".into());
        state.result = Some("failed".into());
        let done = Progress::of(&step, Some(&state), at);
        assert!(done.is_done() && !done.offers_button());
        assert_eq!(done.line().unwrap(), format!("▶ run by <@U0BOB> at {} → failed ❌", hhmm(at)));
    }
}
