//! The post-incident report: Markdown (seed 002's post-incident sections), JSON (the complete
//! record, schema `warroom.incident-report/v1`) and CSV (the timeline, RFC 4180). Each is written
//! to an async sink while the events stream from Postgres, so memory does not grow with the
//! timeline; the same incident gives the same bytes wherever it is exported (Slack, API, CLI).

pub mod checklist;
mod csv;
mod json;
mod markdown;
mod md_text;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::Event;
use crate::config::FileConfig;
use crate::incident::store::Incident;
use crate::templates::{TemplateError, Templates};

/// The JSON report's schema id (see `specs/incident-report.v1.schema.json`).
pub const JSON_SCHEMA: &str = "warroom.incident-report/v1";

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "md" | "markdown" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            other => Err(format!("unknown format `{other}`: use md, json or csv")),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// `INC-42-inference-gateway-postmortem.md`
pub fn filename(incident: &Incident, format: Format) -> String {
    format!("{}-{}-postmortem.{}", incident.number(), incident.service, format.extension())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// What a report is written from.
pub struct Source<'a> {
    pub db: &'a PgPool,
    pub templates: &'a Templates,
    pub config: &'a FileConfig,
    pub incident: &'a Incident,
    /// The status page link, when the incident is on the status page (`statuspage::link`).
    pub statuspage: Option<String>,
}

/// Writes the report of `source.incident` in `format` to `out`.
pub async fn write<W: AsyncWrite + Unpin + Send>(
    source: &Source<'_>,
    format: Format,
    out: &mut W,
) -> Result<(), ExportError> {
    let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Markdown => markdown::write(source, &mut out).await?,
        Format::Json => json::write(source, &mut out).await?,
        Format::Csv => csv::write(source, &mut out).await?,
    }
    out.flush().await?;
    Ok(())
}

/// The incident's events of some kinds (all when none are named), in order. A reader task
/// fetches them a page at a time (keyset pagination) a page or two ahead of the writer, so the
/// database and the formatting overlap and memory stays flat however long the timeline is.
struct Events {
    pages: tokio::sync::mpsc::Receiver<Result<Vec<Event>, sqlx::Error>>,
    page: std::vec::IntoIter<Event>,
}

/// Events read per query.
const PAGE: i64 = 1000;

impl Events {
    fn of(source: &Source<'_>, kinds: &[&str]) -> Self {
        let (tx, pages) = tokio::sync::mpsc::channel(1);
        let db = source.db.clone();
        let incident_id = source.incident.id;
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        tokio::spawn(async move {
            let mut after: Option<(DateTime<Utc>, i64)> = None;
            loop {
                let (at, id) = (after.map(|a| a.0), after.map_or(0, |a| a.1));
                // Two statements, so that a section's kinds can use the (incident, kind) index.
                let page = if kinds.is_empty() {
                    sqlx::query_as!(
                        Event,
                        r#"SELECT id, incident_id, at, actor, kind, payload FROM timeline_events
                           WHERE incident_id = $1 AND ($2::timestamptz IS NULL OR (at, id) > ($2, $3))
                           ORDER BY at, id LIMIT $4"#,
                        incident_id,
                        at,
                        id,
                        PAGE,
                    )
                    .fetch_all(&db)
                    .await
                } else {
                    sqlx::query_as!(
                        Event,
                        r#"SELECT id, incident_id, at, actor, kind, payload FROM timeline_events
                           WHERE incident_id = $1 AND kind = ANY($2)
                             AND ($3::timestamptz IS NULL OR (at, id) > ($3, $4))
                           ORDER BY at, id LIMIT $5"#,
                        incident_id,
                        &kinds,
                        at,
                        id,
                        PAGE,
                    )
                    .fetch_all(&db)
                    .await
                };
                let last = matches!(&page, Ok(p) if (p.len() as i64) < PAGE) || page.is_err();
                after = page.as_ref().ok().and_then(|p| p.last()).map(|e| (e.at, e.id));
                // The writer went away (an error, a closed connection): stop reading.
                if tx.send(page).await.is_err() || last {
                    return;
                }
            }
        });
        Self { pages, page: Vec::new().into_iter() }
    }

    async fn next(&mut self) -> Result<Option<Event>, ExportError> {
        loop {
            if let Some(event) = self.page.next() {
                return Ok(Some(event));
            }
            match self.pages.recv().await {
                Some(page) => self.page = page?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

/// Whole minutes from the declaration (negative before it, e.g. alert-detected).
fn minutes_since(incident: &Incident, at: DateTime<Utc>) -> i64 {
    (at - incident.declared_at).num_minutes()
}

/// The time to acknowledge, mitigate and resolve, in seconds.
fn durations(incident: &Incident) -> [Option<i64>; 3] {
    let since = |t: Option<DateTime<Utc>>| t.map(|t| (t - incident.declared_at).num_seconds());
    [since(incident.acknowledged_at), since(incident.mitigated_at), since(incident.resolved_at)]
}

/// Writes `text` and maps the error.
async fn put<W: AsyncWrite + Unpin + Send>(out: &mut W, text: &str) -> Result<(), ExportError> {
    out.write_all(text.as_bytes()).await?;
    Ok(())
}
