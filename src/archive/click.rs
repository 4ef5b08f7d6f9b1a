//! The warning's "Keep open": moves the archiving to one `archive_after` from the click, once
//! per resolve. It takes `[permissions] reopen` (keeping a resolved incident's channel is a
//! decision about the incident after it, the same people's as reopening it); a refusal says who
//! may, and changes nothing.

use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::AppState;
use crate::config::Permission;
use crate::error::AppError;
use crate::incident::store;
use crate::jobs::{kind, queue};
use crate::timeline::{self, EventKind};

/// Handles a Keep open click by `user`; returns what they are told.
pub async fn click(state: &AppState, db: &mut PgConnection, user: &str, payload: &Value) -> Result<String, AppError> {
    let id = payload["actions"][0]["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
    let incident = match id {
        Some(id) => store::get(&mut *db, id).await?,
        None => None,
    };
    let Some(incident) = incident else { return Ok("That incident no longer exists in warroom.".into()) };
    let number = incident.number();
    if let Some(refusal) = crate::slack::authorize::refusal(state, db, &incident, user, Permission::Reopen).await? {
        return Ok(format!("{refusal} Keep open takes the same permission as reopening."));
    }
    let Some(after) = state.settings.file.archive_after else {
        return Ok(format!("Archiving is off (`[slack] archive_after`): the channel of {number} stays open."));
    };
    let now = state.clock.now();
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    // Under the row's lock: a second click waits here, then finds the first one's extension.
    let Some(incident) = store::lock(&mut *tx, incident.id).await? else {
        return Ok("That incident no longer exists in warroom.".into());
    };
    let Some(resolved_at) = incident.resolved_at.filter(|_| incident.is_resolved()) else {
        return Ok(format!("{number} is open again: its channel is not going to be archived."));
    };
    if super::archived(&mut tx, incident.id).await? {
        return Ok(format!("The channel of {number} is archived already; reopen {number} to bring it back."));
    }
    if super::kept_open(&mut tx, incident.id, resolved_at).await? {
        return Ok(format!(
            "The channel of {number} was kept open once already (Keep open extends once); it will be archived as planned."
        ));
    }
    super::cancel(&mut tx, incident.id).await?;
    let archive_at = crate::clock::whole_seconds(now + after.as_chrono());
    super::plan(&mut tx, incident.id, after, archive_at, true, now).await?;
    let payload = json!({ "by": user, "archive_at": archive_at });
    timeline::append(&mut *tx, incident.id, now, user, EventKind::ArchiveKeptOpen, payload).await?;
    let when = archive_at.format("%Y-%m-%d %H:%M");
    let text = format!(
        ":file_cabinet: <@{user}> kept this channel open: it will be archived on {when} UTC ({} from now) instead.",
        super::run::describe(after)
    );
    let post = json!({ "text": text, "to": "channel", "what": "kept open" });
    queue::enqueue(&mut *tx, Some(incident.id), kind::POST, &format!("archive.kept:{}", now.timestamp()), post, now)
        .await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(format!(
        ":file_cabinet: Kept open: the channel of {number} will be archived on {when} UTC instead. This was the one extension."
    ))
}
