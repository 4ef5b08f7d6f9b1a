//! Waking workers when work is queued: in this process through a `Notify`, on every replica
//! through Postgres `LISTEN`/`NOTIFY`. Wake-ups only shorten the wait: workers also poll every
//! second, so a lost notification delays a job by at most that.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tracing::warn;

use crate::app::AppState;

/// The Postgres notification channel.
pub const CHANNEL: &str = "warroom_jobs";

/// Wakes a worker here at once, and the other replicas' workers through Postgres (off the
/// caller's path: a request is answered without waiting for it).
pub fn wake(state: &AppState) {
    state.jobs_ready.notify_one();
    let db = state.db.clone();
    tokio::spawn(async move {
        if let Err(e) = sqlx::query!("SELECT pg_notify($1, '')", CHANNEL).execute(&db).await {
            warn!("could not notify other replicas of queued work: {e}");
        }
    });
}

/// Relays other replicas' notifications to this process's workers until `stop`.
pub async fn listen(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut listener = loop {
        match PgListener::connect_with(&state.db).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => break listener,
                Err(e) => warn!("cannot LISTEN for queued work (polling only): {e}"),
            },
            Err(e) => warn!("cannot LISTEN for queued work (polling only): {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    };
    loop {
        tokio::select! {
            received = listener.recv() => match received {
                Ok(_) => state.jobs_ready.notify_one(),
                // The listener reconnects on the next recv().
                Err(e) => {
                    warn!("lost the LISTEN connection, reconnecting: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}
