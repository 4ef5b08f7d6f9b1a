//! Telling a tier's people: seed 002's escalation request in the incident channel mentioning
//! them, a direct message to each with the channel link, and an invitation to the channel. The
//! targets are resolved when the tier fires (who is in `@sre-leads` now), then each message is
//! its own idempotent job.

use serde_json::json;

use super::Target;
use crate::app::AppState;
use crate::incident::store::Incident;
use crate::jobs::{kind, queue, JobError};
use crate::timeline::{self, EventKind, WARROOM};

/// The people and the mentions for a tier's targets.
#[derive(Debug, Default)]
struct Resolved {
    users: Vec<String>,
    mentions: Vec<String>,
    missing: Vec<String>,
}

async fn resolve(state: &AppState, incident: &Incident, targets: &[String]) -> Result<Resolved, JobError> {
    let mut out = Resolved::default();
    let now = state.clock.now();
    let owner = state.settings.file.services.get(&incident.service).and_then(|s| s.owner.clone());
    for text in targets {
        let target = match Target::parse(text) {
            Ok(Target::Owner) => match owner.as_deref().map(Target::parse) {
                Some(Ok(target)) if target != Target::Owner => target,
                _ => {
                    out.missing.push(format!("the owner of `{}` (none configured)", incident.service));
                    continue;
                }
            },
            Ok(target) => target,
            Err(_) => continue,
        };
        match target {
            Target::User(user) => {
                out.mentions.push(format!("<@{user}>"));
                out.users.push(user);
            }
            Target::Group(handle) => match state.slack.usergroup(&handle).await {
                Ok(Some((id, members))) => {
                    out.mentions.push(format!("<!subteam^{id}>"));
                    out.users.extend(members);
                }
                Ok(None) => out.missing.push(format!("@{handle} (no such user group)")),
                // A final answer (a missing scope) must not drop the whole notification: the
                // tier is told to the channel without that group. Throttling and outages wait.
                Err(e) if !e.is_retryable() => {
                    out.missing.push(format!("@{handle} ({})", e.code().unwrap_or("Slack error")))
                }
                Err(e) => return Err(e.into()),
            },
            // Who is on call now, asked when the tier fires; PagerDuty or Slack failing leaves
            // this one target out (said in the request), not the tier.
            Target::Oncall(schedule) => {
                let source = match schedule {
                    Some(id) => Some(crate::config::OncallSource::Schedule(id)),
                    None => crate::oncall::source_for(&state.settings.file, &incident.service),
                };
                let Some(source) = source else {
                    out.missing.push(format!("the on-call of `{}` (no `oncall` configured)", incident.service));
                    continue;
                };
                match crate::oncall::on_call(state, &source, now).await {
                    Ok(oncall) => {
                        out.mentions.push(format!("<@{}>", oncall.slack_user));
                        out.users.push(oncall.slack_user);
                    }
                    Err(e) => out.missing.push(format!("the on-call of {} ({e})", source.describe())),
                }
            }
            Target::Owner => {}
        }
    }
    out.users.sort();
    out.users.dedup();
    // The commander is already in the channel and on the incident.
    out.users.retain(|u| u != &incident.commander);
    Ok(out)
}

/// What was done so far, from the timeline: diagnostics run, changes approved, actions taken.
async fn actions_taken(state: &AppState, incident: &Incident) -> sqlx::Result<Vec<String>> {
    let events = crate::timeline::list(&state.db, incident.id).await?;
    let esc = crate::templates::escape_mrkdwn;
    let mut actions: Vec<String> = events
        .iter()
        .filter_map(|e| {
            let p = &e.payload;
            match e.kind.as_str() {
                "diagnostic_finished" => {
                    Some(format!("Ran `{}` (exit {})", esc(p["action"].as_str()?), p["exit_code"]))
                }
                "approval_granted" => Some(format!("Approved `{}`", esc(p["action"].as_str()?))),
                "updated" => p["action"].as_str().map(esc),
                _ => None,
            }
        })
        .collect();
    actions.dedup();
    let skip = actions.len().saturating_sub(10);
    Ok(actions.split_off(skip))
}

/// [`kind::ESCALATION_NOTIFY`]: `{ "tier", "reason", "by", "silence"? }`.
pub async fn run(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let incident = crate::jobs::load_incident(state, job).await?;
    let channel = incident.channel_id.clone().ok_or_else(JobError::channel_pending)?;
    let tier = job.payload["tier"].as_i64().unwrap_or(1) as usize;
    let silence = job.payload["silence"] == true;
    let config = &state.settings.file;
    let ladder = super::ladder(config, incident.severity());
    let Some(step) = ladder.get(tier.saturating_sub(1)) else { return Ok(()) };
    let resolved = resolve(state, &incident, &step.notify).await?;
    let now = state.clock.now();
    // A private incident's tiers are told by direct message only: no mention in any channel
    // (a group mention would tell the whole group, members of the channel or not).
    let mut targets = if incident.private {
        match resolved.users.len() {
            0 => String::new(),
            1 => "1 person, by direct message".to_string(),
            n => format!("{n} people, by direct message"),
        }
    } else {
        resolved.mentions.join(" ")
    };
    if !resolved.missing.is_empty() {
        let missing = crate::templates::escape_mrkdwn(&resolved.missing.join(", "));
        targets = format!("{targets} _(not reached: {missing})_").trim().to_string();
    }
    let reason = job.payload["reason"].as_str().unwrap_or_default();
    let by = job.payload["by"].as_str().unwrap_or(WARROOM);
    let request = match (silence, by) {
        (true, _) => format!("Please acknowledge: {}.", crate::templates::escape_mrkdwn(reason)),
        (false, WARROOM) => {
            format!("Need senior support: {} {}.", incident.number(), crate::templates::escape_mrkdwn(reason))
        }
        (false, who) => format!("<@{who}> escalated now: {}", crate::templates::escape_mrkdwn(reason)),
    };
    let severity = incident.severity();
    let text = state.templates.render(
        "escalation",
        &json!({
            "tier": tier, "tiers": ladder.len(), "silence": silence, "number": incident.number().to_string(),
            "title": incident.title, "service": incident.service,
            "duration": crate::slack::blocks::human_span(now - incident.declared_at),
            "severity": severity.as_str(), "severity_label": severity.label(), "commander": incident.commander,
            "status": incident.status, "status_text": incident.status_text, "root_cause": incident.root_cause,
            "impact": incident.impact, "actions": actions_taken(state, &incident).await?, "request": request,
            "targets": if targets.is_empty() { "nobody (no targets resolved)".to_string() } else { targets },
            "war_room_url": config.war_room_url, "channel_id": channel,
        }),
    )?;
    let name = if silence { "silence".to_string() } else { format!("tier:{tier}") };
    let dm = if incident.private {
        // The request itself, since nobody is mentioned where it is posted.
        format!(
            ":sos: You are asked to join the private incident {}: you are invited to <#{channel}>.\n\n{text}",
            incident.number()
        )
    } else {
        format!(
            ":sos: You are asked to join {} ({} `{}`): <#{channel}>. {}",
            incident.number(),
            severity,
            incident.service,
            crate::templates::escape_mrkdwn(&incident.title)
        )
    };
    let mut tx = state.db.begin().await?;
    let post = json!({ "text": text, "to": "channel", "what": "escalation" });
    queue::enqueue(&mut *tx, Some(incident.id), kind::POST, &format!("esc:{name}"), post, now).await?;
    if !resolved.users.is_empty() {
        let invite = json!({ "users": resolved.users });
        queue::enqueue(&mut *tx, Some(incident.id), kind::INVITE, &format!("esc:{name}"), invite, now).await?;
    }
    for user in &resolved.users {
        let payload = json!({ "user": user, "text": dm });
        queue::enqueue(&mut *tx, Some(incident.id), kind::ESCALATION_DM, &format!("{name}:{user}"), payload, now)
            .await?;
    }
    let mentions = if incident.private { Vec::new() } else { resolved.mentions };
    let payload = json!({ "tier": tier, "silence": silence, "users": resolved.users, "mentions": mentions,
                          "not_reached": resolved.missing, "by_dm_only": incident.private });
    timeline::append(&mut *tx, incident.id, now, WARROOM, EventKind::EscalationNotified, payload).await?;
    tx.commit().await?;
    crate::jobs::wake(state);
    Ok(())
}

/// [`kind::ESCALATION_DM`]: `{ "user", "text" }`, a direct message.
pub async fn direct_message(state: &AppState, job: &queue::Job) -> Result<(), JobError> {
    let user = job.payload["user"].as_str().ok_or_else(|| JobError::Fatal("a DM job without a user".into()))?;
    let text = job.payload["text"].as_str().unwrap_or_default();
    let channel = state.slack.open_dm(user).await?;
    let blocks = crate::slack::limits::sections(text);
    let fallback = crate::slack::limits::label(text, 150);
    crate::jobs::post_once::post(state, job, &channel, &fallback, &blocks).await?;
    Ok(())
}
