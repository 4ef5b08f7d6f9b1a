//! `/incident <subcommand>` for one incident: update, status, ic, sev, note, summary, resolve,
//! reopen, role. The incident is the channel's, or the one named. Everything is read and written
//! through the request's transaction (`db`), which the caller commits.

use serde_json::json;
use slack_morphism::blocks::SlackBlock;
use slack_morphism::events::SlackCommandEventResponse;
use slack_morphism::SlackMessageResponseType;
use sqlx::PgConnection;

use super::command::{capitalize, IncidentAction};
use super::{ephemeral, kit, limits, messages, reply};
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::lifecycle::{self, LifecycleError};
use crate::incident::store::{self, Incident};
use crate::incident::IncidentNumber;
use crate::jobs::{kind, queue};

/// Who typed the command, where, and how to answer them.
pub struct Invoker<'a> {
    pub user: &'a str,
    pub channel: &'a str,
    pub trigger_id: &'a str,
    pub response_url: Option<&'a str>,
}

/// Runs `action`; returns the reply body (`None`: an empty 200, a modal is the answer).
pub async fn run(
    state: &AppState,
    db: &mut PgConnection,
    who: &Invoker<'_>,
    target: Option<IncidentNumber>,
    action: IncidentAction,
) -> Result<Option<SlackCommandEventResponse>, AppError> {
    let incident = match target {
        Some(number) => store::by_number(&mut *db, number).await?,
        None => store::by_channel(&mut *db, who.channel).await?,
    };
    // A private incident named from outside its channel exists only for its members: anyone
    // else hears what a number never used gets (nothing it says, nothing it does).
    let incident = match (incident, target) {
        (Some(incident), Some(number)) if !crate::private::visible_to(&mut *db, &incident, who.user).await? => {
            return Ok(Some(ephemeral(crate::private::not_found(number))));
        }
        (incident, _) => incident,
    };
    let Some(incident) = incident else {
        return Ok(Some(ephemeral(match target {
            Some(number) => format!(":x: There is no incident {number}."),
            None => ":x: This is not an incident channel: name the incident, e.g. `/incident status INC-42`.".into(),
        })));
    };
    let now = state.clock.now();
    let config = &state.settings.file;
    let refused = |e: LifecycleError| match e {
        LifecycleError::Database(e) => Err(AppError::from(e)),
        other => Ok(Some(ephemeral(format!(":no_entry: {}", capitalize(&other.to_string()))))),
    };
    if let Some(permission) = super::authorize::needed(state, &incident, &action) {
        if let Some(refusal) = super::authorize::refusal(state, db, &incident, who.user, permission).await? {
            return Ok(Some(ephemeral(refusal)));
        }
    }
    let reply = match action {
        IncidentAction::UpdateModal | IncidentAction::Resolve => {
            let view = if action == IncidentAction::Resolve { "resolve" } else { "update" };
            if incident.is_resolved() {
                return refused(LifecycleError::Resolved(incident.number()));
            }
            open_modal(state, db, who, view, &incident).await?;
            return Ok(None);
        }
        IncidentAction::Update(fields) => {
            match lifecycle::update(&mut *db, state.reactions(), now, &incident, who.user, &fields).await {
                Ok(_) => {
                    format!(":white_check_mark: Update recorded for {}; posting it in the channel.", incident.number())
                }
                Err(e) => return refused(e),
            }
        }
        IncidentAction::Status => {
            let sync = crate::statuspage::line(&mut *db, incident.id, state.statuspage.is_sandbox()).await?;
            messages::status(&incident, sync.as_deref(), now)
        }
        IncidentAction::Summary => {
            let text = messages::summary(&state.templates, config, &incident, now)
                .map_err(|e| AppError::BadRequest(format!("the summary template failed: {e}")))?;
            // A private incident's summary is said aloud only in its own channel.
            let aloud = !incident.private || incident.channel_id.as_deref() == Some(who.channel);
            let kind = if aloud { SlackMessageResponseType::InChannel } else { SlackMessageResponseType::Ephemeral };
            return Ok(Some(reply(kind, text, None)));
        }
        IncidentAction::Commander(user) => {
            match lifecycle::change_commander(&mut *db, state.reactions(), now, &incident, who.user, user.as_str())
                .await
            {
                Ok(()) => format!(
                    ":white_check_mark: <@{}> is now Incident Commander of {}.",
                    user.as_str(),
                    incident.number()
                ),
                Err(e) => return refused(e),
            }
        }
        IncidentAction::Severity(severity) => {
            match lifecycle::change_severity(&mut *db, state.reactions(), now, &incident, who.user, severity).await {
                Ok(_) => format!(":white_check_mark: {} is now {severity}.", incident.number()),
                Err(e) => return refused(e),
            }
        }
        IncidentAction::Note(text) => {
            lifecycle::note(&mut *db, now, &incident, who.user, &text).await?;
            format!(":memo: Noted in the {} timeline.", incident.number())
        }
        IncidentAction::Timeline => {
            let events = crate::timeline::recent(&mut *db, incident.id, 20).await?;
            let head = format!("*{} timeline* (last {} entries):", incident.number(), events.len());
            let lines: Vec<String> = events.iter().map(crate::timeline::describe::line).collect();
            limits::last_lines(&head, &lines, "the whole timeline is in the web UI and `/incident export`")
        }
        IncidentAction::Diagnostics => {
            let (text, blocks) = diagnostics_menu(state, &incident);
            return Ok(Some(reply(SlackMessageResponseType::Ephemeral, text, Some(blocks))));
        }
        IncidentAction::Run { action, params, reason } => {
            match request_diagnostic(state, db, &incident, who.user, &action, &params, reason.as_deref()).await? {
                Ok(text) => text,
                Err(refusal) => return Ok(Some(ephemeral(format!(":no_entry: {refusal}")))),
            }
        }
        IncidentAction::Escalate(reason) => {
            let reason = if reason.is_empty() { "asked with /incident escalate".to_string() } else { reason };
            match crate::escalation::escalate_now(&mut *db, config, now, &incident, who.user, &reason).await {
                Ok(tier) => format!(":sos: Escalating {} to tier {tier} now.", incident.number()),
                Err(crate::escalation::EscalateError::Database(e)) => return Err(e.into()),
                Err(refusal) => return Ok(Some(ephemeral(format!(":no_entry: {}", capitalize(&refusal.to_string()))))),
            }
        }
        IncidentAction::Followup { text, owner, horizon } => {
            let owner = owner.map(|o| o.as_str().to_string());
            let payload = json!({ "text": text, "owner": owner, "horizon": horizon });
            let followup = crate::timeline::append_returning_id(
                &mut *db,
                incident.id,
                now,
                who.user,
                crate::timeline::EventKind::FollowupAdded,
                payload,
            )
            .await?;
            // With a tracker for the service, its issue is queued in this transaction.
            let tracked = crate::trackers::followup_added(&mut *db, config, now, &incident, followup).await?;
            let owner = owner.map_or_else(|| "no owner yet".to_string(), |o| format!("owner <@{o}>"));
            let tracked = match tracked {
                Some(crate::trackers::Filing::Queued(t)) => format!(" It will be filed in {t}."),
                Some(crate::trackers::Filing::Withheld(t)) => {
                    format!(
                        " It is not filed in {t}: the incident is private (file it by hand if it may be seen there)."
                    )
                }
                None => String::new(),
            };
            format!(":memo: Action item added to the {} report ({horizon}-term, {owner}).{tracked}", incident.number())
                .replace("immediate-term", "immediate")
        }
        IncidentAction::Export(format) => {
            let payload = json!({ "format": format.extension(), "by": who.user });
            let slot = format!("{}:{}", format.extension(), uuid::Uuid::new_v4());
            crate::jobs::queue::enqueue(&mut *db, Some(incident.id), crate::jobs::kind::EXPORT, &slot, payload, now)
                .await?;
            format!(
                ":page_facing_up: Writing the {} report of {}; it will be shared in <#{}>.",
                format.extension(),
                incident.number(),
                incident.channel_id.as_deref().unwrap_or(who.channel)
            )
        }
        IncidentAction::Runbook => crate::checklist::post::repost(state, db, &incident, who.trigger_id).await?,
        IncidentAction::Role { role, user } => {
            crate::roles::command::role(state, db, &incident, who.user, &role, &user).await?
        }
        IncidentAction::Roles => crate::roles::command::list(state, db, &incident).await?,
        IncidentAction::Catchup => {
            let bot = state.slack.known_bot_user_id();
            let reading = crate::catchup::card::Reading {
                roles: &config.roles,
                bot_user: bot.as_deref(),
                matching: state.seen_before,
            };
            let card = crate::catchup::load(&mut *db, reading, incident.id, now).await?;
            let Some(card) = card else {
                return Ok(Some(ephemeral(format!(":x: There is no incident {}.", incident.number()))));
            };
            let (text, blocks) = crate::catchup::render(&state.templates, &card, bot.as_deref())
                .map_err(|e| AppError::BadRequest(format!("the catch-up template failed: {e}")))?;
            return Ok(Some(reply(SlackMessageResponseType::Ephemeral, text, Some(blocks))));
        }
        IncidentAction::Reopen => {
            match lifecycle::reopen(&mut *db, state.reactions(), now, &incident, who.user).await {
                Ok(()) => format!(":white_check_mark: {} is open again.", incident.number()),
                Err(e) => return refused(e),
            }
        }
    };
    Ok(Some(ephemeral(reply)))
}

/// `action_id` of a diagnostic's Run button; its value is `<incident id>|<diagnostic id>`.
pub const ACTION_RUN_DIAGNOSTIC: &str = "diagnostics.run";

/// The diagnostics of the packs the incident's service uses, each with a Run (or Request, for
/// changes) button: fallback text and blocks.
pub fn diagnostics_menu(state: &AppState, incident: &Incident) -> (String, Vec<SlackBlock>) {
    let esc = crate::templates::escape_mrkdwn;
    let service = state.settings.file.services.get(&incident.service);
    let offered = crate::diagnostics::policy::service_actions(&state.catalog, &incident.service, service);
    let (service, actions) = match offered {
        Ok(offered) => offered,
        Err(text) => {
            let text = esc(&text);
            return (text.clone(), vec![kit::section(None, text)]);
        }
    };
    let title = format!("*Diagnostics for `{}`* (packs: {}):", incident.service, service.packs.join(", "));
    let mut lines = vec![title.clone()];
    let mut blocks = vec![kit::section(None, title.clone())];
    // One block per action, within Slack's 50 a message: the title, 48 actions, and a marker
    // naming the rest (each runs with `/incident run <id>`, as the fallback text lists).
    let (shown, left_out) = limits::cap(&actions, limits::MAX_BLOCKS - 2);
    for action in &actions {
        let kind = if action.kind == crate::diagnostics::Kind::Read { "read" } else { "change, needs approval" };
        lines.push(format!("• `/incident run {}` — {} ({kind})", action.id, esc(&action.title)));
    }
    for action in shown {
        let (kind, label) = match action.kind {
            crate::diagnostics::Kind::Read => ("read", "Run"),
            crate::diagnostics::Kind::Change => ("change, needs approval", "Request"),
        };
        let line =
            limits::label(&format!("`{}` — {} ({kind})", action.id, esc(&action.title)), limits::MAX_SECTION_TEXT);
        let mut button = kit::button(ACTION_RUN_DIAGNOSTIC, label, format!("{}|{}", incident.id, action.id));
        if action.kind == crate::diagnostics::Kind::Change {
            button = kit::danger(button);
        }
        blocks.push(kit::section_with(None, line, button));
    }
    if left_out > 0 {
        let rest: Vec<String> = actions[shown.len()..].iter().map(|a| format!("`{}`", a.id)).collect();
        let marker = format!(
            "{} — run them with `/incident run <id>`: {}",
            limits::more(left_out, "diagnostics"),
            rest.join(", ")
        );
        blocks.push(kit::section(None, limits::label(&marker, limits::MAX_SECTION_TEXT)));
    }
    (limits::text(&lines.join("\n"), "`/incident diagnostics` lists them as buttons"), blocks)
}

/// Checks and queues a diagnostic run; `Ok(Err(..))` is a refusal to show the user.
pub async fn request_diagnostic(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    user: &str,
    id: &str,
    given: &std::collections::BTreeMap<String, String>,
    reason: Option<&str>,
) -> Result<Result<String, String>, AppError> {
    Ok(ask_diagnostic(state, db, incident, user, id, given, reason).await?.map(|asked| asked.text))
}

/// A diagnostic asked for: what to tell the person, the hash of its exact command (what its
/// approval is bound to, and what its finished run is known by), and a change's request.
pub struct Asked {
    pub text: String,
    pub hash: String,
    pub approval: Option<uuid::Uuid>,
}

/// [`request_diagnostic`], saying what was queued.
pub async fn ask_diagnostic(
    state: &AppState,
    db: &mut PgConnection,
    incident: &Incident,
    user: &str,
    id: &str,
    given: &std::collections::BTreeMap<String, String>,
    reason: Option<&str>,
) -> Result<Result<Asked, String>, AppError> {
    // Only the service's packs, and its own targets unless `[services.x] allow` says otherwise.
    let service = state.settings.file.services.get(&incident.service);
    let bound = crate::diagnostics::policy::bind(&state.catalog, &incident.service, service, id, given);
    let (action, params) = match bound {
        Ok(bound) => bound,
        Err(refusal) => return Ok(Err(crate::templates::escape_mrkdwn(&refusal))),
    };
    let now = state.clock.now();
    let hash = crate::diagnostics::approvals::action_hash(id, &action.render(&params));
    if action.kind == crate::diagnostics::Kind::Change {
        let config = &state.settings.file.approvals;
        let new = crate::diagnostics::approvals::NewRequest {
            incident_id: incident.id,
            requested_by: user,
            action: id,
            params: json!(params),
            argv: action.render(&params),
            reason: reason.map(str::to_string),
            required: action.approvals.unwrap_or(config.required),
        };
        let request = crate::diagnostics::approvals::request(&mut *db, config, now, new).await?;
        let text = format!(
            ":lock: `{id}` is a change: it runs once {} approver(s) other than you approve it, before {} UTC. The request is posted in the channel.",
            request.required,
            crate::slack::blocks::hhmm(request.expires_at)
        );
        return Ok(Ok(Asked { text, hash, approval: Some(request.id) }));
    }
    let payload = json!({ "action": id, "params": params, "argv": action.render(&params), "reason": reason });
    crate::timeline::append(&mut *db, incident.id, now, user, crate::timeline::EventKind::DiagnosticRequested, payload)
        .await?;
    let job = json!({ "action": id, "params": params, "by": user });
    queue::enqueue(&mut *db, Some(incident.id), kind::RUN_DIAGNOSTIC, &uuid::Uuid::new_v4().to_string(), job, now)
        .await?;
    let text = format!(":mag: Running `{id}` for {}; the output will be posted here.", incident.number());
    Ok(Ok(Asked { text, hash, approval: None }))
}

/// Queues `views.open` for the update or resolve modal (trigger ids live three seconds).
pub async fn open_modal(
    state: &AppState,
    db: &mut PgConnection,
    who: &Invoker<'_>,
    view: &str,
    incident: &Incident,
) -> Result<(), AppError> {
    let payload = json!({ "trigger_id": who.trigger_id, "view": view, "incident_id": incident.id,
                          "user": who.user, "channel": who.channel, "response_url": who.response_url });
    queue::enqueue(db, None, kind::OPEN_MODAL, &format!("trigger:{}", who.trigger_id), payload, state.clock.now())
        .await?;
    Ok(())
}
