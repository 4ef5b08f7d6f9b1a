//! The one place where Slack requests meet `[permissions]`: which permission a subcommand, a
//! click or a modal submission needs, and the refusal to show when the person lacks it. A
//! click is a request too: buttons and submissions are checked exactly like slash commands.

use super::command::IncidentAction;
use crate::app::AppState;
use crate::config::Permission;
use crate::config::StatuspageMode;
use crate::diagnostics::Kind;
use crate::error::AppError;
use crate::incident::store::Incident;

/// The permission `action` needs on `incident`, if any (status, notes, timelines, follow-ups
/// and exports are open to everyone who can type the command).
pub fn needed(state: &AppState, incident: &Incident, action: &IncidentAction) -> Option<Permission> {
    match action {
        IncidentAction::Resolve => Some(Permission::Resolve),
        IncidentAction::Reopen => Some(Permission::Reopen),
        IncidentAction::Commander(_) => Some(Permission::ChangeCommander),
        // The commander is a role filled through its own permission; an unknown role is told so.
        IncidentAction::Role { role, .. } if role == crate::config::COMMANDER => Some(Permission::ChangeCommander),
        IncidentAction::Role { role, .. } if crate::roles::command::is_role(state, role) => {
            Some(Permission::AssignRoles)
        }
        // P3 sorts after P0: a larger severity is a lower one, and lowering cancels paging.
        IncidentAction::Severity(to) if *to > incident.severity() => Some(Permission::LowerSeverity),
        IncidentAction::Escalate(_) => Some(Permission::Escalate),
        IncidentAction::Update(_) | IncidentAction::UpdateModal => update_permission(state, incident),
        IncidentAction::Run { action, .. } => Some(diagnostic_permission(state, action)),
        _ => None,
    }
}

/// Running diagnostic `id`: a change needs `request_change`, anything else `run_read`.
pub fn diagnostic_permission(state: &AppState, id: &str) -> Permission {
    match state.catalog.get(id).map(|a| a.kind) {
        Some(Kind::Change) => Permission::RequestChange,
        _ => Permission::RunRead,
    }
}

/// An update is status page text when the severity pushes updates to the page as they are
/// made; in manual mode the draft waits for an `edit_statuspage` confirmation instead (and a
/// private incident's for `publish_private`'s).
pub fn update_permission(state: &AppState, incident: &Incident) -> Option<Permission> {
    let pushes =
        !incident.private && crate::statuspage::mode(&state.settings.file, incident.severity()) == StatuspageMode::Auto;
    pushes.then_some(Permission::EditStatuspage)
}

/// `None` when `user` may; otherwise the refusal, ready to show (":no_entry: Only …").
pub async fn refusal(
    state: &AppState,
    db: &mut sqlx::PgConnection,
    incident: &Incident,
    user: &str,
    permission: Permission,
) -> Result<Option<String>, AppError> {
    let config = &state.settings.file;
    let checked = crate::permissions::check(db, config, state.clock.now(), incident, user, permission).await?;
    Ok(checked.err().map(|refusal| format!(":no_entry: {refusal}")))
}
