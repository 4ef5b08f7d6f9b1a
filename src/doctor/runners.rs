//! The remote runners: each one configured (a token in `WARROOM_RUNNER_TOKENS`, or named by a
//! service's `runner = "..."`) has a token and has polled within the time after which warroom
//! calls it offline. Their last polls are in the database (`runners.last_seen`, written by
//! every poll), so this needs `DATABASE_URL`; without one it is skipped rather than starting
//! the embedded database, which a running warroom may hold.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{Check, Context};
use crate::diagnostics::runner_tasks::OFFLINE_AFTER;

const NAME: &str = "runner";

pub async fn checks(cx: &Context<'_>) -> Vec<Check> {
    let settings = cx.settings;
    let with_tokens: BTreeSet<&str> = settings.runner_tokens.names().collect();
    let named: BTreeSet<&str> =
        settings.file.services.values().filter_map(|s| s.runner.as_deref()).filter(|r| *r != "local").collect();
    let all: BTreeSet<&str> = with_tokens.union(&named).copied().collect();
    if all.is_empty() {
        return vec![Check::pass("runners", "no remote runner is configured (diagnostics run in warroom's process)")];
    }
    let Some(url) = &settings.database_url else {
        return all.iter().map(|r| Check::skip(&format!("{NAME} {r}"), "no DATABASE_URL")).collect();
    };
    let names: Vec<String> = all.iter().map(|r| r.to_string()).collect();
    let seen = match last_polls(url.expose(), &names).await {
        Ok(seen) => seen,
        Err(e) => {
            let fix = "check DATABASE_URL (and run `warroom migrate` on a new database)";
            return all
                .iter()
                .map(|r| Check::fail(&format!("{NAME} {r}"), format!("the database: {e}"), fix))
                .collect();
        }
    };
    let now = cx.clock.now();
    all.iter()
        .map(|runner| {
            let name = format!("{NAME} {runner}");
            if !with_tokens.contains(runner) {
                return Check::fail(
                    &name,
                    "named by a service but has no token in WARROOM_RUNNER_TOKENS, so it cannot connect",
                    format!("add {runner}=<token> to WARROOM_RUNNER_TOKENS (a token from `openssl rand -hex 32`)"),
                );
            }
            let start = format!(
                "start `warroom runner --server <this server> --catalog <packs>` on its host with \
                 WARROOM_RUNNER_TOKEN set to {runner}'s token, and check it reaches this server"
            );
            match seen.iter().find(|(n, _)| n == runner).map(|(_, at)| *at) {
                None => Check::fail(&name, "has never polled", start),
                Some(at) if (now - at).num_seconds() > OFFLINE_AFTER => Check::fail(
                    &name,
                    format!("last polled {} UTC ({} ago): offline", at.format("%Y-%m-%d %H:%M:%S"), ago(now - at)),
                    start,
                ),
                Some(at) => Check::pass(&name, format!("polled {} ago", ago(now - at))),
            }
        })
        .collect()
}

/// Each runner's last poll, for those that ever polled.
async fn last_polls(url: &str, names: &[String]) -> Result<Vec<(String, DateTime<Utc>)>, String> {
    let options =
        sqlx::postgres::PgPoolOptions::new().max_connections(1).acquire_timeout(std::time::Duration::from_secs(10));
    // The URL may carry a password: the error says only what failed.
    let pool = options.connect(url).await.map_err(|_| "cannot connect to DATABASE_URL".to_string())?;
    let rows = sqlx::query!("SELECT name, last_seen FROM runners WHERE name = ANY($1)", names)
        .fetch_all(&pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) => db.message().to_string(),
            _ => "the query failed".to_string(),
        });
    pool.close().await;
    Ok(rows?.into_iter().map(|r| (r.name, r.last_seen)).collect())
}

/// "12 s", "5 min", "3 h", "2 days".
fn ago(gap: chrono::Duration) -> String {
    let secs = gap.num_seconds().max(0);
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}
