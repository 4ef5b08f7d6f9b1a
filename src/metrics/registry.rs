//! A small Prometheus text-format (0.0.4) registry: counters, gauges and histograms with
//! labels, behind one mutex. Hand-written rather than a crate because warroom needs a dozen
//! families, and the build is already heavy.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// The Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A metric family: its name, help text, type and label names (fixed at compile time, so
/// the exposition stays the one documented in the README).
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// Histogram upper bounds, ascending; `+Inf` is implied.
    pub buckets: &'static [f64],
}

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Histogram { counts: Vec<u64>, sum: f64, count: u64 },
}

/// Series by (family name, label values).
#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<BTreeMap<(&'static str, Vec<String>), Series>>,
}

impl Registry {
    /// Adds `by` to a counter (or gauge).
    pub fn add(&self, family: &Family, labels: &[&str], by: f64) {
        self.with(family, labels, |series| {
            if let Series::Value(v) = series {
                *v += by;
            }
        });
    }

    /// Sets a gauge.
    pub fn set(&self, family: &Family, labels: &[&str], value: f64) {
        self.with(family, labels, |series| *series = Series::Value(value));
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, family: &Family, labels: &[&str], value: f64) {
        self.with(family, labels, |series| {
            if let Series::Histogram { counts, sum, count } = series {
                if let Some(i) = family.buckets.iter().position(|&le| value <= le) {
                    counts[i] += 1;
                }
                *sum += value;
                *count += 1;
            }
        });
    }

    fn with(&self, family: &Family, labels: &[&str], f: impl FnOnce(&mut Series)) {
        debug_assert_eq!(labels.len(), family.labels.len(), "{}: wrong number of labels", family.name);
        let key = (family.name, labels.iter().map(|l| l.to_string()).collect());
        // A panic elsewhere while the lock was held leaves the numbers usable: keep counting.
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let series = all.entry(key).or_insert_with(|| match family.kind {
            Kind::Histogram => Series::Histogram { counts: vec![0; family.buckets.len()], sum: 0.0, count: 0 },
            _ => Series::Value(0.0),
        });
        f(series);
    }

    /// Appends `families` (HELP and TYPE even when a family has no series yet) in text format.
    pub fn render(&self, families: &[&Family], out: &mut String) {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for family in families {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help.replace('\\', r"\\").replace('\n', r"\n"));
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
            let start = (family.name, Vec::new());
            for ((_, values), series) in all.range(start..).take_while(|((name, _), _)| *name == family.name) {
                let labels = label_set(family.labels, values);
                match series {
                    Series::Value(v) => {
                        let _ = writeln!(out, "{}{} {}", family.name, braced(&labels), number(*v));
                    }
                    Series::Histogram { counts, sum, count } => {
                        let mut cumulative = 0;
                        let bounds = family.buckets.iter().map(|b| number(*b)).chain(["+Inf".to_string()]);
                        for (i, le) in bounds.enumerate() {
                            cumulative += counts.get(i).copied().unwrap_or(0);
                            let n = if i == family.buckets.len() { *count } else { cumulative };
                            let with_le = [labels.as_slice(), &[format!("le=\"{le}\"")]].concat();
                            let _ = writeln!(out, "{}_bucket{} {n}", family.name, braced(&with_le));
                        }
                        let _ = writeln!(out, "{}_sum{} {}", family.name, braced(&labels), number(*sum));
                        let _ = writeln!(out, "{}_count{} {count}", family.name, braced(&labels));
                    }
                }
            }
        }
    }
}

fn label_set(names: &[&str], values: &[String]) -> Vec<String> {
    names.iter().zip(values).map(|(n, v)| format!("{n}=\"{}\"", escape(v))).collect()
}

fn braced(labels: &[String]) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.join(","))
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
pub fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// A sample value: Prometheus spells infinities `+Inf`/`-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "+Inf" } else { "-Inf" }).into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: Family = Family {
        name: "t_requests_total",
        help: "Requests.\nTwo lines.",
        kind: Kind::Counter,
        labels: &["path"],
        buckets: &[],
    };
    const LATENCY: Family = Family {
        name: "t_latency_seconds",
        help: "Latency.",
        kind: Kind::Histogram,
        labels: &[],
        buckets: &[1.0, 5.0],
    };

    #[test]
    fn label_values_and_help_are_escaped() {
        let registry = Registry::default();
        registry.add(&REQUESTS, &["a\"b\\c\nd"], 1.0);
        registry.add(&REQUESTS, &["a\"b\\c\nd"], 2.0);
        let mut out = String::new();
        registry.render(&[&REQUESTS], &mut out);
        assert_eq!(
            out,
            "# HELP t_requests_total Requests.\\nTwo lines.\n# TYPE t_requests_total counter\n\
             t_requests_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let registry = Registry::default();
        for v in [0.5, 3.0, 4.0, 60.0] {
            registry.observe(&LATENCY, &[], v);
        }
        let mut out = String::new();
        registry.render(&[&LATENCY], &mut out);
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "t_latency_seconds_bucket{le=\"1\"} 1",
                "t_latency_seconds_bucket{le=\"5\"} 3",
                "t_latency_seconds_bucket{le=\"+Inf\"} 4",
                "t_latency_seconds_sum 67.5",
                "t_latency_seconds_count 4",
            ]
        );
    }

    #[test]
    fn a_family_without_series_still_says_what_it_is() {
        let mut out = String::new();
        Registry::default().render(&[&LATENCY], &mut out);
        assert_eq!(out, "# HELP t_latency_seconds Latency.\n# TYPE t_latency_seconds histogram\n");
    }
}
