//! `GET /console/insights` (`?weeks=4..104&service=&severity=`): how fast incidents were
//! acknowledged, mitigated, resolved and first updated, week by week, by severity and by
//! service; incidents per service and severity; escalation tiers reached. The numbers come from
//! [`super::insights_query`], the page from [`super::insights_view`]. A bad parameter gets a
//! 400 page that says which and why.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};

use super::insights_query::{self, Query};
use super::page::{self, Section};
use super::session::Viewer;
use crate::app::AppState;
use crate::incident::Severity;

/// The weeks shown when none are asked for, and the bounds of `?weeks=`.
pub const DEFAULT_WEEKS: u32 = 12;
pub const MIN_WEEKS: u32 = 4;
pub const MAX_WEEKS: u32 = 104;
const MAX_SERVICE: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/insights", get(show))
}

/// What the query string asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub weeks: u32,
    pub service: Option<String>,
    pub severity: Option<Severity>,
}

/// Parses the query string; an empty `service` or `severity` (the filter form's "all") is no
/// filter. Unknown, repeated or malformed parameters are refused with the reason.
pub fn parse(raw: Option<&str>) -> Result<Params, String> {
    let mut params = Params { weeks: DEFAULT_WEEKS, service: None, severity: None };
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        // The decoder replaces bytes that are not UTF-8 with U+FFFD: refuse them, do not guess.
        if name.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
            return Err("The query string is not valid UTF-8.".into());
        }
        if seen.iter().any(|s| *s == name) {
            return Err(format!("`{name}` is given more than once."));
        }
        seen.push(name.to_string());
        let value = value.trim();
        match &*name {
            "weeks" => {
                params.weeks = value.parse().ok().filter(|w| (MIN_WEEKS..=MAX_WEEKS).contains(w)).ok_or_else(|| {
                    format!("`weeks` must be a whole number from {MIN_WEEKS} to {MAX_WEEKS}, not `{value}`.")
                })?;
            }
            "service" if value.is_empty() => {}
            "service" => {
                if value.chars().count() > MAX_SERVICE || value.chars().any(char::is_control) {
                    return Err(format!("`service` must be a service's name (at most {MAX_SERVICE} characters)."));
                }
                params.service = Some(value.to_string());
            }
            "severity" if value.is_empty() => {}
            "severity" => params.severity = Some(Severity::parse(value).map_err(|e| format!("`severity`: {e}."))?),
            other => return Err(format!("Unknown parameter `{other}`: insights takes weeks, service and severity.")),
        }
    }
    Ok(params)
}

/// Monday 00:00 UTC of the week `at` is in.
pub fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let monday = at.date_naive() - Duration::days(i64::from(at.weekday().num_days_from_monday()));
    monday.and_time(NaiveTime::MIN).and_utc()
}

/// The Mondays of the `weeks` weeks that end with the one `now` is in, oldest first.
pub fn weeks_to(now: DateTime<Utc>, weeks: u32) -> Vec<DateTime<Utc>> {
    let last = week_start(now);
    (0..i64::from(weeks)).rev().map(|back| last - Duration::weeks(back)).collect()
}

async fn show(State(state): State<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Response {
    let params = match parse(raw.as_deref()) {
        Ok(params) => params,
        Err(why) => return page::message(&viewer, StatusCode::BAD_REQUEST, "Insights: bad request", &why),
    };
    let now = state.clock.now();
    let weeks = weeks_to(now, params.weeks);
    let query = Query {
        start: weeks[0],
        end: now,
        service: params.service.clone(),
        severity: params.severity,
        viewer: viewer.user_id.clone(),
    };
    match insights_query::load(&state.db, &query).await {
        Ok(insights) => {
            let data = super::insights_view::page(&params, &weeks, now, &insights);
            page::render(&viewer, Section::Insights, "Insights", "insights", &data)
        }
        Err(e) => {
            tracing::warn!("console insights query failed: {e}");
            page::message(
                &viewer,
                StatusCode::SERVICE_UNAVAILABLE,
                "Insights",
                "The database is unavailable; try again shortly.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn no_parameters_mean_twelve_weeks_of_everything() {
        assert_eq!(parse(None), Ok(Params { weeks: 12, service: None, severity: None }));
        assert_eq!(parse(Some("weeks=12&service=&severity=")).unwrap().service, None);
        let asked = parse(Some("weeks=52&service=api%20gw&severity=p1")).unwrap();
        assert_eq!((asked.weeks, asked.service.as_deref(), asked.severity), (52, Some("api gw"), Some(Severity::P1)));
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        for (query, says) in [
            ("weeks=3", "from 4 to 104"),
            ("weeks=105", "from 4 to 104"),
            ("weeks=ten", "not `ten`"),
            ("weeks=-1", "from 4 to 104"),
            ("severity=P9", "unknown severity"),
            ("service=%FF", "not valid UTF-8"),
            ("service=a%0Ab", "a service's name"),
            ("weeks=4&weeks=5", "more than once"),
            ("sort=asc", "Unknown parameter `sort`"),
        ] {
            let refused = parse(Some(query)).unwrap_err();
            assert!(refused.contains(says), "{query}: {refused}");
        }
    }

    #[test]
    fn weeks_are_mondays_ending_with_this_one() {
        let wednesday = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let weeks = weeks_to(wednesday, 4);
        assert_eq!(weeks.len(), 4);
        assert_eq!(weeks[3], Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        assert_eq!(weeks[0], Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap());
        let monday_midnight = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        assert_eq!(week_start(monday_midnight), monday_midnight);
    }
}
