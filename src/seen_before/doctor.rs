//! `warroom doctor`'s line for "seen before": whether `pg_trgm` is installed (similar titles)
//! or not (the same service only). Its absence is no failure (warroom works without it), so it
//! is a skip that says what to do. Needs `DATABASE_URL`, like the runners' check.

use crate::doctor::{Check, Context};

const NAME: &str = "seen before";

pub async fn check(cx: &Context<'_>) -> Check {
    let Some(url) = &cx.settings.database_url else { return Check::skip(NAME, "no DATABASE_URL") };
    against(url.expose()).await
}

/// The check against the database at `url`.
pub async fn against(url: &str) -> Check {
    let options =
        sqlx::postgres::PgPoolOptions::new().max_connections(1).acquire_timeout(std::time::Duration::from_secs(10));
    let Ok(pool) = options.connect(url).await else { return Check::skip(NAME, "cannot connect to DATABASE_URL") };
    let matching = super::Matching::detect(&pool).await;
    pool.close().await;
    match matching {
        Ok(super::Matching::SimilarTitles) => {
            Check::pass(NAME, "pg_trgm is installed: the same service, then similar titles")
        }
        Ok(super::Matching::SameServiceOnly) => Check::skip(
            NAME,
            format!("{} — to match titles, run `CREATE EXTENSION pg_trgm;` and create the title index (README, \"Seen before\"), then restart warroom", super::Matching::FALLBACK),
        ),
        Err(e) => Check::skip(NAME, format!("cannot read the database's extensions: {e}")),
    }
}
