//! The Markdown report from `templates/postmortem.md.hbs`. The template gives the fixed parts;
//! the sections that grow with the incident (timeline, diagnostics, approvals, escalations,
//! status page updates, action items) are streamed from the events between its parts (the
//! template is cut at their placeholders when loaded: no marker travels through the text).
//! Every text a person, an alert or a program wrote goes through [`md_text`] on its way in.

use serde_json::json;
use tokio::io::AsyncWrite;

use super::md_text::{self, block, inline};
use super::{durations, minutes_since, put, Events, ExportError, Source};
use crate::duration::human_span;
use crate::timeline::{describe, Event};

pub async fn write<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let i = source.incident;
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "—".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    let span = |secs: Option<i64>| secs.map_or_else(|| "—".to_string(), |s| human_span(chrono::Duration::seconds(s)));
    let [tta, ttm, ttr] = durations(i);
    let severity = i.severity();
    let opt_block = |text: &Option<String>| text.as_deref().map(block).filter(|t| !t.is_empty());
    // The roles besides the commander's own row.
    let roles: Vec<serde_json::Value> = crate::incident::roles::current(source.db, &source.config.roles, i, None)
        .await?
        .iter()
        .filter(|r| r.key != crate::config::COMMANDER)
        .map(|r| json!({ "name": inline(&r.name), "holder": r.user.as_deref().map_or_else(|| "unfilled".into(), |u| format!("@{}", inline(u))) }))
        .collect();
    let data = json!({
        "number": i.number().to_string(), "title": inline(&i.title), "in_progress": !i.is_resolved(),
        "service": inline(&i.service).replace('`', "'"), "severity": severity.as_str(), "severity_label": severity.label(),
        "status": if i.is_resolved() { "resolved".to_string() } else { format!("{} (in progress)", inline(&i.status)) },
        "commander": format!("@{}", inline(&i.commander)), "declared_by": format!("@{}", inline(&i.declared_by)),
        "statuspage": source.statuspage.as_deref().map(inline), "channel": i.channel_name.as_deref().map(inline),
        "impact": opt_block(&i.impact),
        "detected": at(i.detected_at), "declared": at(Some(i.declared_at)), "acknowledged": at(i.acknowledged_at),
        "mitigated": at(i.mitigated_at), "resolved": at(i.resolved_at),
        "time_to_acknowledge": span(tta), "time_to_mitigate": span(ttm), "time_to_resolve": span(ttr),
        "root_cause": opt_block(&i.root_cause), "resolution": opt_block(&i.resolution), "roles": roles,
    });
    let parts = source.templates.render_postmortem(&data)?;
    let last = parts.len().saturating_sub(1);
    for (n, part) in parts.iter().enumerate() {
        // After a section (which ends its own last line), the template's line break is spent.
        let mut text = if n > 0 { part.text.strip_prefix('\n').unwrap_or(&part.text) } else { &part.text };
        if n == last {
            text = text.trim_end();
        }
        put(out, text).await?;
        if let Some(name) = part.section {
            section(source, name, out).await?;
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
        "runbook_checklist" => return runbook_checklist(source, out).await,
        "feedback" => return feedback(source, out).await,
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
        who(&event.actor),
        what(event)
    )
}

/// A diagnostic with its (capped) output, collapsed; redacted again and without control
/// characters, in a fence longer than any run of backticks inside.
fn diagnostic(event: &Event) -> String {
    let p = &event.payload;
    let stdout = p["stdout"].as_str().unwrap_or_default();
    let stderr = p["stderr"].as_str().unwrap_or_default();
    let output = if stderr.is_empty() { stdout.to_string() } else { format!("{stdout}\n--- stderr ---\n{stderr}") };
    let output = md_text::code(&output);
    let fence = fence_for(&output);
    format!(
        "<details><summary><code>{}</code> — exit {} at {} UTC{}</summary>\n\n{fence}\n{}\n{fence}\n\n</details>\n",
        inline(p["action"].as_str().unwrap_or("?")),
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
    let quoted = if body.trim().is_empty() { String::new() } else { md_text::quoted(body) };
    format!(
        "**{} UTC — {}** ({}{})\n\n{}",
        event.at.format("%H:%M"),
        inline(p["status"].as_str().unwrap_or_default()),
        if p["scheduled"].is_string() {
            "scheduled update".into()
        } else {
            inline(p["action"].as_str().unwrap_or_default())
        },
        if p["sandbox"] == true { ", sandbox status page" } else { "" },
        if quoted.is_empty() { "> (status only)\n".to_string() } else { quoted }
    )
}

/// Seed 002's Immediate / Short-term / Long-term action items, from `/incident followup`; an
/// item filed in the service's tracker shows its issue and state, and is ticked when the issue
/// is closed there.
async fn action_items<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let mut items: [Vec<String>; 3] = Default::default();
    for f in crate::timeline::followups::list(source.db, source.incident.id).await? {
        let slot = match f.horizon.as_str() {
            "immediate" => 0,
            "long" => 2,
            _ => 1,
        };
        let owner = f.owner.as_deref().map_or_else(|| "unassigned".to_string(), |o| format!("@{}", inline(o)));
        let text = inline(&describe::plain(&f.text));
        let tracked = f.issue.as_ref().map(tracked_issue).unwrap_or_default();
        items[slot].push(format!("- [{}] **{owner}**: {text}{tracked}\n", if f.done() { "x" } else { " " }));
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

/// The participants' answers (`[feedback] ask`), each person's latest, with the average.
async fn feedback<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let answers = crate::feedback::latest(source.db, source.incident.id).await?;
    if answers.is_empty() {
        return put(out, "None recorded.\n").await;
    }
    let average = answers.iter().map(|a| a.rating as f64).sum::<f64>() / answers.len() as f64;
    put(out, &format!("Average rating: **{average:.1} / 5** from {} participant(s).\n\n", answers.len())).await?;
    for a in &answers {
        let comment = a.comment.as_deref().map(|c| format!(": {}", inline(&describe::plain(c)))).unwrap_or_default();
        put(out, &format!("- **@{}** rated {}/5{comment}\n", inline(&a.user), a.rating)).await?;
    }
    Ok(())
}

/// ` — [acme/api#12](https://…) (open)`, or why it has no issue.
fn tracked_issue(issue: &crate::timeline::followups::TrackedIssue) -> String {
    match (&issue.key, &issue.refused) {
        (Some(key), _) => {
            // Closed there is done here, whatever the tracker calls its closed state.
            let state =
                if issue.closed { "done".to_string() } else { inline(issue.state.as_deref().unwrap_or("open")) };
            match issue.url.as_deref().filter(|u| is_plain_url(u)) {
                Some(url) => format!(" — [{}]({url}) ({state})", inline(key)),
                None => format!(" — {} ({state})", inline(key)),
            }
        }
        (None, Some(refused)) => format!(" — not filed in {}: {}", inline(&issue.tracker), inline(refused)),
        (None, None) => format!(" — being filed in {}", inline(&issue.tracker)),
    }
}

/// An http(s) URL that a Markdown link may carry as it is.
fn is_plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| c.is_ascii_graphic() && !"()<>[]\\`\"'".contains(c))
}

/// The runbook checklist: each step ticked (`[x]`, by whom and when) or open, under its section.
async fn runbook_checklist<W: AsyncWrite + Unpin + Send>(source: &Source<'_>, out: &mut W) -> Result<(), ExportError> {
    let Some(report) = super::checklist::read(source).await? else {
        return put(out, "No runbook checklist: the service has no `runbook` in warroom.toml.\n").await;
    };
    let head = format!(
        "**{}** (<code>{}</code>): {} of {} steps done.\n",
        inline(&report.title),
        inline(&report.source),
        report.done(),
        report.steps.len()
    );
    put(out, &head).await?;
    let mut section = None;
    for step in &report.steps {
        if section != Some(&step.section) {
            put(out, &format!("\n**{}**\n\n", inline(&step.section))).await?;
            section = Some(&step.section);
        }
        let ticked = matches!(step.state, super::checklist::State::Done { .. } | super::checklist::State::Ran { .. });
        let note = step.note.as_deref().map(|n| format!("{}: ", inline(n))).unwrap_or_default();
        let action = step.action.as_deref().map(|a| format!(" (<code>{}</code>)", inline(a))).unwrap_or_default();
        let state =
            if ticked { inline(&step.state.describe()) } else { format!("**{}**", inline(&step.state.describe())) };
        let line = format!(
            "- [{}] **{}.** {note}<code>{}</code>{action} — {state}\n",
            if ticked { "x" } else { " " },
            step.number,
            inline(&step.command),
        );
        put(out, &line).await?;
    }
    Ok(())
}

/// Who did it, as one escaped line.
fn who(actor: &str) -> String {
    inline(&describe::plain(&describe::actor(actor)))
}

/// What happened, as one escaped line (notes, captured messages and alert labels are in it).
fn what(event: &Event) -> String {
    inline(&describe::plain(&describe::what(event)))
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
}
