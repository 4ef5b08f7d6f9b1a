//! `GET /console/incidents/{number}`: the page itself — the header (status, severity, service,
//! every role and its holder, the status page, the channel), the lifecycle with its durations
//! on the injected clock, a page of the timeline and the sections; `templates/console/incident.hbs`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::sections::{self, at};
use super::timeline::{self, clean, Cursor};
use crate::app::AppState;
use crate::console::page::{self, message, Section};
use crate::console::session::Viewer;
use crate::duration::human_span;
use crate::incident::store::Incident;

pub async fn show(
    viewer: Viewer,
    State(state): State<AppState>,
    number: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let incident = match super::find(&state, &viewer, number).await {
        Ok(incident) => incident,
        Err(refusal) => return refusal,
    };
    let cursor = match Cursor::parse(query.as_deref()) {
        Ok(cursor) => cursor,
        Err(why) => return message(&viewer, StatusCode::BAD_REQUEST, "Bad request", &why),
    };
    match data(&state, &viewer, &incident, cursor).await {
        Ok(data) => {
            let title = format!("{} · {}", incident.number(), clean(&incident.title));
            page::render(&viewer, Section::Incidents, &title, "incident", &data)
        }
        Err(e) => {
            tracing::warn!(incident.number = %incident.number(), "console: the page of {} failed: {e}", incident.number());
            let text = "The database did not answer; try again shortly.";
            message(&viewer, StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", text)
        }
    }
}

/// Everything the template shows.
async fn data(
    state: &AppState,
    viewer: &Viewer,
    incident: &Incident,
    cursor: Cursor,
) -> Result<Value, crate::timeline::export::ExportError> {
    let db = &state.db;
    let now = state.clock.now();
    let timeline = timeline::page(db, incident.id, cursor).await?;
    let roles = crate::incident::roles::current(db, &state.settings.file.roles, incident, None).await?;
    let roles: Vec<Value> = roles
        .iter()
        .map(|r| json!({ "name": clean(&r.name), "holder": r.user.as_deref().map(|u| format!("@{}", clean(u))) }))
        .collect();
    let number = incident.number.to_string();
    let live = timeline.newest && !incident.is_resolved();
    let reports: Vec<Value> = [("md", "Markdown"), ("json", "JSON"), ("csv", "CSV")]
        .iter()
        .map(|(f, label)| json!({ "format": f, "label": label, "href": format!("/console/incidents/{number}/report.{f}") }))
        .collect();
    Ok(json!({
        "number": incident.number().to_string(),
        "title": clean(&incident.title),
        "status": incident.status, "resolved": incident.is_resolved(),
        "severity": incident.severity, "severity_label": incident.severity().label(),
        "service": clean(&incident.service),
        "commander": format!("@{}", clean(&incident.commander)),
        "declared_by": format!("@{}", clean(&incident.declared_by)),
        "private": incident.private,
        "status_text": incident.status_text.as_deref().map(clean),
        "impact": incident.impact.as_deref().map(clean),
        "root_cause": incident.root_cause.as_deref().map(clean),
        "resolution": incident.resolution.as_deref().map(clean),
        "roles": roles,
        "channel": channel(incident, &viewer.team_id),
        "statuspage": statuspage(db, incident).await?,
        "lifecycle": lifecycle(incident, now),
        "timeline": timeline,
        "live": live.then(|| json!({ "events": format!("/console/incidents/{number}/events"), "after": timeline.last_id })),
        "diagnostics": sections::diagnostics(db, incident.id).await?,
        "approvals": sections::approvals(db, incident.id).await?,
        "checklist": sections::runbook_checklist(state, incident).await?,
        "followups": sections::followups(db, incident.id, now).await?,
        "seen_before": sections::seen_before(state, incident).await?,
        "reports": reports,
    }))
}

/// The incident channel in Slack: `https://app.slack.com/client/{team}/{channel}`.
fn channel(incident: &Incident, team: &str) -> Option<Value> {
    let id = incident.channel_id.as_deref()?;
    let name = incident.channel_name.as_deref().map_or_else(|| id.to_string(), clean);
    Some(json!({ "name": format!("#{name}"), "href": format!("https://app.slack.com/client/{team}/{id}") }))
}

/// The status page mirror as `statuspage_sync` has it: its link and how it stands.
async fn statuspage(db: &sqlx::PgPool, incident: &Incident) -> sqlx::Result<Value> {
    let Some(sync) = crate::statuspage::store::get(db, incident.id).await? else {
        return Ok(json!({ "state": "not on the status page", "failing": false }));
    };
    let (state, failing) = match (sync.failing_since, sync.synced_at) {
        (Some(since), _) => {
            let error = clean(sync.last_error.as_deref().unwrap_or("unknown error"));
            (format!("failing since {} UTC ({error})", at(since)), true)
        }
        (None, Some(synced)) => (format!("synced {} UTC", at(synced)), false),
        (None, None) => ("pending".to_string(), false),
    };
    // Only a web address is a link.
    let link = sync.shortlink.filter(|l| l.starts_with("https://") || l.starts_with("http://"));
    Ok(json!({ "state": state, "failing": failing, "link": link, "shown": sync.pushed_status.as_deref().map(clean) }))
}

/// The lifecycle's timestamps and the time from the declaration to each step: while a step is
/// still to come on an open incident, "ongoing" with the time so far on the injected clock.
fn lifecycle(incident: &Incident, now: DateTime<Utc>) -> Value {
    let when = |t: Option<DateTime<Utc>>| t.map(|t| json!({ "at": at(t), "iso": t.to_rfc3339() }));
    let span = |t: Option<DateTime<Utc>>| match t {
        Some(t) => human_span(t - incident.declared_at),
        None if incident.is_resolved() => "—".to_string(),
        None => format!("ongoing ({} so far)", human_span(now - incident.declared_at)),
    };
    let by = |who: &Option<String>| who.as_deref().map(|w| format!("@{}", clean(w)));
    json!({
        "detected": when(incident.detected_at),
        "declared": when(Some(incident.declared_at)),
        "acknowledged": when(incident.acknowledged_at), "acknowledged_by": by(&incident.acknowledged_by),
        "mitigated": when(incident.mitigated_at),
        "resolved": when(incident.resolved_at), "resolved_by": by(&incident.resolved_by),
        "to_acknowledge": span(incident.acknowledged_at),
        "to_mitigate": span(incident.mitigated_at),
        "to_resolve": span(incident.resolved_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_link_opens_slack_at_the_team_and_channel() {
        let incident = Incident { channel_id: Some("C0INC".into()), channel_name: Some("inc-4-api".into()), ..blank() };
        let link = channel(&incident, "T0TEAM").unwrap();
        assert_eq!(link["href"], "https://app.slack.com/client/T0TEAM/C0INC");
        assert_eq!(link["name"], "#inc-4-api");
        assert!(channel(&blank(), "T0TEAM").is_none());
    }

    #[test]
    fn durations_run_on_while_open_and_stop_at_each_step() {
        let declared: DateTime<Utc> = "2026-11-30T15:00:00Z".parse().unwrap();
        let now = declared + chrono::Duration::minutes(30);
        let open = Incident { acknowledged_at: Some(declared + chrono::Duration::seconds(245)), ..blank() };
        let l = lifecycle(&open, now);
        assert_eq!(l["to_acknowledge"], "4m 05s");
        assert_eq!(l["to_mitigate"], "ongoing (30m 00s so far)");
        assert_eq!(l["to_resolve"], "ongoing (30m 00s so far)");
        let resolved = Incident { resolved_at: Some(declared + chrono::Duration::hours(1)), ..open };
        let l = lifecycle(&resolved, now);
        assert_eq!((l["to_mitigate"].as_str(), l["to_resolve"].as_str()), (Some("—"), Some("1h 00m")));
    }

    fn blank() -> Incident {
        Incident {
            id: uuid::Uuid::nil(),
            number: 4,
            title: "t".into(),
            service: "api".into(),
            severity: "P1".into(),
            status: "investigating".into(),
            commander: "U0ALICE".into(),
            declared_by: "U0ALICE".into(),
            impact: None,
            origin_channel: None,
            response_url: None,
            channel_id: None,
            channel_name: None,
            declaration_ts: None,
            announce_channel_id: None,
            announce_ts: None,
            detected_at: None,
            declared_at: "2026-11-30T15:00:00Z".parse().unwrap(),
            acknowledged_at: None,
            acknowledged_by: None,
            mitigated_at: None,
            resolved_at: None,
            status_text: None,
            root_cause: None,
            current_action: None,
            eta: None,
            resolution: None,
            resolved_by: None,
            last_update_at: None,
            last_status_post_at: None,
            silent_posts: 0,
            next_update_at: None,
            runbook_url: None,
            private: false,
        }
    }
}
