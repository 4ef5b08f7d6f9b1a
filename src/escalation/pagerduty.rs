//! PagerDuty Events API v2: a tier that pages triggers an event (`dedup_key` per incident and
//! tier, so a retry or a second replica never pages twice), resolved when the incident resolves.

use serde_json::{json, Value};

use crate::app::AppState;
use crate::incident::store::Incident;
use crate::incident::Severity;
use crate::jobs::{kind, queue, JobError};
use crate::secret::Secret;
use crate::timeline::{self, EventKind, WARROOM};

/// An Events API v2 client with one routing (integration) key.
#[derive(Debug, Clone)]
pub struct PagerDuty {
    http: reqwest::Client,
    url: String,
    routing_key: Secret,
    /// Counts events sent by action and outcome (a private registry until [`Self::with_metrics`]).
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// Why an event was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Transport(String),
}

impl PageError {
    /// Throttling (429), server errors and network failures are retried; a 400 never succeeds.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(_) => true,
        }
    }

    /// The failure's class as a metric label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Status { status, .. } => crate::metrics::status_outcome(*status),
            Self::Transport(_) => "transport",
        }
    }
}

impl PagerDuty {
    pub fn new(http: reqwest::Client, url: &str, routing_key: Secret) -> Self {
        Self { http, url: url.into(), routing_key, metrics: Default::default() }
    }

    /// Counts this client's events in `metrics`.
    pub fn with_metrics(self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// Sends one event (`trigger` with a payload, or `resolve`).
    pub async fn send(
        &self,
        action: &str,
        dedup_key: &str,
        payload: Option<Value>,
        links: Value,
    ) -> Result<(), PageError> {
        let result = self.send_uncounted(action, dedup_key, payload, links).await;
        let outcome = result.as_ref().map_or_else(PageError::outcome, |()| "ok");
        self.metrics.pagerduty_request(if action == "resolve" { "resolve" } else { "trigger" }, outcome);
        result
    }

    async fn send_uncounted(
        &self,
        action: &str,
        dedup_key: &str,
        payload: Option<Value>,
        links: Value,
    ) -> Result<(), PageError> {
        let mut event =
            json!({ "routing_key": self.routing_key.expose(), "event_action": action, "dedup_key": dedup_key });
        if let Some(payload) = payload {
            event["payload"] = payload;
            event["links"] = links;
            event["client"] = json!("warroom");
        }
        let response = self.http.post(&self.url).json(&event).send().await.map_err(|e| {
            PageError::Transport(if e.is_timeout() { "no answer in time".into() } else { e.to_string() })
        })?;
        let status = response.status().as_u16();
        if status == 202 || (200..300).contains(&status) {
            return Ok(());
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let mut message = body["message"].as_str().unwrap_or("no message").to_string();
        if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
            let errors: Vec<&str> = errors.iter().filter_map(Value::as_str).collect();
            message = format!("{message}: {}", errors.join("; "));
        }
        Err(PageError::Status { status, message })
    }
}

/// The event's `dedup_key`: one PagerDuty alert per incident and tier.
pub fn dedup_key(incident: &Incident, tier: i64) -> String {
    format!("warroom-{}-tier-{tier}", incident.id)
}

/// PagerDuty's severities.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "critical",
        Severity::P1 => "error",
        Severity::P2 => "warning",
        Severity::P3 => "info",
    }
}

/// [`kind::ESCALATION_PAGE`]: `{ "tier", "action": "trigger" | "resolve" }`.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let tier = job.payload["tier"].as_i64().unwrap_or(0);
    let action = job.payload["action"].as_str().unwrap_or("trigger");
    let now = state.clock.now();
    let Some(pagerduty) = &state.pagerduty else {
        if action == "trigger" {
            let payload = json!({ "tier": tier, "skipped": "PAGERDUTY_ROUTING_KEY is not set" });
            timeline::append(&state.db, incident.id, now, WARROOM, EventKind::Paged, payload).await?;
        }
        return Ok(());
    };
    if action == "trigger" && incident.is_resolved() {
        return Ok(()); // Resolved before the page went out: nobody needs waking.
    }
    if action == "resolve" {
        // Never resolve before the trigger went out (it would be opened after, and stay open).
        let pending: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM jobs WHERE incident_id = $1 AND kind = $2 AND slot = $3
               AND state IN ('queued', 'running')"#,
            incident.id,
            kind::ESCALATION_PAGE,
            format!("{tier}:trigger"),
        )
        .fetch_one(&state.db)
        .await?;
        if pending > 0 {
            return Err(JobError::Defer(now + chrono::Duration::seconds(5)));
        }
    }
    let key = dedup_key(&incident, tier);
    let channel_link = incident.channel_id.as_deref().map(|c| format!("https://slack.com/app_redirect?channel={c}"));
    let payload = (action == "trigger").then(|| {
        json!({
            "summary": format!("{} {} {} down: {} (escalation tier {tier})", incident.number(), incident.severity(),
                               incident.service, incident.title).chars().take(1024).collect::<String>(),
            "source": format!("warroom/{}", incident.service),
            "severity": severity(incident.severity()),
            "component": incident.service,
            "custom_details": { "incident": incident.number().to_string(), "title": incident.title,
                                "commander": incident.commander, "status": incident.status, "tier": tier,
                                "slack_channel": channel_link },
        })
    });
    let links = match &channel_link {
        Some(href) => json!([{ "href": href, "text": format!("{} in Slack", incident.number()) }]),
        None => json!([]),
    };
    match pagerduty.send(action, &key, payload, links).await {
        Ok(()) => {
            let payload = json!({ "tier": tier, "action": action, "dedup_key": key });
            timeline::append(&state.db, incident.id, now, WARROOM, EventKind::Paged, payload).await?;
            Ok(())
        }
        Err(e) if e.is_retryable() => Err(JobError::Retry { error: format!("PagerDuty: {e}"), after: None }),
        Err(e) => {
            let mut tx = state.db.begin().await?;
            let payload = json!({ "tier": tier, "action": action, "error": e.to_string() });
            timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::PageFailed, payload).await?;
            let text = format!(
                ":x: PagerDuty refused the {action} for {} tier {tier} ({}). Page the on-call by hand.",
                incident.number(),
                crate::templates::escape_mrkdwn(&e.to_string())
            );
            crate::incident::lifecycle::post(&mut tx, &incident, &text, false, now).await?;
            tx.commit().await?;
            Err(JobError::Reported(format!("PagerDuty: {e}")))
        }
    }
}
