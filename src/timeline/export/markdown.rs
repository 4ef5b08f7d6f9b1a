//! The Markdown report from `templates/postmortem.md.hbs`. The template gives the fixed parts;
//! the sections that grow with the incident (timeline, diagnostics, approvals, escalations,
//! status page updates, action items) are placeholders streamed from the events.

use serde_json::json;
use tokio::io::AsyncWrite;

use super::{durations, minutes_since, put, Events, ExportError, Source};
use crate::slack::blocks::human_span;
use crate::timeline::{describe, Event};

/// Marks a streamed section in the rendered template: `\u{1}timeline\u{1}`.
const MARK: char = '\u{1}';
const SECTIONS: [&str; 6] =
    ["timeline", "diagnostics", "approvals", "escalations", "statuspage_updates", "action_items"];

pub async fn write<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let i = source.incident;
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "—".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    let span = |secs: Option<i64>| secs.map_or_else(|| "—".to_string(), |s| human_span(chrono::Duration::seconds(s)));
    let [tta, ttm, ttr] = durations(i);
    let severity = i.severity();
    let mut data = json!({
        "number": i.number().to_string(), "title": cell(&i.title), "in_progress": !i.is_resolved(),
        "service": i.service, "severity": severity.as_str(), "severity_label": severity.label(),
        "status": if i.is_resolved() { "resolved".to_string() } else { format!("{} (in progress)", i.status) },
        "commander": format!("@{}", i.commander), "declared_by": format!("@{}", i.declared_by),
        "statuspage": source.statuspage, "channel": i.channel_name, "impact": i.impact,
        "detected": at(i.detected_at), "declared": at(Some(i.declared_at)), "acknowledged": at(i.acknowledged_at),
        "mitigated": at(i.mitigated_at), "resolved": at(i.resolved_at),
        "time_to_acknowledge": span(tta), "time_to_mitigate": span(ttm), "time_to_resolve": span(ttr),
        "root_cause": i.root_cause, "resolution": i.resolution,
    });
    for section in SECTIONS {
        data[section] = json!(format!("{MARK}{section}{MARK}"));
    }
    let rendered = source.templates.render_plain("postmortem.md", &data)?;
    for (n, part) in rendered.split(MARK).enumerate() {
        if n % 2 == 0 {
            // After a section (which ends its own last line), the template's line break is spent.
            put(out, if n > 0 { part.strip_prefix('\n').unwrap_or(part) } else { part }).await?;
        } else {
            section(source, part, out).await?;
        }
    }
    put(out, "\n").await
}

/// Streams one section.
async fn section<W: AsyncWrite + Unpin + Send>(
    source: &Source<'_>,
    name: &str,
    out: &mut W,
) -> Result<(), ExportError> {
    let kinds: &[&str] = match name {
        "timeline" => &[],
        "diagnostics" => &["diagnostic_finished"],
        "approvals" => &[
            "approval_requested",
            "approval_granted",
            "approval_denied",
            "approval_expired",
            "approval_cancelled",
            "change_started",
            "change_outcome_unknown",
        ],
        "escalations" => {
            &["escalated", "escalate_now", "escalation_silence", "escalation_notified", "paged", "page_failed"]
        }
        "statuspage_updates" => &["statuspage_pushed", "statuspage_failed", "statuspage_drift"],
        "action_items" => return action_items(source, out).await,
        _ => return Ok(()),
    };
    let mut events = Events::of(source, kinds);
    let mut written = 0;
    while let Some(event) = events.next().await? {
        let text = match name {
            "timeline" => timeline_row(source, &event),
            "diagnostics" => diagnostic(&event),
            "statuspage_updates" => statuspage_update(&event),
            _ => format!("- {} — {} — {}\n", event.at.format("%H:%M:%S"), who(&event.actor), what(&event)),
        };
        // Blocks (diagnostics, status page texts) are set apart by a blank line.
        if written > 0 && text.starts_with(['<', '*']) {
            put(out, "\n").await?;
        }
        put(out, &text).await?;
        written += 1;
    }
    if written == 0 && name != "timeline" {
        put(out, "None.\n").await?;
    }
    Ok(())
}

fn timeline_row(source: &Source<'_>, event: &Event) -> String {
    format!(
        "| {} | {} | {} | {} |\n",
        event.at.format("%H:%M:%S"),
        minutes_since(source.incident, event.at),
        cell(&who(&event.actor)),
        cell(&what(event))
    )
}

/// A diagnostic with its (already redacted and capped) output, collapsed.
fn diagnostic(event: &Event) -> String {
    let p = &event.payload;
    let stdout = p["stdout"].as_str().unwrap_or_default();
    let stderr = p["stderr"].as_str().unwrap_or_default();
    let output = if stderr.is_empty() { stdout.to_string() } else { format!("{stdout}\n--- stderr ---\n{stderr}") };
    let fence = fence_for(&output);
    format!(
        "<details><summary><code>{}</code> — exit {} at {} UTC{}</summary>\n\n{fence}\n{}\n{fence}\n\n</details>\n",
        html(p["action"].as_str().unwrap_or("?")),
        p["exit_code"],
        event.at.format("%H:%M:%S"),
        if p["timed_out"] == true { " (timed out)" } else { "" },
        output.trim_end()
    )
}

/// A status page update as customers saw it.
fn statuspage_update(event: &Event) -> String {
    let p = &event.payload;
    if event.kind != "statuspage_pushed" {
        return format!("- {} — {}\n", event.at.format("%H:%M:%S"), what(event));
    }
    let body = p["body"].as_str().unwrap_or_default();
    let quoted: String =
        body.lines().map(|l| if l.is_empty() { ">\n".to_string() } else { format!("> {l}\n") }).collect();
    format!(
        "**{} UTC — {}** ({}{})\n\n{}",
        event.at.format("%H:%M"),
        p["status"].as_str().unwrap_or_default(),
        p["action"].as_str().unwrap_or_default(),
        if p["sandbox"] == true { ", sandbox status page" } else { "" },
        if quoted.is_empty() { "> (status only)\n".to_string() } else { quoted }
    )
}

/// Seed 002's Immediate / Short-term / Long-term action items, from `/incident followup`.
async fn action_items<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let mut items: [Vec<String>; 3] = Default::default();
    let mut events = Events::of(source, &["followup_added"]);
    while let Some(event) = events.next().await? {
        let p = &event.payload;
        let slot = match p["horizon"].as_str() {
            Some("immediate") => 0,
            Some("long") => 2,
            _ => 1,
        };
        let owner = p["owner"].as_str().map_or_else(|| "unassigned".to_string(), |o| format!("@{o}"));
        items[slot].push(format!("- [ ] **{owner}**: {}\n", describe::plain(p["text"].as_str().unwrap_or_default())));
    }
    let titles = ["### Immediate (< 2 hours)", "### Short-term (< 24 hours)", "### Long-term (< 1 week)"];
    for (n, (title, items)) in titles.iter().zip(items).enumerate() {
        put(out, &format!("{}{title}\n\n", if n > 0 { "\n" } else { "" })).await?;
        if items.is_empty() {
            put(out, "None recorded.\n").await?;
        }
        for item in items {
            put(out, &item).await?;
        }
    }
    Ok(())
}

fn who(actor: &str) -> String {
    describe::plain(&describe::actor(actor))
}

fn what(event: &Event) -> String {
    describe::plain(&describe::what(event))
}

/// Text safe in a table cell: one line, no column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_is_longer_than_any_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }

    #[test]
    fn table_cells_keep_to_one_cell() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}
