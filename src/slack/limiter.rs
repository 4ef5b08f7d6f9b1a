//! Slack allows about one `chat.postMessage` per second per channel. This limiter hands out
//! per-channel slots: a post that finds its channel busy is given the next free slot and its job
//! is deferred to it, so a burst of N posts to one channel is N deferrals, not N² retries.
//! (Per process: replicas each keep to the limit on their own.)

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

#[derive(Debug)]
pub struct ChannelLimiter {
    interval: chrono::Duration,
    next_free: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl ChannelLimiter {
    pub fn new(interval: std::time::Duration) -> Self {
        Self { interval: chrono::Duration::from_std(interval).unwrap_or_default(), next_free: Mutex::default() }
    }

    /// Takes the channel's slot at `now`; or reserves the next free one and says when it is.
    /// A job that comes back at its reserved time passes `holds_slot` and goes ahead.
    pub fn acquire(&self, channel: &str, now: DateTime<Utc>, holds_slot: bool) -> Result<(), DateTime<Utc>> {
        if self.interval.is_zero() || holds_slot {
            return Ok(());
        }
        let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next_free.get(channel).copied().filter(|at| *at > now).unwrap_or(now);
        next_free.insert(channel.to_string(), slot + self.interval);
        if slot > now {
            Err(slot)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_post_per_interval_per_channel() {
        let limiter = ChannelLimiter::new(std::time::Duration::from_secs(1));
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let s = |n| t0 + chrono::Duration::seconds(n);
        assert!(limiter.acquire("C1", t0, false).is_ok());
        assert_eq!(limiter.acquire("C1", t0, false), Err(s(1)), "the next slot is reserved");
        assert_eq!(limiter.acquire("C1", t0, false), Err(s(2)), "and the one after");
        assert!(limiter.acquire("C2", t0, false).is_ok(), "channels are independent");
        assert!(limiter.acquire("C1", s(1), true).is_ok(), "a job back at its reserved slot goes ahead");
        assert_eq!(limiter.acquire("C1", s(1), false), Err(s(3)), "a newcomer queues behind the reservations");
        assert!(limiter.acquire("C1", s(10), false).is_ok());
    }
}
