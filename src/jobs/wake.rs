//! Waking workers when work is queued: in this process through a `Notify`, on every replica
//! through Postgres `LISTEN`/`NOTIFY`. Wake-ups only shorten the wait: workers also look at the
//! queue on their own (`runner::MAX_IDLE`, 30 s), so a lost notification delays a job by at most that.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tracing::warn;

use crate::app::AppState;

/// The Postgres notification channel.
pub const CHANNEL: &str = "warroom_jobs";

/// Wakes a worker in this process (for work queued by a job: this process's workers are awake).
pub fn wake(state: &AppState) {
    state.jobs_ready.notify_one();
}

/// Wakes a worker here and, through Postgres, on every replica (for work queued by a request,
/// which may have reached a replica whose workers are busy or absent). Off the caller's path,
/// and coalesced: at most one NOTIFY is in flight, because NOTIFY serialises commits and each
/// one holds a pool connection.
pub fn wake_everywhere(state: &AppState) {
    state.jobs_ready.notify_one();
    if state.notify_in_flight.swap(true, Ordering::AcqRel) {
        return;
    }
    let (db, in_flight) = (state.db.clone(), state.notify_in_flight.clone());
    tokio::spawn(async move {
        // Cleared first, so that work queued while this NOTIFY is sent gets one of its own.
        in_flight.store(false, Ordering::Release);
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
