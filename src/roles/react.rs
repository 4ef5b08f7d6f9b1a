//! How roles react to an incident's changes (one line in `crate::reactions`): the declaration
//! plans the unfilled-role reminder (when its severity requires roles) and writes the roles the
//! declare modal filled; a new severity re-plans the reminder. The resolution cancels it with
//! the other timers, and a reminder reads the incident again when it fires.

use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::{assign, remind};
use crate::incident::change::{Change, Context, Plan, React};
use crate::incident::store::NewIncident;
use crate::jobs::kind;

/// Roles' reactor.
pub struct Reactor;

impl React for Reactor {
    fn name(&self) -> &'static str {
        "roles"
    }

    fn plan(&self, ctx: &Context<'_>, new: &NewIncident, plan: &mut Plan) {
        if let Some(due) = remind::first_due(ctx.config, new.severity, ctx.now) {
            plan.queue(kind::ROLES_REMIND, "1", json!({ "stage": 1 }), due);
        }
        // Roles filled in the declare modal are rows of their own: written in the declaring
        // transaction (a declaration without any stays one statement).
        if !new.roles.is_empty() {
            plan.then_react();
        }
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let (config, now) = (ctx.config, ctx.now);
        Box::pin(async move {
            match *change {
                Change::Declared { id, new, .. } => {
                    // Only the roles the configuration names (the submission was checked against it).
                    let given: Vec<_> = new
                        .roles
                        .iter()
                        .filter_map(|(key, user)| config.roles.get(key).map(|role| (role.clone(), user.clone())))
                        .collect();
                    if given.is_empty() {
                        return Ok(());
                    }
                    assign::at_declaration(tx, now, id, &given, &new.declared_by).await
                }
                Change::SeverityChanged { incident, to, .. } => remind::replan(tx, config, incident, to, now).await,
                // The commander is a role, but it is filled through its own change and read from
                // the incident when a reminder fires; a resolution cancels the timer.
                Change::Acknowledged { .. }
                | Change::Updated { .. }
                | Change::CommanderChanged { .. }
                | Change::Resolved { .. }
                | Change::Reopened { .. } => Ok(()),
            }
        })
    }
}
