//! The seam between the domain and the parts that react to it. Each transition (declare,
//! acknowledge, update, commander, severity, resolve, reopen) says once *what changed* — a
//! [`Change`] — and hands it, inside its own transaction, to every [`React`] it was given; it
//! knows none of them. The list of parts is `crate::reactions::ALL`, one line per part.
//!
//! A reactor's failure fails the transition: its transaction rolls back, so a change and what
//! it causes are committed together or not at all.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::store::{Incident, NewIncident, UpdateFields};
use super::{IncidentNumber, Severity};
use crate::config::FileConfig;

/// What a transition changed, as the parts need to hear it.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A new incident (told only to the reactors that asked with [`Plan::then_react`]).
    Declared { id: Uuid, number: IncidentNumber, new: &'a NewIncident },
    /// The first Acknowledge click.
    Acknowledged { incident: &'a Incident },
    /// `/incident update` (or the modal): the incident as updated, and the fields given.
    Updated { incident: &'a Incident, fields: &'a UpdateFields },
    CommanderChanged {
        incident: &'a Incident,
        from: &'a str,
        to: &'a str,
        /// What the channel is told instead of the plain announcement, when warroom made the
        /// change itself and says why (the on-call's assignment, a hand-over).
        announce: Option<&'a str>,
    },
    /// The incident carries the new severity and its re-planned `next_update_at`.
    SeverityChanged { incident: &'a Incident, from: Severity, to: Severity },
    /// The incident as resolved (every timer already cancelled).
    Resolved { incident: &'a Incident },
    /// The incident as reopened (its status update cadence planned again).
    Reopened { incident: &'a Incident },
}

impl Change<'_> {
    /// The change's name, for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Declared { .. } => "declared",
            Self::Acknowledged { .. } => "acknowledged",
            Self::Updated { .. } => "updated",
            Self::CommanderChanged { .. } => "commander_changed",
            Self::SeverityChanged { .. } => "severity_changed",
            Self::Resolved { .. } => "resolved",
            Self::Reopened { .. } => "reopened",
        }
    }

    /// The incident it happened to.
    pub fn incident_id(&self) -> Uuid {
        match self {
            Self::Declared { id, .. } => *id,
            Self::Acknowledged { incident }
            | Self::Updated { incident, .. }
            | Self::CommanderChanged { incident, .. }
            | Self::SeverityChanged { incident, .. }
            | Self::Resolved { incident }
            | Self::Reopened { incident } => incident.id,
        }
    }
}

/// What every reactor may read besides the change.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a FileConfig,
    pub now: DateTime<Utc>,
    /// Who made the change: a Slack user, an alert source, `api`.
    pub actor: &'a str,
}

/// A part that reacts to changes. Both methods do nothing unless the part says otherwise.
pub trait React: Sync {
    /// The part's name, for logs and tests.
    fn name(&self) -> &'static str;

    /// A declaration is about to be written: the jobs this part queues with it go into the
    /// declaration's one statement (the acknowledgement's hot path: no round trip of its own).
    /// A part that must also write its own tables asks for [`React::on`] with
    /// [`Plan::then_react`]. No I/O: it runs before the statement, for a replayed key too
    /// (whose statement then writes nothing and tells nobody).
    fn plan(&self, _ctx: &Context<'_>, _new: &NewIncident, _plan: &mut Plan) {}

    /// A change, inside the transaction that made it (uncommitted). An error rolls it back.
    fn on<'a>(
        &'a self,
        _tx: &'a mut Transaction<'_, Postgres>,
        _ctx: &'a Context<'a>,
        _change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The reactors a transition tells, and the configuration they read.
#[derive(Clone, Copy)]
pub struct Reactions<'a> {
    pub config: &'a FileConfig,
    pub reactors: &'a [&'a dyn React],
}

impl<'a> Reactions<'a> {
    pub(super) fn context<'b>(&self, now: DateTime<Utc>, actor: &'b str) -> Context<'b>
    where
        'a: 'b,
    {
        Context { config: self.config, now, actor }
    }

    /// Every reactor's part of a declaration.
    pub(super) fn plan(&self, ctx: &Context<'_>, new: &NewIncident) -> Plan {
        let mut plan = Plan::default();
        for (index, reactor) in self.reactors.iter().enumerate() {
            plan.current = index;
            reactor.plan(ctx, new, &mut plan);
        }
        plan
    }

    /// Tells each reactor (or, for a declaration, each that asked) about `change`, in order.
    pub(super) async fn react(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        ctx: &Context<'_>,
        change: &Change<'_>,
        only: Option<&[usize]>,
    ) -> sqlx::Result<()> {
        for (index, reactor) in self.reactors.iter().enumerate() {
            if only.is_some_and(|only| !only.contains(&index)) {
                continue;
            }
            reactor.on(tx, ctx, change).await.inspect_err(|e| {
                tracing::warn!(
                    reactor = reactor.name(),
                    change = change.name(),
                    "{} on {}: {e}",
                    reactor.name(),
                    change.name()
                )
            })?;
        }
        Ok(())
    }
}

/// A job a reactor queues with a declaration.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub kind: &'static str,
    pub slot: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    /// Its own number of attempts; `None`: the queue's default.
    pub max_attempts: Option<i32>,
}

/// What the reactors add to a declaration.
#[derive(Debug, Default)]
pub struct Plan {
    pub(super) jobs: Vec<PlannedJob>,
    /// The reactors that asked to be told [`Change::Declared`] in the transaction.
    pub(super) then: Vec<usize>,
    current: usize,
}

impl Plan {
    /// Queues a job with the declaration.
    pub fn queue(&mut self, kind: &'static str, slot: impl Into<String>, payload: Value, run_at: DateTime<Utc>) {
        self.jobs.push(PlannedJob { kind, slot: slot.into(), payload, run_at, max_attempts: None });
    }

    /// [`Plan::queue`] with its own number of attempts (a job that keeps trying for longer).
    pub fn queue_with_attempts(
        &mut self,
        kind: &'static str,
        slot: impl Into<String>,
        payload: Value,
        run_at: DateTime<Utc>,
        max_attempts: i32,
    ) {
        self.jobs.push(PlannedJob { kind, slot: slot.into(), payload, run_at, max_attempts: Some(max_attempts) });
    }

    /// Asks for [`React::on`] with [`Change::Declared`], after the declaration's statement and
    /// in its transaction. That costs the declaration a transaction of its own (or a savepoint),
    /// so a part asks only when it has its own rows to write.
    pub fn then_react(&mut self) {
        if !self.then.contains(&self.current) {
            self.then.push(self.current);
        }
    }

    /// The jobs queued so far.
    pub fn jobs(&self) -> &[PlannedJob] {
        &self.jobs
    }
}
