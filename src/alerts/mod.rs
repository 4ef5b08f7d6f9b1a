//! Alertmanager and Grafana webhooks: a firing alert group that matches a rule of `[alerts]`
//! declares an incident, once per group; the group's later notifications add what is new to
//! the timeline, and its resolution asks the channel whether to resolve (or resolves, with
//! `auto_resolve`).

pub mod ingest;
pub mod payload;
pub mod prompt;
pub mod rules;
pub mod store;
mod webhook;

pub use payload::Source;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use crate::app::AppState;
use crate::templates::escape_mrkdwn;

/// `POST /webhooks/alertmanager`, `POST /webhooks/grafana`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/alertmanager", post(webhook::alertmanager))
        .route("/webhooks/grafana", post(webhook::grafana))
        .layer(DefaultBodyLimit::max(crate::slack::MAX_BODY))
}

/// How many labels besides `alertname` a one-line description shows.
const LABELS_SHOWN: usize = 4;

/// One alert in one line of mrkdwn, from an event payload's `labels` and `annotations`:
/// `` `ServiceDown` job=api, instance=api:8000 — api has been down for 1m ``.
pub fn describe_alert(payload: &Value) -> String {
    let labels = payload["labels"].as_object();
    let name = labels.and_then(|l| l.get("alertname")).and_then(Value::as_str).unwrap_or("alert");
    let others: Vec<String> = labels
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "alertname")
        .take(LABELS_SHOWN)
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let mut line = format!("`{}`", escape_mrkdwn(&name.replace('`', "'")));
    if !others.is_empty() {
        line.push_str(&format!(" {}", escape_mrkdwn(&others.join(", "))));
    }
    if let Some(summary) = payload["annotations"]["summary"].as_str().filter(|s| !s.is_empty()) {
        let summary: String = summary.chars().take(200).collect();
        line.push_str(&format!(" — {}", escape_mrkdwn(&summary)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_alert_reads_as_name_labels_and_summary_with_mentions_defused() {
        let p = json!({ "labels": { "alertname": "ServiceDown", "job": "api" },
                        "annotations": { "summary": "<!channel> api is down" } });
        assert_eq!(describe_alert(&p), "`ServiceDown` job=api — &lt;!channel&gt; api is down");
    }
}
