//! `GET /console`: the incidents list. The query string is parsed by [`super::incidents_params`]
//! (a bad value gets a 400 page saying what to write), the page read by
//! [`super::incidents_query`] (only what the viewer may see), and each row shown with its
//! number, title, service, severity, status, commander, when it was declared (and how long
//! ago, by the injected clock), how long it lasted, and its Slack channel.

use std::collections::BTreeSet;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::incidents_params::{self, Params, MAX_Q};
use super::incidents_query::{self, Cursor, Filters, Row, StatusFilter};
use super::page::{self, Section};
use super::session::Viewer;
use crate::app::AppState;
use crate::incident::{IncidentNumber, Severity};

pub fn router() -> Router<AppState> {
    Router::new().route("/console", get(list))
}

async fn list(viewer: Viewer, State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = match incidents_params::parse(query.as_deref()) {
        Ok(params) => params,
        Err(refusal) => return page::message(&viewer, StatusCode::BAD_REQUEST, "Incidents: not a filter", &refusal),
    };
    match read(&state, &viewer, &params).await {
        Ok(data) => page::render(&viewer, Section::Incidents, "Incidents", "incidents", &data),
        Err(e) => {
            tracing::warn!("the console's incidents list could not be read: {e}");
            page::message(
                &viewer,
                StatusCode::SERVICE_UNAVAILABLE,
                "Incidents",
                "The database is unavailable; try again shortly.",
            )
        }
    }
}

/// Everything the template shows.
async fn read(state: &AppState, viewer: &Viewer, params: &Params) -> sqlx::Result<Value> {
    let db = &state.db;
    let page = incidents_query::page(db, &viewer.user_id, &params.filters, params.cursor).await?;
    let known = incidents_query::services(db, &viewer.user_id).await?;
    let commanders: Vec<String> =
        page.rows.iter().map(|r| r.commander.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let names = incidents_query::names(db, &commanders).await?;
    let now = state.clock.now();
    let incidents: Vec<Value> = page
        .rows
        .iter()
        .map(|row| {
            let name = names.get(&row.commander).map(String::as_str);
            row_view(row, name, &viewer.team_id, now)
        })
        .collect();
    let f = &params.filters;
    let configured = state.settings.file.services.keys().cloned();
    let services: BTreeSet<String> = configured.chain(known).chain(f.service.clone()).collect();
    Ok(json!({
        "incidents": incidents,
        "form": form_view(f, &services),
        "older": page.older.map(|n| href(f, Some(Cursor::Before(n)))),
        "newer": page.newer.map(|n| href(f, Some(Cursor::After(n)))),
        "filtered": *f != Filters::default(),
        "paged": params.cursor.is_some(),
    }))
}

fn row_view(row: &Row, commander_name: Option<&str>, team: &str, now: DateTime<Utc>) -> Value {
    let number = IncidentNumber(row.number);
    let resolved = row.status == "resolved";
    let duration = match row.resolved_at {
        Some(at) => span(at - row.declared_at),
        None => format!("ongoing for {}", span(now - row.declared_at)),
    };
    let channel = row.channel_id.as_deref().map(|id| {
        let name = row.channel_name.as_deref().map_or_else(|| id.to_string(), |n| format!("#{n}"));
        json!({ "url": format!("https://app.slack.com/client/{team}/{id}"), "name": name })
    });
    json!({
        "number": number.to_string(),
        "href": format!("/console/incidents/{}", row.number),
        "title": row.title,
        "service": row.service,
        "severity": row.severity,
        "status": row.status,
        "resolved": resolved,
        "mitigated": !resolved && row.mitigated_at.is_some(),
        "commander": commander_name.unwrap_or(&row.commander),
        "commander_id": row.commander,
        "declared": row.declared_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "declared_iso": row.declared_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "ago": ago(now - row.declared_at),
        "duration": duration,
        "ongoing": row.resolved_at.is_none(),
        "channel": channel,
        "private": row.private,
    })
}

/// The filter form, holding what was asked for.
fn form_view(f: &Filters, services: &BTreeSet<String>) -> Value {
    let status = match f.status {
        None => "",
        Some(StatusFilter::Open) => "open",
        Some(StatusFilter::Is(s)) => s.as_str(),
    };
    let option =
        |value: &str, label: &str, chosen: &str| json!({ "value": value, "label": label, "selected": value == chosen });
    let statuses = [
        ("", "Any status"),
        ("open", "Open"),
        ("investigating", "Investigating"),
        ("identified", "Identified"),
        ("monitoring", "Monitoring"),
        ("resolved", "Resolved"),
    ];
    let severity = f.severity.map_or("", Severity::as_str);
    let service = f.service.as_deref().unwrap_or("");
    let mut severities = vec![option("", "Any severity", severity)];
    severities.extend(Severity::ALL.map(|s| option(s.as_str(), &format!("{s} · {}", s.label()), severity)));
    let mut service_options = vec![option("", "Any service", service)];
    service_options.extend(services.iter().map(|s| option(s, s, service)));
    json!({
        "statuses": statuses.map(|(v, l)| option(v, l, status)),
        "severities": severities,
        "services": service_options,
        "q": f.q.as_deref().unwrap_or(""),
        "q_max": MAX_Q,
        "from": f.from.map(|d| d.to_string()).unwrap_or_default(),
        "to": f.to.map(|d| d.to_string()).unwrap_or_default(),
    })
}

/// `/console?<filters>&before=N`: a link that keeps the filters.
fn href(f: &Filters, cursor: Option<Cursor>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let status = f.status.map(|s| match s {
        StatusFilter::Open => "open",
        StatusFilter::Is(s) => s.as_str(),
    });
    let days = (f.from.map(|d| d.to_string()), f.to.map(|d| d.to_string()));
    let pairs = [
        ("status", status.map(str::to_string)),
        ("severity", f.severity.map(|s| s.as_str().to_string())),
        ("service", f.service.clone()),
        ("q", f.q.clone()),
        ("from", days.0),
        ("to", days.1),
        (
            "before",
            match cursor {
                Some(Cursor::Before(n)) => Some(n.to_string()),
                _ => None,
            },
        ),
        (
            "after",
            match cursor {
                Some(Cursor::After(n)) => Some(n.to_string()),
                _ => None,
            },
        ),
    ];
    for (name, value) in pairs {
        if let Some(value) = value {
            query.append_pair(name, &value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        "/console".into()
    } else {
        format!("/console?{query}")
    }
}

/// "3 min ago", "5 h 20 min ago", "12 days ago".
fn ago(gap: Duration) -> String {
    let minutes = gap.num_minutes().max(0);
    match minutes {
        0 => "under a minute ago".into(),
        m if m < 60 => format!("{m} min ago"),
        m if m < 48 * 60 => format!("{} h {} min ago", m / 60, m % 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

/// "42s", "4m 05s", "3h 02m", "2d 05h".
fn span(length: Duration) -> String {
    let secs = length.num_seconds().max(0);
    if secs < 48 * 3600 {
        crate::duration::human_span(length)
    } else {
        format!("{}d {:02}h", secs / 86_400, (secs % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_lengths_read_as_a_person_says_them() {
        assert_eq!(ago(Duration::seconds(30)), "under a minute ago");
        assert_eq!(ago(Duration::minutes(3)), "3 min ago");
        assert_eq!(ago(Duration::minutes(320)), "5 h 20 min ago");
        assert_eq!(ago(Duration::days(12)), "12 days ago");
        assert_eq!(ago(Duration::seconds(-5)), "under a minute ago");
        assert_eq!(span(Duration::seconds(245)), "4m 05s");
        assert_eq!(span(Duration::hours(50)), "2d 02h");
    }

    #[test]
    fn links_keep_the_filters_and_carry_the_cursor() {
        let filters = Filters { q: Some("50% & more".into()), severity: Some(Severity::P1), ..Filters::default() };
        assert_eq!(href(&filters, Some(Cursor::Before(70))), "/console?severity=P1&q=50%25+%26+more&before=70");
        assert_eq!(href(&Filters::default(), None), "/console");
        let parsed = incidents_params::parse(Some("severity=P1&q=50%25+%26+more&before=70")).unwrap();
        assert_eq!((parsed.filters, parsed.cursor), (filters, Some(Cursor::Before(70))));
    }
}
