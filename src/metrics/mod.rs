//! warroom's own metrics, served at `GET /metrics` in Prometheus text format.
//!
//! Counters and histograms count what happened in this process (Prometheus sums the
//! replicas); the gauges that describe shared state (open incidents, the job queue) are read
//! from Postgres at scrape time (see [`scrape`]), so every replica reports the same truth.
//! Label values come from fixed sets (severities, job kinds, Slack methods, route templates),
//! never from user input, to keep the series count bounded.

pub mod registry;
pub mod scrape;

use registry::{Family, Kind, Registry};

use crate::incident::store::Incident;

/// Incident durations: from 30 seconds to 8 hours.
const INCIDENT_BUCKETS: &[f64] = &[30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0];
/// HTTP latencies: Slack wants an answer within 3 s.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub const DECLARATIONS: Family = Family {
    name: "warroom_declarations_total",
    help: "Incidents declared, by severity and by where the declaration came from.",
    kind: Kind::Counter,
    labels: &["severity", "via"],
    buckets: &[],
};
pub const TIME_TO_ACKNOWLEDGE: Family = Family {
    name: "warroom_time_to_acknowledge_seconds",
    help: "From declaration to the first acknowledgement, observed when it is acknowledged.",
    kind: Kind::Histogram,
    labels: &["severity"],
    buckets: INCIDENT_BUCKETS,
};
pub const TIME_TO_RESOLVE: Family = Family {
    name: "warroom_time_to_resolve_seconds",
    help: "From declaration to resolution, observed when it is resolved.",
    kind: Kind::Histogram,
    labels: &["severity"],
    buckets: INCIDENT_BUCKETS,
};
pub const JOBS: Family = Family {
    name: "warroom_jobs_total",
    help: "Job runs by kind and outcome (done, retried, deferred, failed).",
    kind: Kind::Counter,
    labels: &["kind", "outcome"],
    buckets: &[],
};
pub const SLACK_CALLS: Family = Family {
    name: "warroom_slack_api_calls_total",
    help: "Slack Web API calls by method and outcome (ok, error, ratelimited, paused, http_4xx, http_5xx, transport, unanswered, invalid).",
    kind: Kind::Counter,
    labels: &["method", "outcome"],
    buckets: &[],
};
pub const STATUSPAGE_REQUESTS: Family = Family {
    name: "warroom_statuspage_requests_total",
    help: "Status page API requests by operation and outcome (ok, ratelimited, http_4xx, http_5xx, transport, decode).",
    kind: Kind::Counter,
    labels: &["operation", "outcome"],
    buckets: &[],
};
pub const PAGERDUTY_REQUESTS: Family = Family {
    name: "warroom_pagerduty_requests_total",
    help: "PagerDuty Events API requests by action (trigger, resolve) and outcome.",
    kind: Kind::Counter,
    labels: &["action", "outcome"],
    buckets: &[],
};
pub const DIAGNOSTICS: Family = Family {
    name: "warroom_diagnostic_runs_total",
    help: "Diagnostics by outcome (success, failure, timed_out, killed, refused, outcome_unknown).",
    kind: Kind::Counter,
    labels: &["outcome"],
    buckets: &[],
};
pub const APPROVALS: Family = Family {
    name: "warroom_approvals_total",
    help: "Approval requests decided, by outcome (approved, denied, expired).",
    kind: Kind::Counter,
    labels: &["outcome"],
    buckets: &[],
};
pub const HTTP_REQUESTS: Family = Family {
    name: "warroom_http_request_duration_seconds",
    help: "HTTP request latency by method, route template and status class.",
    kind: Kind::Histogram,
    labels: &["method", "route", "status"],
    buckets: HTTP_BUCKETS,
};

pub const SOCKET_ENVELOPES: Family = Family {
    name: "warroom_slack_socket_envelopes_total",
    help: "Socket Mode envelopes by type and outcome (acknowledged, failed: left for Slack to repeat).",
    kind: Kind::Counter,
    labels: &["type", "outcome"],
    buckets: &[],
};
pub const SOCKET_CONNECTIONS: Family = Family {
    name: "warroom_slack_socket_connections",
    help: "Socket Mode connections this process holds open.",
    kind: Kind::Gauge,
    labels: &[],
    buckets: &[],
};

/// The families this process counts, in exposition order.
const PROCESS_FAMILIES: &[&Family] = &[
    &DECLARATIONS,
    &TIME_TO_ACKNOWLEDGE,
    &TIME_TO_RESOLVE,
    &JOBS,
    &SLACK_CALLS,
    &STATUSPAGE_REQUESTS,
    &PAGERDUTY_REQUESTS,
    &DIAGNOSTICS,
    &APPROVALS,
    &HTTP_REQUESTS,
    &SOCKET_ENVELOPES,
    &SOCKET_CONNECTIONS,
];

/// The process's counters and histograms; one per [`crate::app::AppState`].
#[derive(Debug, Default)]
pub struct Metrics {
    registry: Registry,
    /// Woken whenever a Socket Mode envelope is counted: an envelope warroom fails leaves no
    /// other trace to wait for (nothing is committed, nothing is sent back).
    envelope_counted: tokio::sync::Notify,
}

impl Metrics {
    /// A new incident (not one found again by its idempotency key).
    pub fn declared(&self, severity: &str, via: &str) {
        self.registry.add(&DECLARATIONS, &[severity, via], 1.0);
    }

    /// The first acknowledgement of `incident` (as returned by the acknowledging update).
    pub fn acknowledged(&self, incident: &Incident) {
        if let Some(at) = incident.acknowledged_at {
            let secs = seconds(at - incident.declared_at);
            self.registry.observe(&TIME_TO_ACKNOWLEDGE, &[incident.severity().as_str()], secs);
        }
    }

    /// The resolution of `incident` (as returned by the resolving update).
    pub fn resolved(&self, incident: &Incident) {
        if let Some(at) = incident.resolved_at {
            let secs = seconds(at - incident.declared_at);
            self.registry.observe(&TIME_TO_RESOLVE, &[incident.severity().as_str()], secs);
        }
    }

    pub fn job(&self, kind: &str, outcome: &str) {
        self.registry.add(&JOBS, &[kind, outcome], 1.0);
    }

    pub fn slack_call(&self, method: &str, outcome: &str) {
        self.registry.add(&SLACK_CALLS, &[method, outcome], 1.0);
    }

    pub fn statuspage_request(&self, operation: &str, outcome: &str) {
        self.registry.add(&STATUSPAGE_REQUESTS, &[operation, outcome], 1.0);
    }

    pub fn pagerduty_request(&self, action: &str, outcome: &str) {
        self.registry.add(&PAGERDUTY_REQUESTS, &[action, outcome], 1.0);
    }

    pub fn diagnostic(&self, outcome: &str) {
        self.registry.add(&DIAGNOSTICS, &[outcome], 1.0);
    }

    pub fn approval(&self, outcome: &str) {
        self.registry.add(&APPROVALS, &[outcome], 1.0);
    }

    /// One Socket Mode envelope handled.
    pub fn socket_envelope(&self, kind: &str, outcome: &str) {
        self.registry.add(&SOCKET_ENVELOPES, &[kind, outcome], 1.0);
        self.envelope_counted.notify_waiters();
    }

    /// Resolves at the next Socket Mode envelope counted (create it before looking, so that one
    /// counted in between is not missed).
    pub fn envelope_counted(&self) -> tokio::sync::futures::Notified<'_> {
        self.envelope_counted.notified()
    }

    /// A Socket Mode connection opened (`1`) or ended (`-1`).
    pub fn socket_connection(&self, change: f64) {
        self.registry.add(&SOCKET_CONNECTIONS, &[], change);
    }

    /// One answered HTTP request; `route` is the matched route template, never the raw path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: std::time::Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.registry.observe(&HTTP_REQUESTS, &[method, route, class], elapsed.as_secs_f64());
    }

    /// The process's families in text format.
    pub fn render(&self, out: &mut String) {
        self.registry.render(PROCESS_FAMILIES, out);
    }
}

/// An outcome label for an HTTP status that was not a success.
pub fn status_outcome(status: u16) -> &'static str {
    match status {
        429 => "ratelimited",
        500.. => "http_5xx",
        _ => "http_4xx",
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}
