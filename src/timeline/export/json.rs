//! The JSON report: the complete machine-readable record, versioned (`"schema":
//! "warroom.incident-report/v1"`, described by `specs/incident-report.v1.schema.json`). The
//! events are written one at a time inside the `timeline` array. Every string is redacted
//! (`crate::sanitize`) on its way out: a secret in a note, an update or a diagnostic's output
//! never leaves in the report.

use serde_json::json;
use tokio::io::AsyncWrite;

use super::{durations, minutes_since, put, Events, ExportError, Source, JSON_SCHEMA};
use crate::sanitize::{redact_json, redacted};
use crate::timeline::describe;

pub async fn write<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let i = source.incident;
    let [tta, ttm, ttr] = durations(i);
    let roles = crate::incident::roles::current(source.db, &source.config.roles, i, None).await?;
    let roles: Vec<serde_json::Value> =
        roles.iter().map(|r| json!({ "role": r.key, "name": r.name, "user": r.user })).collect();
    let mut head = json!({
        "schema": JSON_SCHEMA,
        "incident": {
            "id": i.id, "number": i.number().to_string(), "title": i.title, "service": i.service,
            "severity": i.severity, "status": i.status, "in_progress": !i.is_resolved(),
            "commander": i.commander, "declared_by": i.declared_by, "impact": i.impact,
            "root_cause": i.root_cause, "resolution": i.resolution, "resolved_by": i.resolved_by,
            "channel": { "id": i.channel_id, "name": i.channel_name }, "statuspage": source.statuspage,
            "detected_at": i.detected_at, "declared_at": i.declared_at, "acknowledged_at": i.acknowledged_at,
            "acknowledged_by": i.acknowledged_by, "mitigated_at": i.mitigated_at, "resolved_at": i.resolved_at,
            "roles": roles,
        },
        "metrics": {
            "time_to_acknowledge_secs": tta, "time_to_mitigate_secs": ttm, "time_to_resolve_secs": ttr,
        },
    });
    redact_json(&mut head);
    // The head object, reopened to append the timeline array.
    let head = head.to_string();
    put(out, &head[..head.len() - 1]).await?;
    put(out, ",\"timeline\":[").await?;
    let mut events = Events::of(source, &[]);
    let mut first = true;
    while let Some(mut event) = events.next().await? {
        // What people and programs wrote is in the description and the payload.
        let description = redacted(&describe::plain(&describe::what(&event))).into_owned();
        redact_json(&mut event.payload);
        let row = json!({
            "id": event.id, "at": event.at, "minutes_since_declared": minutes_since(i, event.at),
            "actor": event.actor, "kind": event.kind, "description": description, "payload": event.payload,
        });
        if !first {
            put(out, ",").await?;
        }
        first = false;
        put(out, &row.to_string()).await?;
    }
    // The runbook checklist, step by step (null when the service has no runbook).
    let checklist = super::checklist::read(source).await?.map(|report| {
        json!({ "title": report.title, "source": report.source,
                "steps": report.steps.iter().map(super::checklist::Report::json).collect::<Vec<_>>() })
    });
    let mut checklist = json!(checklist);
    redact_json(&mut checklist);
    // The follow-ups with their tracker issues (an item is done when its issue is closed).
    let followups: Vec<serde_json::Value> = crate::timeline::followups::list(source.db, i.id)
        .await?
        .iter()
        .map(|f| {
            let issue = f.issue.as_ref().map(|t| {
                json!({ "tracker": t.tracker, "key": t.key, "url": t.url, "state": t.state, "closed": t.closed,
                        "refused": t.refused, "synced_at": t.synced_at })
            });
            json!({ "id": f.id, "added_at": f.added_at, "text": f.text, "owner": f.owner, "horizon": f.horizon,
                    "due_at": f.due_at, "done": f.done(), "issue": issue })
        })
        .collect();
    let mut followups = json!(followups);
    redact_json(&mut followups);
    // Each participant's latest answer (`[feedback] ask`).
    let feedback: Vec<serde_json::Value> = crate::feedback::latest(source.db, i.id)
        .await?
        .iter()
        .map(|a| json!({ "user": a.user, "at": a.at, "rating": a.rating, "comment": a.comment }))
        .collect();
    let mut feedback = json!(feedback);
    redact_json(&mut feedback);
    put(out, &format!("],\"checklist\":{checklist},\"followups\":{followups},\"feedback\":{feedback}}}\n")).await
}
