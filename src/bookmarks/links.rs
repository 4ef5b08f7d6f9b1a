//! Where each bookmark points, read from what warroom recorded: the war room from
//! `[slack] war_room_url`; the runbook as the newest posting of its checklist in the channel (a
//! runbook is a file on warroom's disk, which nobody in Slack can open: the checklist is the
//! runbook as this incident works through it); the status page incident's shortlink, once the
//! first push created it; the newest exported report's file.

use uuid::Uuid;

use super::Kind;
use crate::app::AppState;
use crate::slack::api::SlackError;

/// What a bookmark's link is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Url(String),
    /// A message, linked by its permalink (`chat.getPermalink`).
    Message {
        channel: String,
        ts: String,
    },
    /// A file, linked by its permalink (`files.info`).
    File(String),
}

impl Source {
    /// What is stored to know the bookmark is current without asking Slack.
    pub fn key(&self) -> String {
        match self {
            Source::Url(url) => url.clone(),
            Source::Message { channel, ts } => format!("message:{channel}:{ts}"),
            Source::File(id) => format!("file:{id}"),
        }
    }

    /// The link; `None` when Slack gives the file no permalink.
    pub async fn link(&self, state: &AppState) -> Result<Option<String>, SlackError> {
        match self {
            Source::Url(url) => Ok(Some(url.clone())),
            Source::Message { channel, ts } => state.slack.permalink(channel, ts).await.map(Some),
            Source::File(id) => state.slack.file_permalink(id).await,
        }
    }
}

/// What `kind` of `incident_id`'s bookmark is made from now; `None`: nothing to link (yet).
pub async fn source(state: &AppState, incident_id: Uuid, kind: Kind) -> sqlx::Result<Option<Source>> {
    let db = &state.db;
    Ok(match kind {
        Kind::WarRoom => state.settings.file.war_room_url.clone().map(Source::Url),
        Kind::Runbook => sqlx::query_as::<_, (String, String)>(
            "SELECT channel_id, ts FROM checklist_messages WHERE incident_id = $1 AND part = 0
             ORDER BY posted_at DESC, posting DESC LIMIT 1",
        )
        .bind(incident_id)
        .fetch_optional(db)
        .await?
        .map(|(channel, ts)| Source::Message { channel, ts }),
        Kind::Statuspage => crate::statuspage::link(db, incident_id).await?.map(Source::Url),
        Kind::Report => sqlx::query_scalar::<_, Option<String>>(
            "SELECT payload->>'file' FROM timeline_events WHERE incident_id = $1 AND kind = 'report_exported'
             ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(incident_id)
        .fetch_optional(db)
        .await?
        .flatten()
        .map(Source::File),
    })
}
