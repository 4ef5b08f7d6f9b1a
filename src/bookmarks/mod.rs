//! The incident channel's bookmarks (DESIGN.md "People", `[slack] bookmarks`): the war room,
//! the runbook, the status page incident and the report, each added once and edited when its
//! link changes. One job kind ([`kind::BOOKMARKS`]) brings every bookmark of a channel up to
//! date; it is queued with the declaration ([`Reactor`]) and by [`queue_refresh`] where a link
//! appears (the status page incident created, the runbook checklist posted, a report exported).
//!
//! [`kind::BOOKMARKS`]: crate::jobs::kind::BOOKMARKS

mod links;
mod react;
pub mod run;
mod store;

pub use react::Reactor;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::config::FileConfig;
use crate::jobs::{kind, queue};

/// What a bookmark points at. The names are stored in `channel_bookmarks.kind`; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WarRoom,
    Runbook,
    Statuspage,
    Report,
}

impl Kind {
    /// In the order they are added (Slack shows bookmarks in the order they were added).
    pub const ALL: [Kind; 4] = [Kind::WarRoom, Kind::Runbook, Kind::Statuspage, Kind::Report];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WarRoom => "war_room",
            Kind::Runbook => "runbook",
            Kind::Statuspage => "statuspage",
            Kind::Report => "report",
        }
    }

    /// The bookmark's title in Slack (also how a bookmark whose add was lost is found again).
    pub fn title(self) -> &'static str {
        match self {
            Kind::WarRoom => "War room",
            Kind::Runbook => "Runbook checklist",
            Kind::Statuspage => "Status page",
            Kind::Report => "Post-incident report",
        }
    }
}

/// Queues a bookmark refresh of `incident_id`'s channel (when `[slack] bookmarks` is on), once
/// per `slot`: a slot names the link that appeared (`sp:<shortlink>`, `report:<file id>`), so
/// a repeated call queues nothing. Run it in the transaction that recorded the link.
pub async fn queue_refresh(
    db: impl sqlx::PgExecutor<'_>,
    config: &FileConfig,
    incident_id: Uuid,
    slot: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if config.bookmarks {
        queue::enqueue(db, Some(incident_id), kind::BOOKMARKS, slot, json!({}), now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> FileConfig {
        FileConfig::parse(std::path::Path::new("warroom.toml"), text).unwrap()
    }

    #[test]
    fn bookmarks_are_on_unless_turned_off() {
        assert!(FileConfig::default().bookmarks);
        assert!(parsed("[slack]\nannounce_channel = \"incidents\"\n").bookmarks);
        assert!(!parsed("[slack]\nbookmarks = false\n").bookmarks);
        assert!(FileConfig::parse(std::path::Path::new("warroom.toml"), "[slack]\nbookmarks = \"yes\"\n").is_err());
    }

    #[test]
    fn every_kind_has_its_own_name_and_title() {
        let names: std::collections::BTreeSet<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        let titles: std::collections::BTreeSet<_> = Kind::ALL.iter().map(|k| k.title()).collect();
        assert_eq!((names.len(), titles.len()), (4, 4), "a lost add is found again by its title");
    }
}
