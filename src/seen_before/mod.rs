//! "Seen before": the resolved incidents most like a new one (the same service first, then a
//! similar title by `pg_trgm` trigram similarity), with when, how long, the root cause, the
//! resolution and a link to their report. Posted once in the incident channel, right after the
//! declaration ([`post`], queued by [`react`]); [`similar`] is the lower layer other parts (the
//! catch-up card) read the same list from.
//!
//! Private incidents are never shown as seen before, in any channel: the people of one private
//! channel are not those of another, and a public channel may not hear of one at all. A private
//! incident's own channel sees the others (the non-private ones) like any channel does.

pub mod doctor;
pub mod post;
pub mod query;
pub mod react;

pub use query::{similar, Past};
pub use react::Reactor;

/// How similar incidents are found, decided once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// The same service, then similar titles (`pg_trgm` is installed).
    SimilarTitles,
    /// The same service only: `pg_trgm` could not be created (migration 0025 tries).
    SameServiceOnly,
}

impl Matching {
    /// Whether `pg_trgm` is installed in warroom's database.
    pub async fn detect(db: &sqlx::PgPool) -> sqlx::Result<Self> {
        let installed = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS "installed!""#
        )
        .fetch_one(db)
        .await?;
        Ok(if installed { Self::SimilarTitles } else { Self::SameServiceOnly })
    }

    /// [`Matching::detect`] at start: says so, once, when titles cannot be compared.
    pub async fn at_start(db: &sqlx::PgPool) -> sqlx::Result<Self> {
        let matching = Self::detect(db).await?;
        if matching == Self::SameServiceOnly {
            tracing::warn!("{}", Self::FALLBACK);
        }
        Ok(matching)
    }

    /// What `warroom doctor` and the start say without `pg_trgm`.
    pub const FALLBACK: &'static str = "the Postgres extension pg_trgm is not installed (CREATE EXTENSION pg_trgm failed or was not allowed): \"seen before\" shows incidents of the same service only, not similar titles";
}
