//! The database: connect (to `DATABASE_URL`, or an embedded Postgres) and migrate.

pub mod embedded;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

/// The numbered migrations in `migrations/`, compiled in.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects a pool to `url`.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await
}

/// Begins a transaction whose commit does not wait for its WAL to reach the disk
/// (`synchronous_commit = off`; Postgres flushes it within a fraction of a second).
///
/// Only for records whose loss in a crash of Postgres itself costs nothing new: the job
/// queue's claims and completions and a post's settled answer. Losing one is the same as a
/// worker killed just before writing it — the job runs again, and a post whose intent (always
/// flushed, before Slack is called) is still uncertain is looked for before it is sent again.
/// Everything committed after it is ordered after it in the WAL, so nothing that depends on it
/// survives without it. What it saves is a disk flush per job that the acknowledgements of
/// Slack's requests would otherwise queue behind.
pub async fn begin_unflushed(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    Ok(tx)
}

/// Applies any migrations not yet applied.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
