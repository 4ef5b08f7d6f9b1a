//! The status page: the Atlassian Statuspage v1 client, the push jobs that keep the public
//! incident in step with ours, manual confirmation, reconciliation, and the request shapes they
//! are checked against.
//!
//! Its [`Reactor`] (listed in `crate::reactions`) calls the `after_*` functions inside the
//! transaction of each incident change, so a change and the push that tells customers about it
//! are committed together or not at all.

pub mod client;
pub mod customer;
pub mod manual;
pub mod push;
mod react;
pub mod reconcile;
pub mod scheduled;
pub mod schema;
pub mod store;
pub mod text;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};

pub use client::StatuspageClient;
use push::{Action, Push};
pub use react::Reactor;
pub use scheduled::after_scheduled;

use crate::config::{FileConfig, StatuspageMode};
use crate::incident::store::{Incident, NewIncident};
use crate::incident::Severity;

/// How customer updates reach the status page at `severity`.
pub fn mode(config: &FileConfig, severity: Severity) -> StatuspageMode {
    config.severity.get(&severity).map(|s| s.statuspage).unwrap_or_default()
}

/// The push that opens the status page incident of a new declaration, if its severity is shown
/// there (the first of the incident's pushes).
pub fn opening_push(config: &FileConfig, new: &NewIncident, now: DateTime<Utc>) -> Option<Push> {
    (mode(config, new.severity) != StatuspageMode::Off).then(|| Push {
        seq: 1,
        action: Action::Open,
        at: now,
        by: new.declared_by.clone(),
        snapshot: text::Snapshot::declared(new, now),
        body: None,
        scheduled: None,
    })
}

/// Declared at a severity shown on the status page: the mirror starts with the opening push.
pub async fn after_declare(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident_id: uuid::Uuid,
    new: &NewIncident,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    match opening_push(config, new, now) {
        Some(push) => store::start(tx, incident_id, &push, now).await,
        None => Ok(()),
    }
}

/// An update was made: pushed (auto), offered for confirmation (manual), or kept internal (off).
pub async fn after_update(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    updated: &Incident,
    actor: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    match mode(config, updated.severity()) {
        StatuspageMode::Auto => {
            store::enqueue_push(tx, updated.id, &mut Push::new(Action::Update, updated, actor, now), true, now).await?;
        }
        StatuspageMode::Manual => manual::enqueue_preview(tx, updated, actor, now).await?,
        StatuspageMode::Off => {}
    }
    Ok(())
}

/// A private incident changed: customers hear nothing unless a `publish_private` principal
/// posts the draft this offers in its channel (`published_only`: offered only once something
/// was published, for a severity change or a reopen). Off at its severity: nothing at all.
pub async fn private_draft(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    incident: &Incident,
    actor: &str,
    now: DateTime<Utc>,
    published_only: bool,
) -> sqlx::Result<()> {
    if mode(config, incident.severity()) == StatuspageMode::Off {
        return Ok(());
    }
    if published_only && store::get(&mut **tx, incident.id).await?.is_none() {
        return Ok(());
    }
    manual::enqueue_preview(tx, incident, actor, now).await
}

/// The severity changed: a severity shown on the status page opens the incident there (or
/// updates its impact and components).
pub async fn after_severity(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    changed: &Incident,
    actor: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if mode(config, changed.severity()) == StatuspageMode::Off {
        return Ok(());
    }
    let action = if store::get(&mut **tx, changed.id).await?.is_some() { Action::Update } else { Action::Open };
    if action == Action::Update && mode(config, changed.severity()) == StatuspageMode::Manual {
        return manual::enqueue_preview(tx, changed, actor, now).await;
    }
    store::enqueue_push(tx, changed.id, &mut Push::new(action, changed, actor, now), true, now).await?;
    Ok(())
}

/// Resolved here: resolved there too, whatever the mode (an incident resolved in warroom is
/// never left open on the status page).
pub async fn after_resolve(
    tx: &mut Transaction<'_, Postgres>,
    resolved: &Incident,
    actor: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    store::enqueue_push(tx, resolved.id, &mut Push::new(Action::Resolve, resolved, actor, now), false, now).await?;
    Ok(())
}

/// Reopened: the status page incident is reopened (or opened) when the severity is shown there.
pub async fn after_reopen(
    tx: &mut Transaction<'_, Postgres>,
    config: &FileConfig,
    reopened: &Incident,
    actor: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let exists = store::get(&mut **tx, reopened.id).await?.is_some();
    if !exists && mode(config, reopened.severity()) == StatuspageMode::Off {
        return Ok(());
    }
    let action = if exists { Action::Update } else { Action::Open };
    store::enqueue_push(tx, reopened.id, &mut Push::new(action, reopened, actor, now), true, now).await?;
    Ok(())
}

/// The status page link of the incident, when it is on the status page (for the report).
pub async fn link(db: impl PgExecutor<'_>, incident_id: uuid::Uuid) -> sqlx::Result<Option<String>> {
    Ok(store::get(db, incident_id).await?.and_then(|s| s.shortlink))
}

/// The sync state in one line, for the declaration and `/incident status`: the status page link
/// and "synced 15:02", or "failing since 15:02 (HTTP 503 ...)". `None` when not on the status page.
pub async fn line(db: impl PgExecutor<'_>, incident_id: uuid::Uuid, sandbox: bool) -> sqlx::Result<Option<String>> {
    let Some(sync) = store::get(db, incident_id).await? else { return Ok(None) };
    let esc = crate::templates::escape_mrkdwn;
    let hhmm = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    let link = match &sync.shortlink {
        Some(url) => format!("<{}|{}>", esc(url), esc(url.trim_start_matches("https://"))),
        None => "not created yet".to_string(),
    };
    let state = match (sync.failing_since, sync.synced_at) {
        (Some(since), _) => format!(
            ":warning: failing since {} UTC ({})",
            hhmm(since),
            esc(sync.last_error.as_deref().unwrap_or("unknown error"))
        ),
        (None, Some(at)) => format!("synced {} UTC", hhmm(at)),
        (None, None) => "pending".to_string(),
    };
    let sandbox = if sandbox { " (sandbox status page)" } else { "" };
    Ok(Some(format!("{link} · {state}{sandbox}")))
}
