//! Charts drawn on the server as SVG: a line chart (one line per series, breaks where a week has
//! no data, a marker on every point so one point alone is still seen) and a horizontal bar chart,
//! with their "nice" axis scales. Nothing here knows about incidents: the caller gives labels,
//! values and series. Everything a person wrote (a service's name) is escaped here, because the
//! page puts the SVG in as it is.
//!
//! The console's CSP forbids inline styles, so colours, widths and dash patterns are SVG
//! presentation attributes (the chart reads right without the stylesheet), and the stylesheet
//! only sets fonts and the grid's tone through classes (`assets/console/console.css`).

use std::fmt::Write as _;

/// A y (or x) axis from 0: its top, its step and the ticks from 0 to the top, at round values
/// (1, 2 or 5 times a power of ten).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub top: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// The scale for values up to `max`, with about `target` steps. Zero, negative or non-finite
/// maxima (an empty chart, all zeros) give the scale 0..1.
pub fn nice_scale(max: f64, target: usize) -> Scale {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let nice = match raw / magnitude {
        r if r <= 1.0 => 1.0,
        r if r <= 2.0 => 2.0,
        r if r <= 5.0 => 5.0,
        _ => 10.0,
    };
    let step = nice * magnitude;
    let steps = (max / step - 1e-9).ceil().max(1.0) as usize;
    // Multiples of the step, not a running sum: no 0.30000000000000004.
    let ticks = (0..=steps).map(|i| i as f64 * step).collect();
    Scale { top: steps as f64 * step, step, ticks }
}

/// A tick's label: whole numbers with thousands separators, others with at most two decimals.
pub fn tick_label(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        let digits = format!("{:.0}", value.round().abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if value < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Escapes text for SVG (and HTML) content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// How a series' points are marked: a shape as well as a colour, so that the lines are told
/// apart without colour vision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// One line of a line chart: a value (or nothing) per x label.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// A colour of the Okabe–Ito palette (distinct under the common colour-vision deficiencies).
    pub colour: &'static str,
    pub marker: Marker,
    /// Dashed (a second measure of the same group, e.g. p90 beside the median).
    pub dashed: bool,
    pub values: Vec<Option<f64>>,
}

/// A legend entry: a colour and marker, or a line style.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub name: String,
    pub colour: &'static str,
    pub marker: Option<Marker>,
    pub dashed: bool,
}

/// What a line chart shows. `id` is unique on the page (it names the title and description).
pub struct LineChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub x_labels: &'a [String],
    pub y_label: &'a str,
    pub series: &'a [Series],
    pub legend: &'a [LegendEntry],
}

const WIDTH: f64 = 640.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 16.0;
const DASH: &str = "6 4";
const INK: &str = "#1d1f24";
const GRID: &str = "#dde1e7";

fn open_svg(out: &mut String, id: &str, title: &str, description: &str, height: f64) {
    let (id, title, description) = (escape(id), escape(title), escape(description));
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" font-size=\"12\" fill=\"{INK}\">\
         <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{description}</desc>"
    );
}

fn marker(out: &mut String, shape: Marker, x: f64, y: f64, colour: &str) {
    let _ = match shape {
        Marker::Circle => write!(out, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"/>"),
        Marker::Square => {
            write!(out, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>", x - 3.5, y - 3.5)
        }
        Marker::Triangle => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\" fill=\"{colour}\"/>",
            y - 4.5,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        Marker::Diamond => write!(
            out,
            "<path d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\" fill=\"{colour}\"/>",
            y - 4.5,
            x + 4.5,
            y + 4.5,
            x - 4.5
        ),
    };
}

/// The legend in rows under the plot, from `y`; returns the height it took.
fn legend(out: &mut String, entries: &[LegendEntry], y: f64) -> f64 {
    let (mut x, mut row) = (LEFT, 0.0);
    for entry in entries {
        let width = 44.0 + 7.0 * entry.name.chars().count() as f64;
        if x + width > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            row += 20.0;
        }
        let line_y = y + row;
        let dash = if entry.dashed { format!(" stroke-dasharray=\"{DASH}\"") } else { String::new() };
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{line_y:.1}\" x2=\"{:.1}\" y2=\"{line_y:.1}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
            x + 28.0,
            entry.colour
        );
        if let Some(shape) = entry.marker {
            marker(out, shape, x + 14.0, line_y, entry.colour);
        }
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", x + 34.0, line_y + 4.0, escape(&entry.name));
        x += width;
    }
    row + 20.0
}

/// A line chart of `chart.series` over `chart.x_labels`, the y axis from 0 with round ticks.
pub fn line_chart(chart: &LineChart) -> String {
    let plot_height = 200.0;
    let n = chart.x_labels.len();
    let max = chart.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |m, v| m.max(*v));
    let scale = nice_scale(max, 5);
    let plot_width = WIDTH - LEFT - RIGHT;
    let x_at = |i: usize| if n <= 1 { LEFT + plot_width / 2.0 } else { LEFT + i as f64 * plot_width / (n - 1) as f64 };
    let y_at = |v: f64| TOP + plot_height - (v.max(0.0) / scale.top) * plot_height;
    let rows = legend(&mut String::new(), chart.legend, 0.0);
    let height = TOP + plot_height + 56.0 + rows;

    let mut out = String::new();
    open_svg(&mut out, chart.id, chart.title, chart.description, height);
    // The grid and the y axis's ticks.
    for tick in &scale.ticks {
        let y = y_at(*tick);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick_label(*tick)
        );
    }
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        TOP + plot_height / 2.0,
        TOP + plot_height / 2.0,
        escape(chart.y_label)
    );
    // The x axis: at most about eight labels, evenly spaced.
    let every = n.div_ceil(8).max(1);
    let base = TOP + plot_height;
    let _ =
        write!(out, "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\" stroke=\"{INK}\"/>", WIDTH - RIGHT);
    for (i, label) in chart.x_labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x_at(i),
            base + 18.0,
            escape(label)
        );
    }
    // The lines (broken where a week has no value), then the markers on top.
    for series in chart.series {
        let mut path = String::new();
        let mut pen_down = false;
        for (i, value) in series.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let _ = write!(path, "{}{:.1} {:.1}", if pen_down { "L" } else { "M" }, x_at(i), y_at(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let dash = if series.dashed { format!(" stroke-dasharray=\"{DASH}\"") } else { String::new() };
            let _ = write!(
                out,
                "<path class=\"series\" d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}><title>{}</title></path>",
                series.colour,
                escape(&series.name)
            );
        }
        for (i, value) in series.values.iter().enumerate() {
            if let Some(v) = value {
                marker(&mut out, series.marker, x_at(i), y_at(*v), series.colour);
            }
        }
    }
    legend(&mut out, chart.legend, base + 44.0);
    out.push_str("</svg>");
    out
}

/// A horizontal bar chart: one bar per `(label, value)`, its value written at its end.
pub fn bar_chart(id: &str, title: &str, description: &str, x_label: &str, bars: &[(String, f64)]) -> String {
    let (row, label_width) = (24.0, 150.0);
    let left = label_width + 8.0;
    let plot_width = WIDTH - left - RIGHT - 48.0;
    let max = bars.iter().fold(0.0_f64, |m, (_, v)| m.max(*v));
    let scale = nice_scale(max, 4);
    let plot_height = row * bars.len().max(1) as f64;
    let height = TOP + plot_height + 44.0;
    let x_at = |v: f64| left + (v.max(0.0) / scale.top) * plot_width;

    let mut out = String::new();
    open_svg(&mut out, id, title, description, height);
    let base = TOP + plot_height;
    for tick in &scale.ticks {
        let x = x_at(*tick);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{base:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            base + 16.0,
            tick_label(*tick)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        left + plot_width / 2.0,
        base + 36.0,
        escape(x_label)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = TOP + i as f64 * row;
        let shown: String =
            if label.chars().count() > 22 { label.chars().take(21).chain(['…']).collect() } else { label.clone() };
        let _ = write!(
            out,
            "<text x=\"{label_width}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#0072B2\"><title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + row / 2.0 + 4.0,
            escape(&shown),
            y + 4.0,
            x_at(*value) - left,
            row - 8.0,
            escape(label),
            tick_label(*value),
            x_at(*value) + 4.0,
            y + row / 2.0 + 4.0,
            tick_label(*value)
        );
    }
    let _ = write!(out, "<line x1=\"{left}\" y1=\"{TOP}\" x2=\"{left}\" y2=\"{base:.1}\" stroke=\"{INK}\"/>");
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_steps_from_zero_to_just_above_the_maximum() {
        assert_eq!(
            nice_scale(47.0, 5),
            Scale { top: 50.0, step: 10.0, ticks: vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0] }
        );
        assert_eq!(nice_scale(7.3, 5).ticks, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_scale(100.0, 5).top, 100.0, "a maximum on a tick is the top");
        let small = nice_scale(0.3, 5);
        assert!((small.step - 0.1).abs() < 1e-12 && (small.top - 0.3).abs() < 1e-12, "{small:?}");
        assert_eq!(small.ticks.iter().map(|t| tick_label(*t)).collect::<Vec<_>>(), ["0", "0.1", "0.2", "0.3"]);
    }

    #[test]
    fn all_zeros_and_nonsense_give_the_scale_zero_to_one() {
        for max in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let scale = nice_scale(max, 5);
            assert_eq!((scale.ticks[0], scale.top), (0.0, 1.0), "{max}");
        }
    }

    #[test]
    fn huge_values_keep_few_ticks_and_readable_labels() {
        let scale = nice_scale(3.4e12, 5);
        assert_eq!((scale.step, scale.top, scale.ticks.len()), (1e12, 4e12, 5));
        assert_eq!(tick_label(scale.top), "4,000,000,000,000");
        assert_eq!(tick_label(1234.5), "1234.5");
        assert_eq!(tick_label(-1500.0), "-1,500");
    }

    fn series(values: Vec<Option<f64>>) -> Series {
        Series { name: "P0 median".into(), colour: "#D55E00", marker: Marker::Circle, dashed: false, values }
    }

    fn chart(labels: &[String], series: &[Series]) -> String {
        line_chart(&LineChart {
            id: "c",
            title: "Time to <ack>",
            description: "d",
            x_labels: labels,
            y_label: "minutes",
            series,
            legend: &[],
        })
    }

    #[test]
    fn a_single_point_is_drawn_centred_with_its_marker() {
        let svg = chart(&["Nov 9".into()], &[series(vec![Some(3.0)])]);
        assert!(svg.contains("<circle cx=\"342.0\""), "{svg}");
        assert!(svg.contains("role=\"img\"") && svg.contains("<title id=\"c-title\">Time to &lt;ack&gt;</title>"));
        assert!(!svg.contains("style="), "no inline styles under the CSP");
    }

    #[test]
    fn a_week_without_data_breaks_the_line() {
        let labels: Vec<String> = (0..3).map(|i| format!("w{i}")).collect();
        let svg = chart(&labels, &[series(vec![Some(1.0), None, Some(2.0)])]);
        let path = svg.split("class=\"series\" d=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert!(!path.contains('L'), "{path}");
    }

    #[test]
    fn bars_escape_their_labels_and_say_their_values() {
        let svg = bar_chart("b", "Incidents", "d", "incidents", &[("<api>".into(), 3.0), ("db".into(), 0.0)]);
        assert!(svg.contains("&lt;api&gt;") && !svg.contains("<api>"));
        assert!(svg.contains(">3</text>") && svg.contains(">0</text>"));
        let empty = bar_chart("b", "Incidents", "d", "incidents", &[]);
        assert!(empty.ends_with("</svg>"));
    }
}
