//! The CSV report: the timeline, one event a row, RFC 4180 (CRLF line ends; a field with a
//! comma, quote or line break is quoted, quotes doubled), then the runbook checklist, one row per
//! step (kind `checklist_step`: who ticked it and when, or empty and "open"). Descriptions and
//! details are redacted and free of control characters (`crate::sanitize`).

use tokio::io::AsyncWrite;

use super::{minutes_since, put, Events, ExportError, Source};
use crate::sanitize::{redact_json, redacted, strip_controls};
use crate::timeline::describe;

const HEADER: &str = "time_utc,minutes_since_declared,actor,kind,description,details\r\n";

pub async fn write<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    put(out, HEADER).await?;
    let mut events = Events::of(source, &[]);
    let mut row = String::new();
    while let Some(mut event) = events.next().await? {
        row.clear();
        let description = describe::plain(&describe::what(&event));
        let description = redacted(&strip_controls(&description)).into_owned();
        redact_json(&mut event.payload);
        let fields = [
            event.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            minutes_since(source.incident, event.at).to_string(),
            event.actor.clone(),
            event.kind.clone(),
            description,
            event.payload.to_string(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                row.push(',');
            }
            push_field(&mut row, field);
        }
        row.push_str("\r\n");
        put(out, &row).await?;
    }
    let Some(report) = super::checklist::read(source).await? else { return Ok(()) };
    for step in &report.steps {
        row.clear();
        let (by, at) = step.state.by_at().unzip();
        let description = format!(
            "runbook step {} ({}): {} — {}",
            step.number,
            step.section,
            step.note.as_deref().map_or_else(|| step.command.clone(), |n| format!("{n}: {}", step.command)),
            step.state.describe()
        );
        let mut details = super::checklist::Report::json(step);
        redact_json(&mut details);
        let fields = [
            at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default(),
            at.map(|t| minutes_since(source.incident, t).to_string()).unwrap_or_default(),
            by.unwrap_or_default().to_string(),
            "checklist_step".to_string(),
            redacted(&strip_controls(&description)).into_owned(),
            details.to_string(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                row.push(',');
            }
            push_field(&mut row, field);
        }
        row.push_str("\r\n");
        put(out, &row).await?;
    }
    Ok(())
}

/// One field, quoted when it must be.
fn push_field(row: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        row.push('"');
        row.push_str(&field.replace('"', "\"\""));
        row.push('"');
    } else {
        row.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_with_commas_quotes_and_line_breaks_are_quoted() {
        let mut row = String::new();
        super::push_field(&mut row, "plain");
        row.push(',');
        super::push_field(&mut row, "a, \"b\"\nc");
        assert_eq!(row, "plain,\"a, \"\"b\"\"\nc\"");
    }
}
