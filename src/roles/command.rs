//! `/incident role <role> @user` and `/incident roles`. The permission (`assign_roles`, or
//! `change_commander` for the commander) was checked before this runs
//! (`crate::slack::authorize`); an unknown role is answered here with the roles there are.

use sqlx::PgConnection;

use super::assign::{self, Assigned};
use crate::app::AppState;
use crate::config::COMMANDER;
use crate::error::AppError;
use crate::incident::lifecycle::{self, LifecycleError};
use crate::incident::store::Incident;
use crate::incident::SlackUserId;
use crate::templates::escape_mrkdwn;

/// Fills `key` with `user`; the ephemeral answer.
pub async fn role(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    by: &str,
    key: &str,
    user: &SlackUserId,
) -> Result<String, AppError> {
    let config = &state.settings.file.roles;
    let Some(role) = config.get(key) else {
        return Ok(unknown(state, key));
    };
    let now = state.clock.now();
    if role.key == COMMANDER {
        // The commander's own path: its event, its post, its invitation, its reactions.
        return match lifecycle::change_commander(&mut *db, state.reactions(), now, incident, by, user.as_str()).await {
            Ok(()) => Ok(format!(
                ":white_check_mark: <@{}> is now {} of {}.",
                user.as_str(),
                escape_mrkdwn(&role.name),
                incident.number()
            )),
            Err(LifecycleError::Database(e)) => Err(e.into()),
            Err(other) => Ok(format!(":no_entry: {other}")),
        };
    }
    let name = escape_mrkdwn(&role.name);
    Ok(match assign::assign(db, now, incident, role, user.as_str(), by).await? {
        Assigned::Now { .. } => {
            format!(
                ":white_check_mark: <@{}> is now {name} of {}; telling the channel.",
                user.as_str(),
                incident.number()
            )
        }
        Assigned::Already => {
            format!(":information_source: <@{}> is {name} of {} already.", user.as_str(), incident.number())
        }
    })
}

/// Whether `key` names a role (for `crate::slack::authorize`: an unknown one needs no
/// permission to be told so).
pub fn is_role(state: &AppState, key: &str) -> bool {
    state.settings.file.roles.get(key).is_some()
}

/// What an unknown role is told.
pub fn unknown(state: &AppState, key: &str) -> String {
    let key: String = key.chars().take(40).collect();
    format!(
        ":x: `{}` is not a role here; the roles are {}. (`[roles] names` in warroom.toml)\n*Usage:* `/incident role <role> @user`",
        escape_mrkdwn(&key),
        state.settings.file.roles.keys()
    )
}

/// `/incident roles`: each role and who holds it.
pub async fn list(state: &AppState, db: &mut PgConnection, incident: &Incident) -> Result<String, AppError> {
    let config = &state.settings.file;
    let bot = state.slack.bot_user_id().await.ok();
    let holders = crate::incident::roles::current(&mut *db, &config.roles, incident, bot.as_deref()).await?;
    let required = config.roles.required(incident.severity());
    let mut lines = vec![format!("*Roles of {}:*", incident.number())];
    for holder in &holders {
        let who = holder.user.as_deref().map_or_else(|| "_unfilled_".to_string(), |u| format!("<@{u}>"));
        let needed = required.is_some_and(|r| r.roles.contains(&holder.key));
        lines.push(format!(
            "• *{}* (`{}`): {who}{}",
            escape_mrkdwn(&holder.name),
            holder.key,
            if needed { format!(" — required at {}", incident.severity()) } else { String::new() }
        ));
    }
    lines.push("Fill one with `/incident role <role> @user`.".into());
    Ok(lines.join("\n"))
}
