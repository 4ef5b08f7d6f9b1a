//! What customers read: a push's name, status, body, impact and component statuses, rendered
//! from `templates/statuspage/*.hbs` and the incident as it was when the push was made. What
//! people typed in Slack is read as a customer should read it ([`customer`]: Slack's markup
//! decoded, broadcasts removed), and every body is redacted, whoever wrote it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{fit_body, fit_name, IncidentRequest};
use super::customer;
use crate::config::FileConfig;
use crate::incident::store::Incident;
use crate::incident::{Severity, Status};
use crate::templates::{TemplateError, Templates};

/// The incident as it was when an update was made: later changes do not rewrite what an
/// earlier push says, and a retried push says exactly the same thing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub service: String,
    pub severity: String,
    pub status: String,
    pub status_text: Option<String>,
    pub root_cause: Option<String>,
    pub eta: Option<String>,
    pub impact: Option<String>,
    pub resolution: Option<String>,
    pub declared_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Snapshot {
    pub fn of(incident: &Incident) -> Self {
        Self {
            service: incident.service.clone(),
            severity: incident.severity.clone(),
            status: incident.status.clone(),
            status_text: incident.status_text.clone(),
            root_cause: incident.root_cause.clone(),
            eta: incident.eta.clone(),
            impact: incident.impact.clone(),
            resolution: incident.resolution.clone(),
            declared_at: incident.declared_at,
            resolved_at: incident.resolved_at,
        }
    }

    /// A declaration's, before it is stored.
    pub fn declared(new: &crate::incident::store::NewIncident, now: DateTime<Utc>) -> Self {
        Self {
            service: new.service.clone(),
            severity: new.severity.as_str().into(),
            status: Status::Investigating.as_str().into(),
            status_text: None,
            root_cause: None,
            eta: None,
            impact: new.impact.clone(),
            resolution: None,
            declared_at: now,
            resolved_at: None,
        }
    }

    fn severity(&self) -> Severity {
        Severity::parse(&self.severity).unwrap_or(Severity::P0)
    }

    fn resolved(&self) -> bool {
        self.status == Status::Resolved.as_str()
    }
}

/// A push's request, before the metadata only a create carries.
pub fn request(
    templates: &Templates,
    config: &FileConfig,
    snapshot: &Snapshot,
    body: Option<&str>,
    at: DateTime<Utc>,
) -> Result<IncidentRequest, TemplateError> {
    let severity = snapshot.severity();
    let sev = config.severity.get(&severity).cloned().unwrap_or_default();
    let service = config.services.get(&snapshot.service);
    let display = service.and_then(|s| s.display_name.clone()).unwrap_or_else(|| snapshot.service.clone());
    let component_ids = service.map(|s| s.statuspage_components.clone()).unwrap_or_default();
    let component_status = if snapshot.resolved() { "operational" } else { sev.statuspage_component_status.as_str() };
    let components: BTreeMap<String, String> =
        component_ids.iter().map(|id| (id.clone(), component_status.to_string())).collect();
    let outage = sev.statuspage_component_status.label();
    let name = templates.render_plain("statuspage/name", &json!({ "outage": outage, "service": display }))?;
    // A person's edit of a draft is their own words, not Slack markup: only cleaned.
    let body = match body {
        Some(body) => customer::finish(body),
        None => self::body(templates, config, snapshot, &display, at)?,
    };
    Ok(IncidentRequest {
        name: Some(fit_name(customer::finish(&name).trim())),
        status: snapshot.status.clone(),
        body: Some(fit_body(&body)),
        impact_override: Some(config.statuspage_impact(severity, &snapshot.service).as_str().into()),
        component_ids,
        components,
        deliver_notifications: config.statuspage.deliver_notifications,
        metadata: None,
    })
}

/// The customer text for `snapshot` (seed 002's "Investigating Major Outage" and "Resolved" texts).
pub fn body(
    templates: &Templates,
    config: &FileConfig,
    snapshot: &Snapshot,
    display: &str,
    at: DateTime<Utc>,
) -> Result<String, TemplateError> {
    let hhmm = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    // Typed in Slack; absent when nothing is left to show.
    let said = |text: &Option<String>| text.as_deref().map(customer::text).filter(|t| !t.trim().is_empty());
    let severity = snapshot.severity();
    let sev = config.severity.get(&severity).cloned().unwrap_or_default();
    if snapshot.resolved() {
        let resolved = snapshot.resolved_at.unwrap_or(at);
        let minutes = (resolved - snapshot.declared_at).num_minutes().max(0);
        let text = templates.render_plain(
            "statuspage/resolved",
            &json!({
                "service": display, "root_cause": said(&snapshot.root_cause), "resolution": said(&snapshot.resolution),
                "duration": if minutes == 1 { "1 minute".to_string() } else { format!("{minutes} minutes") },
                "started": hhmm(snapshot.declared_at), "resolved": hhmm(resolved), "now": hhmm(at),
            }),
        )?;
        return Ok(customer::finish(&text));
    }
    let status = Status::parse(&snapshot.status).unwrap_or(Status::Investigating);
    let outage = sev.statuspage_component_status;
    let cadence = sev.status_update_every.filter(|d| !d.0.is_zero()).map(|d| {
        let minutes = d.0.as_secs() / 60;
        if minutes == 1 {
            "minute".to_string()
        } else {
            format!("{minutes} minutes")
        }
    });
    let text = templates.render_plain(
        "statuspage/update",
        &json!({
            "service": display,
            "major_outage": outage == crate::config::ComponentStatus::MajorOutage,
            "outage_lower": format!("a {}", outage.label().to_lowercase()),
            "monitoring": status == Status::Monitoring,
            "impact": said(&snapshot.impact),
            "status_label": capitalize(status.as_str()),
            "status_text": said(&snapshot.status_text),
            // Seed 002 says what was identified: "Status: Identified - Memory exhaustion".
            "identified_cause": if status == Status::Identified { said(&snapshot.root_cause) } else { None },
            "eta": said(&snapshot.eta),
            "cadence": cadence,
            "now": hhmm(at),
        }),
    )?;
    // The display name comes from the config, the rest from templates: cleaned as a whole.
    Ok(customer::finish(&text))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn snapshot(status: &str) -> Snapshot {
        let declared_at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 45, 0).unwrap();
        Snapshot {
            service: "inference-gateway".into(),
            severity: "P0".into(),
            status: status.into(),
            status_text: Some("Memory exhaustion".into()),
            root_cause: Some("Memory resource exhaustion".into()),
            eta: Some("5-10 minutes".into()),
            impact: Some("All prediction requests are failing.".into()),
            resolution: Some("Increased memory allocation".into()),
            declared_at,
            resolved_at: (status == "resolved").then(|| declared_at + chrono::Duration::minutes(8)),
        }
    }

    #[test]
    fn the_update_text_follows_the_seed() {
        let templates = Templates::load(None).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 50, 0).unwrap();
        let text = body(&templates, &FileConfig::default(), &snapshot("identified"), "ML Inference API", at).unwrap();
        assert_eq!(
            text,
            "We are currently experiencing a complete outage of the ML Inference API.\n\
             All prediction requests are failing.\n\
             Our engineering team is actively working on restoration.\n\n\
             Status: Identified - Memory exhaustion\nETA: 5-10 minutes\n\n\
             We will provide updates every 5 minutes.\n\nLast Updated: 15:50 UTC"
        );
    }

    #[test]
    fn the_resolved_text_follows_the_seed() {
        let templates = Templates::load(None).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 55, 0).unwrap();
        let text = body(&templates, &FileConfig::default(), &snapshot("resolved"), "ML Inference API", at).unwrap();
        assert!(
            text.starts_with("Resolved - ML Inference API Restored\n\nThe ML Inference API has been fully restored")
        );
        assert!(text.contains("Root Cause: Memory resource exhaustion\nResolution: Increased memory allocation\n"));
        assert!(text.contains("Duration: 8 minutes (15:45-15:53 UTC)"), "{text}");
        assert!(text.ends_with("Status: Resolved\nLast Updated: 15:55 UTC"));
    }

    #[test]
    fn what_people_typed_in_slack_reaches_customers_as_plain_text() {
        let templates = Templates::load(None).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 50, 0).unwrap();
        let mut typed = snapshot("identified");
        typed.status_text =
            Some("<!here> <@U0ALICE|alice> found it &amp; p99 &lt; 1s, see <https://x.example/d|the graph>".into());
        typed.impact = Some("<!channel>".into());
        typed.eta = Some("after DB_PASSWORD=hunter2 rotates".into());
        let text = body(&templates, &FileConfig::default(), &typed, "ML Inference API", at).unwrap();
        assert!(text.contains("Status: Identified - alice found it & p99 < 1s, see the graph\n"), "{text}");
        assert!(text.contains("ETA: after DB_PASSWORD=[REDACTED] rotates"), "{text}");
        assert!(!text.contains("<!") && !text.contains("hunter2"), "{text}");
        assert!(
            text.contains("ML Inference API.\nOur engineering team"),
            "an impact that was only a broadcast is none: {text}"
        );
    }

    #[test]
    fn resolving_sets_the_components_back_to_operational() {
        let templates = Templates::load(None).unwrap();
        let mut config = FileConfig::default();
        let service = crate::config::ServiceConfig {
            statuspage_components: vec!["cmp1".into()],
            display_name: Some("ML Inference API".into()),
            ..Default::default()
        };
        config.services.insert("inference-gateway".into(), service);
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 55, 0).unwrap();
        let open = request(&templates, &config, &snapshot("investigating"), None, at).unwrap();
        assert_eq!(open.name.as_deref(), Some("Major Outage - ML Inference API"));
        assert_eq!(open.components["cmp1"], "major_outage");
        assert_eq!(open.impact_override.as_deref(), Some("critical"));
        let resolved = request(&templates, &config, &snapshot("resolved"), None, at).unwrap();
        assert_eq!(resolved.components["cmp1"], "operational");
    }

    #[test]
    fn the_impact_comes_from_the_config_at_every_push() {
        let templates = Templates::load(None).unwrap();
        let text = "[services.inference-gateway]\nstatuspage_impact = { P0 = \"major\" }\n";
        let config = FileConfig::parse(std::path::Path::new("warroom.toml"), text).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 55, 0).unwrap();
        for status in ["investigating", "identified", "resolved"] {
            let request = request(&templates, &config, &snapshot(status), None, at).unwrap();
            assert_eq!(request.impact_override.as_deref(), Some("major"), "{status}");
        }
    }
}
