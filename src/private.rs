//! Private incidents (DESIGN.md "People"): declared with `--private`, the declare modal's box or
//! `[services.x] private`. This module owns the two rules the other parts ask about:
//!
//! - who may see one: in Slack, the people in its channel (`channel_members`, as for the
//!   `participants` principal), its declarer and its commander; through the API, only
//!   `WARROOM_API_PRIVATE_TOKEN` asking with `include_private=true` (`crate::api`). Anyone else
//!   is told it does not exist, exactly as for a number never used, so a refusal leaves no trace;
//! - what the announcement channel hears of one: its number only (`private_announcement`,
//!   `private_resolved`), or with `[slack] announce_private = false` nothing at all.
//!
//! Its channel is private (`conversations.create` with `is_private`), the status page hears of it
//! only when a `publish_private` principal posts a draft (`crate::statuspage`), and escalation
//! tells its tiers by direct message, never by a mention in a channel (`crate::escalation`).

use serde_json::json;
use sqlx::PgExecutor;

use crate::incident::store::Incident;
use crate::incident::IncidentNumber;
use crate::templates::{TemplateError, Templates};

/// May `user` see `incident` (list it, read its status, summary, timeline or report)? Always
/// for a public incident; for a private one, only its members.
pub async fn visible_to(db: impl PgExecutor<'_>, incident: &Incident, user: &str) -> sqlx::Result<bool> {
    if !incident.private || incident.declared_by == user || incident.commander == user {
        return Ok(true);
    }
    let Some(channel) = incident.channel_id.as_deref() else { return Ok(false) };
    let (member, _) = crate::permissions::members::lookup(db, Some(channel), &[], user).await?;
    Ok(member)
}

/// What someone who may not see a private incident is told when they name it: the words of a
/// number that was never used.
pub fn not_found(number: IncidentNumber) -> String {
    format!(":x: There is no incident {number}.")
}

/// The announcement of a private incident: its number and who declared it, nothing more.
pub fn announcement(templates: &Templates, incident: &Incident) -> Result<String, TemplateError> {
    announcement_of(templates, incident.number(), &incident.declared_by)
}

fn announcement_of(templates: &Templates, number: IncidentNumber, declared_by: &str) -> Result<String, TemplateError> {
    let by_person = crate::slack::blocks::is_person(declared_by);
    let data = json!({ "number": number.to_string(), "declared_by": declared_by, "by_person": by_person });
    templates.render("private_announcement", &data)
}

/// The resolution's line in the announcement channel: the number only.
pub fn resolution(templates: &Templates, number: IncidentNumber) -> Result<String, TemplateError> {
    templates.render("private_resolved", &json!({ "number": number.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_says_the_number_and_the_declarer_only() {
        let templates = Templates::load(None).unwrap();
        let text = announcement_of(&templates, IncidentNumber(42), "U0ALICE").unwrap();
        assert_eq!(text.trim(), ":lock: *INC-42* (private) declared by <@U0ALICE>");
        let text = announcement_of(&templates, IncidentNumber(42), "alertmanager").unwrap();
        assert_eq!(text.trim(), ":lock: *INC-42* (private) declared by alertmanager");
        let text = resolution(&templates, IncidentNumber(42)).unwrap();
        assert_eq!(text.trim(), ":lock: *INC-42* (private) resolved");
    }
}
