//! The workspace's version: a counter every change bumps, and the wait for the next change that
//! the sandbox page's long-poll (`GET /sandbox/state?since=N`) is answered with.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::Workspace;

/// The version, watched by the waiting long-polls.
#[derive(Debug)]
pub(super) struct Changes {
    version: watch::Sender<u64>,
    /// Set when the server stops: nobody waits any more (a waiting request would hold up the
    /// graceful shutdown until its time is up).
    released: AtomicBool,
}

impl Default for Changes {
    fn default() -> Self {
        Self { version: watch::Sender::new(0), released: AtomicBool::new(false) }
    }
}

impl Changes {
    pub(super) fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

impl Workspace {
    /// The state's version: it grows with every change.
    pub fn version(&self) -> u64 {
        *self.changes.version.borrow()
    }

    /// Resolves with the version once it is past `since` (at once if it already is), or after
    /// `timeout` with no change, or when the server stops.
    pub async fn changed_since(&self, since: u64, timeout: Duration) -> u64 {
        let mut version = self.changes.version.subscribe();
        let released = &self.changes.released;
        let changed = version.wait_for(|v| *v > since || released.load(Ordering::Relaxed));
        // Both ends live in `self`, so the wait fails only by timing out: either way, answer.
        let _ = tokio::time::timeout(timeout, changed).await;
        self.version()
    }

    /// How many long-polls are waiting for a change (tests wait for theirs to start waiting).
    pub fn waiting(&self) -> usize {
        self.changes.version.receiver_count()
    }

    /// Answers every waiting long-poll now, and later ones at once: the server is stopping.
    pub fn release_waiters(&self) {
        self.changes.released.store(true, Ordering::Relaxed);
        self.changes.version.send_modify(|_| {});
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Waker};

    use super::*;
    use crate::clock::ManualClock;
    use crate::secret::Secret;

    const LONG: Duration = Duration::from_secs(3600);

    fn workspace() -> Workspace {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Workspace::new(clock, Secret::new("test"))
    }

    /// Polls `future` once: still waiting?
    fn pending<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
        future.poll(&mut Context::from_waker(Waker::noop())).is_pending()
    }

    #[tokio::test]
    async fn a_wait_for_the_current_version_ends_with_the_next_change() {
        let ws = workspace();
        let since = ws.version();
        let wait = ws.changed_since(since, LONG);
        tokio::pin!(wait);
        assert!(pending(wait.as_mut()), "nothing changed yet");

        let channel = ws.create_foreign_channel("war-room");

        assert!(wait.await > since);
        assert!(ws.channel(&channel).is_some());
    }

    #[tokio::test]
    async fn a_wait_for_an_older_version_ends_at_once() {
        let ws = workspace();
        let since = ws.version();
        ws.create_foreign_channel("war-room");

        let wait = ws.changed_since(since, LONG);
        tokio::pin!(wait);
        assert!(!pending(wait.as_mut()));
    }

    #[tokio::test]
    async fn reading_the_workspace_is_not_a_change() {
        let ws = workspace();
        let since = ws.version();

        let _ = (ws.users(), ws.channels(), ws.channel("incidents"), ws.ephemerals("U0ALICE"), ws.views());

        assert_eq!(ws.version(), since);
    }

    #[tokio::test]
    async fn a_wait_with_no_change_ends_with_the_same_version_when_its_time_is_up() {
        let ws = workspace();
        let since = ws.version();

        assert_eq!(ws.changed_since(since, Duration::ZERO).await, since);
    }

    #[tokio::test]
    async fn stopping_the_server_ends_every_wait() {
        let ws = workspace();
        let since = ws.version();
        let wait = ws.changed_since(since, LONG);
        tokio::pin!(wait);
        assert!(pending(wait.as_mut()));

        ws.release_waiters();

        assert_eq!(wait.await, since);
        assert_eq!(ws.changed_since(since, LONG).await, since, "a later wait ends at once");
    }
}
