//! The insights page's data for `templates/console/insights.hbs`: each measure's line chart
//! (weekly median solid, p90 dashed, one colour and marker per severity) beside its table, the
//! bars of incidents per service and severity and of escalation tiers reached, durations in
//! people's units, and the empty states.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::insights::Params;
use super::insights_query::{Insights, Measure, Times};
use super::svg::{self, LegendEntry, LineChart, Marker, Series};
use crate::incident::Severity;

/// A severity's colour (Okabe–Ito: told apart with the common colour-vision deficiencies) and
/// marker shape (told apart without colour at all).
fn look(severity: &str) -> (&'static str, Marker) {
    match severity {
        "P0" => ("#D55E00", Marker::Circle),
        "P1" => ("#0072B2", Marker::Square),
        "P2" => ("#009E73", Marker::Triangle),
        _ => ("#CC79A7", Marker::Diamond),
    }
}

/// A duration as people read it: `45s`, `12m 30s`, `2h 05m`, `3d 04h` (rounded to the second).
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The unit of a chart's y axis for values up to `max_secs`: (divisor, label).
pub fn unit(max_secs: f64) -> (f64, &'static str) {
    match max_secs {
        m if m < 2.0 * 3600.0 => (60.0, "minutes"),
        m if m < 72.0 * 3600.0 => (3600.0, "hours"),
        _ => (86_400.0, "days"),
    }
}

fn title(measure: Measure) -> &'static str {
    match measure {
        Measure::Acknowledge => "Time to acknowledge",
        Measure::Mitigate => "Time to mitigate",
        Measure::Resolve => "Time to resolve",
        Measure::FirstUpdate => "Time to first update",
    }
}

fn none_yet(measure: Measure) -> &'static str {
    match measure {
        Measure::Acknowledge => "No incident in this range has been acknowledged.",
        Measure::Mitigate => "No incident in this range has been mitigated.",
        Measure::Resolve => "No incident in this range has been resolved.",
        Measure::FirstUpdate => "No incident in this range has had a status update.",
    }
}

#[derive(Serialize)]
struct Row {
    week: String,
    severity: String,
    n: i64,
    median: String,
    p90: String,
}

#[derive(Serialize)]
struct MeasureView {
    id: &'static str,
    title: &'static str,
    svg: String,
    rows: Vec<Row>,
    empty: Option<&'static str>,
}

/// Everything `insights.hbs` shows.
pub fn page(params: &Params, weeks: &[DateTime<Utc>], now: DateTime<Utc>, insights: &Insights) -> serde_json::Value {
    let range =
        format!("{} weeks: {} to {}", weeks.len(), weeks[0].format("%b %-d, %Y"), now.format("%b %-d, %Y %H:%M UTC"));
    let measures: Vec<MeasureView> = Measure::ALL.iter().map(|m| measure(*m, weeks, &range, insights)).collect();
    let severities: Vec<_> = Severity::ALL
        .iter()
        .map(|s| serde_json::json!({ "value": s.as_str(), "selected": params.severity == Some(*s) }))
        .collect();
    serde_json::json!({
        "weeks": params.weeks,
        "service": params.service.clone().unwrap_or_default(),
        "severities": severities,
        "range": range,
        "total": insights.total,
        "empty": insights.total == 0,
        "measures": measures,
        "services": services(insights),
        "services_svg": services_chart(insights, &range),
        "by_severity": insights.by_severity.iter().map(|(s, n)| serde_json::json!({ "severity": s, "n": n })).collect::<Vec<_>>(),
        "severity_svg": svg::bar_chart(
            "by-severity",
            "Incidents per severity",
            &format!("Incidents declared per severity, {range}. The numbers are in the table beside the chart."),
            "incidents",
            &insights.by_severity.iter().map(|(s, n)| (s.clone(), *n as f64)).collect::<Vec<_>>(),
        ),
        "tiers": insights.tiers.iter().map(|(t, n)| serde_json::json!({ "tier": t, "n": n })).collect::<Vec<_>>(),
        "tiers_empty": insights.tiers.is_empty(),
        "tiers_svg": svg::bar_chart(
            "tiers",
            "Escalation tiers reached",
            &format!("Incidents that reached each escalation tier, {range}. The numbers are in the table beside the chart."),
            "incidents",
            &insights.tiers.iter().map(|(t, n)| (format!("Tier {t}"), *n as f64)).collect::<Vec<_>>(),
        ),
    })
}

fn measure(measure: Measure, weeks: &[DateTime<Utc>], range: &str, insights: &Insights) -> MeasureView {
    let weekly: Vec<&Times> = insights.times_of(measure).filter(|t| t.week.is_some()).collect();
    let (title, id) = (title(measure), measure.as_str());
    if weekly.is_empty() {
        return MeasureView { id, title, svg: String::new(), rows: Vec::new(), empty: Some(none_yet(measure)) };
    }
    let row = |week: String, t: &Times, severity: &str| Row {
        week,
        severity: severity.to_string(),
        n: t.n,
        median: duration(t.median),
        p90: duration(t.p90),
    };
    let mut rows: Vec<Row> = weekly
        .iter()
        .map(|t| row(t.week.unwrap().format("%Y-%m-%d").to_string(), t, t.severity.as_deref().unwrap_or("")))
        .collect();
    let all_weeks = format!("All {} weeks", weeks.len());
    let per_severity = insights.times_of(measure).filter(|t| t.week.is_none() && t.severity.is_some());
    rows.extend(per_severity.map(|t| row(all_weeks.clone(), t, t.severity.as_deref().unwrap_or(""))));
    let overall = insights.times_of(measure).find(|t| t.week.is_none() && t.severity.is_none() && t.service.is_none());
    rows.extend(overall.map(|t| row(all_weeks.clone(), t, "all")));

    let (divisor, unit) = unit(weekly.iter().fold(0.0_f64, |m, t| m.max(t.p90)));
    let index: HashMap<DateTime<Utc>, usize> = weeks.iter().enumerate().map(|(i, w)| (*w, i)).collect();
    let mut severities: Vec<&str> = weekly.iter().filter_map(|t| t.severity.as_deref()).collect();
    severities.dedup();
    severities.sort();
    severities.dedup();
    let mut series = Vec::new();
    let mut legend = Vec::new();
    for severity in &severities {
        let (colour, marker) = look(severity);
        for (dashed, pick) in [(false, (|t: &Times| t.median) as fn(&Times) -> f64), (true, |t: &Times| t.p90)] {
            let mut values = vec![None; weeks.len()];
            for t in weekly.iter().filter(|t| t.severity.as_deref() == Some(severity)) {
                if let Some(i) = t.week.and_then(|w| index.get(&w)) {
                    values[*i] = Some(pick(t) / divisor);
                }
            }
            let name = format!("{severity} {}", if dashed { "p90" } else { "median" });
            series.push(Series { name, colour, marker, dashed, values });
        }
        legend.push(LegendEntry { name: severity.to_string(), colour, marker: Some(marker), dashed: false });
    }
    legend.push(LegendEntry { name: "median".into(), colour: "#1d1f24", marker: None, dashed: false });
    legend.push(LegendEntry { name: "p90".into(), colour: "#1d1f24", marker: None, dashed: true });
    let labels: Vec<String> = weeks.iter().map(|w| w.format("%b %-d").to_string()).collect();
    let description = format!(
        "{title} in {unit}: the weekly median (solid line) and p90 (dashed line) per severity, {range}. \
         The numbers are in the table beside the chart."
    );
    let svg = svg::line_chart(&LineChart {
        id,
        title,
        description: &description,
        x_labels: &labels,
        y_label: unit,
        series: &series,
        legend: &legend,
    });
    MeasureView { id, title, svg, rows, empty: None }
}

/// Per service: its incidents and each measure's median and p90 over the whole range.
fn services(insights: &Insights) -> Vec<serde_json::Value> {
    let by_service: HashMap<(&str, &str), &Times> =
        insights.times.iter().filter_map(|t| Some(((t.service.as_deref()?, t.measure.as_str()), t))).collect();
    insights
        .by_service
        .iter()
        .map(|(service, n)| {
            let cell = |m: Measure, p90: bool| {
                by_service
                    .get(&(service.as_str(), m.as_str()))
                    .map_or("—".to_string(), |t| duration(if p90 { t.p90 } else { t.median }))
            };
            serde_json::json!({
                "service": service, "n": n,
                "ack_median": cell(Measure::Acknowledge, false), "ack_p90": cell(Measure::Acknowledge, true),
                "update_median": cell(Measure::FirstUpdate, false), "update_p90": cell(Measure::FirstUpdate, true),
                "mitigate_median": cell(Measure::Mitigate, false), "mitigate_p90": cell(Measure::Mitigate, true),
                "resolve_median": cell(Measure::Resolve, false), "resolve_p90": cell(Measure::Resolve, true),
            })
        })
        .collect()
}

/// The most incidents first; at most twenty bars (the table lists every service).
const MAX_BARS: usize = 20;

fn services_chart(insights: &Insights, range: &str) -> String {
    let bars: Vec<(String, f64)> =
        insights.by_service.iter().take(MAX_BARS).map(|(s, n)| (s.clone(), *n as f64)).collect();
    let more = insights.by_service.len().saturating_sub(MAX_BARS);
    let description = if more > 0 {
        format!("Incidents declared per service, {range}: the {MAX_BARS} services with the most ({more} more in the table beside the chart).")
    } else {
        format!("Incidents declared per service, {range}. The numbers are in the table beside the chart.")
    };
    svg::bar_chart("by-service", "Incidents per service", &description, "incidents", &bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_sensible_units() {
        assert_eq!(duration(44.6), "45s");
        assert_eq!(duration(90.0), "1m 30s");
        assert_eq!(duration(114.0), "1m 54s");
        assert_eq!(duration(3600.0 + 5.0 * 60.0), "1h 05m");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3d 04h");
        assert_eq!(duration(-5.0), "0s");
    }

    #[test]
    fn the_axis_unit_follows_the_largest_value() {
        assert_eq!(unit(600.0), (60.0, "minutes"));
        assert_eq!(unit(5.0 * 3600.0), (3600.0, "hours"));
        assert_eq!(unit(10.0 * 86_400.0), (86_400.0, "days"));
    }
}
