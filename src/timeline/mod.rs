//! The append-only timeline: every step of an incident as an event. The database refuses
//! UPDATE, DELETE and TRUNCATE on `timeline_events`; this module only ever inserts and reads.

pub mod describe;
pub mod export;
pub mod followups;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// What happened. The string forms are stored and exported; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Declared,
    ChannelCreated,
    MembersInvited,
    TopicSet,
    MessagePosted,
    Pinned,
    Acknowledged,
    SlackApiFailed,
    Updated,
    Mitigated,
    Note,
    CommanderChanged,
    SeverityChanged,
    StatusUpdatePosted,
    Resolved,
    Reopened,
    DiagnosticRequested,
    DiagnosticFinished,
    ApprovalRequested,
    ApprovalGranted,
    ApprovalDenied,
    ApprovalExpired,
    FileUploaded,
    DiagnosticDispatched,
    DiagnosticRefused,
    DiagnosticCancelled,
    StatuspagePushed,
    StatuspageFailing,
    StatuspageFailed,
    StatuspageDrift,
    StatuspageDraft,
    Escalated,
    EscalateNow,
    EscalationSilence,
    EscalationNotified,
    Paged,
    PageFailed,
    MessageCaptured,
    FollowupAdded,
    ReportExported,
    AlertReceived,
    AlertResolved,
    ChangeStarted,
    ChangeOutcomeUnknown,
    ApprovalCancelled,
    DiagnosticOutcomeUnknown,
    /// The incident's runbook checklist, as posted (payload `checklist`: its sections and steps).
    ChecklistCreated,
    /// A step's Run or Request clicked: `step`, `command`, `action`, `kind`, `request`.
    ChecklistStepRun,
    /// A step ticked: `step`, `command`, `action`, `via` (`done` or `run`), `result`.
    ChecklistStepDone,
    /// A section's time window ended with steps open: `section`, `heading`, `open`.
    ChecklistReminder,
    /// A role filled: `role`, `name`, `user`, `from` (who held it, or null), `via`.
    RoleAssigned,
    /// Required roles still unfilled: `stage` (1: the commander, 2: the announcement channel),
    /// `roles`, `names`, `commander`.
    RoleReminder,
    /// A follow-up's issue created (or found by its marker): `followup`, `tracker`, `key`, `url`.
    FollowupTracked,
    /// The tracker refused a follow-up's issue for good: `followup`, `tracker`, `status`, `error`.
    FollowupRefused,
    /// A follow-up's issue changed state when read back: `followup`, `key`, `state`, `closed`.
    FollowupState,
    /// An overdue follow-up nudged: `followup`, `to` (`dm` or `channel`), `owner`, `nudge`.
    FollowupNudged,
    /// The channel will be archived soon: `archive_at`, `extended` (after a Keep open).
    ArchiveWarned,
    /// Keep open clicked: `by`, `archive_at` (the archiving moved to one `archive_after` later).
    ArchiveKeptOpen,
    /// The incident channel archived: `channel`.
    ChannelArchived,
    /// The incident channel unarchived on reopen: `channel`.
    ChannelUnarchived,
    /// A participant's feedback (`crate::feedback`): `rating` (1-5), `comment` (or null). A
    /// later answer of the same person replaces theirs in the report.
    FeedbackGiven,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::ChannelCreated => "channel_created",
            Self::MembersInvited => "members_invited",
            Self::TopicSet => "topic_set",
            Self::MessagePosted => "message_posted",
            Self::Pinned => "pinned",
            Self::Acknowledged => "acknowledged",
            Self::SlackApiFailed => "slack_api_failed",
            Self::Updated => "updated",
            Self::Mitigated => "mitigated",
            Self::Note => "note",
            Self::CommanderChanged => "commander_changed",
            Self::SeverityChanged => "severity_changed",
            Self::StatusUpdatePosted => "status_update_posted",
            Self::Resolved => "resolved",
            Self::Reopened => "reopened",
            Self::DiagnosticRequested => "diagnostic_requested",
            Self::DiagnosticFinished => "diagnostic_finished",
            Self::ApprovalRequested => "approval_requested",
            Self::ApprovalGranted => "approval_granted",
            Self::ApprovalDenied => "approval_denied",
            Self::ApprovalExpired => "approval_expired",
            Self::FileUploaded => "file_uploaded",
            Self::DiagnosticDispatched => "diagnostic_dispatched",
            Self::DiagnosticRefused => "diagnostic_refused",
            Self::DiagnosticCancelled => "diagnostic_cancelled",
            Self::StatuspagePushed => "statuspage_pushed",
            Self::StatuspageFailing => "statuspage_failing",
            Self::StatuspageFailed => "statuspage_failed",
            Self::StatuspageDrift => "statuspage_drift",
            Self::StatuspageDraft => "statuspage_draft",
            Self::Escalated => "escalated",
            Self::EscalateNow => "escalate_now",
            Self::EscalationSilence => "escalation_silence",
            Self::EscalationNotified => "escalation_notified",
            Self::Paged => "paged",
            Self::PageFailed => "page_failed",
            Self::MessageCaptured => "message_captured",
            Self::FollowupAdded => "followup_added",
            Self::ReportExported => "report_exported",
            Self::AlertReceived => "alert_received",
            Self::AlertResolved => "alert_resolved",
            Self::ChangeStarted => "change_started",
            Self::ChangeOutcomeUnknown => "change_outcome_unknown",
            Self::ApprovalCancelled => "approval_cancelled",
            Self::DiagnosticOutcomeUnknown => "diagnostic_outcome_unknown",
            Self::ChecklistCreated => "checklist_created",
            Self::ChecklistStepRun => "checklist_step_run",
            Self::ChecklistStepDone => "checklist_step_done",
            Self::ChecklistReminder => "checklist_reminder",
            Self::RoleAssigned => "role_assigned",
            Self::RoleReminder => "role_reminder",
            Self::FollowupTracked => "followup_tracked",
            Self::FollowupRefused => "followup_refused",
            Self::FollowupState => "followup_state",
            Self::FollowupNudged => "followup_nudged",
            Self::ArchiveWarned => "archive_warned",
            Self::ArchiveKeptOpen => "archive_kept_open",
            Self::ChannelArchived => "channel_archived",
            Self::ChannelUnarchived => "channel_unarchived",
            Self::FeedbackGiven => "feedback_given",
        }
    }
}

/// [`append`], returning the event's id (a follow-up is known by it).
pub async fn append_returning_id(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    kind: EventKind,
    mut payload: Value,
) -> sqlx::Result<i64> {
    without_nul(&mut payload);
    sqlx::query_scalar(
        "INSERT INTO timeline_events (incident_id, at, actor, kind, payload) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(incident_id)
    .bind(at)
    .bind(actor)
    .bind(kind.as_str())
    .bind(payload)
    .fetch_one(db)
    .await
}

/// The actor for what warroom does by itself.
pub const WARROOM: &str = "warroom";

/// One stored event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub incident_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub payload: Value,
}

pub async fn append(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    kind: EventKind,
    mut payload: Value,
) -> sqlx::Result<()> {
    without_nul(&mut payload);
    sqlx::query!(
        "INSERT INTO timeline_events (incident_id, at, actor, kind, payload) VALUES ($1, $2, $3, $4, $5)",
        incident_id,
        at,
        actor,
        kind.as_str(),
        payload,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A JSON string cannot hold U+0000 in Postgres (`jsonb` refuses it): whatever a person, an
/// alert or a program sent, its NULs are dropped rather than the event.
fn without_nul(value: &mut Value) {
    match value {
        Value::String(text) => text.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(without_nul),
        Value::Object(fields) => fields.values_mut().for_each(without_nul),
        _ => {}
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(fields) => fields.values().any(has_nul),
        _ => false,
    }
}

/// Appends one event per payload, in their order, in one statement (an alert group can bring
/// hundreds of alerts in one notification).
pub async fn append_many(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    kind: EventKind,
    payloads: &[Value],
) -> sqlx::Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    let cleaned: Vec<Value>;
    let payloads = if payloads.iter().any(has_nul) {
        cleaned = payloads.iter().cloned().map(|mut p| (without_nul(&mut p), p).1).collect();
        &cleaned
    } else {
        payloads
    };
    sqlx::query!(
        r#"INSERT INTO timeline_events (incident_id, at, actor, kind, payload)
           SELECT $1, $2, $3, $4, p.payload FROM unnest($5::jsonb[]) WITH ORDINALITY AS p(payload, n) ORDER BY p.n"#,
        incident_id,
        at,
        actor,
        kind.as_str(),
        payloads,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The incident's events in the order they happened.
pub async fn list(db: impl PgExecutor<'_>, incident_id: Uuid) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        "SELECT id, incident_id, at, actor, kind, payload FROM timeline_events WHERE incident_id = $1 ORDER BY at, id",
        incident_id,
    )
    .fetch_all(db)
    .await
}

/// `limit` of the incident's events from `offset`, in order.
pub async fn page(db: impl PgExecutor<'_>, incident_id: Uuid, offset: i64, limit: i64) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        "SELECT id, incident_id, at, actor, kind, payload FROM timeline_events WHERE incident_id = $1 ORDER BY at, id OFFSET $2 LIMIT $3",
        incident_id,
        offset,
        limit,
    )
    .fetch_all(db)
    .await
}

/// The incident's last `n` events, oldest first.
pub async fn recent(db: impl PgExecutor<'_>, incident_id: Uuid, n: i64) -> sqlx::Result<Vec<Event>> {
    let mut events = sqlx::query_as!(
        Event,
        "SELECT id, incident_id, at, actor, kind, payload FROM timeline_events WHERE incident_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        incident_id,
        n,
    )
    .fetch_all(db)
    .await?;
    events.reverse();
    Ok(events)
}
