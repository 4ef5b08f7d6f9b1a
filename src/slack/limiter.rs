//! Slack allows about one `chat.postMessage` per second per channel. This limiter hands out
//! per-channel slots; a job that finds its channel busy is deferred to the next slot instead of
//! being throttled by Slack. (Per process: replicas each keep to the limit on their own.)

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

    /// Takes the channel's slot at `now`, or says when the next one is free.
    pub fn acquire(&self, channel: &str, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        if self.interval.is_zero() {
            return Ok(());
        }
        let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        match next_free.get(channel) {
            Some(at) if *at > now => Err(*at),
            _ => {
                next_free.insert(channel.to_string(), now + self.interval);
                Ok(())
            }
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
        assert!(limiter.acquire("C1", t0).is_ok());
        assert_eq!(limiter.acquire("C1", t0), Err(t0 + chrono::Duration::seconds(1)));
        assert!(limiter.acquire("C2", t0).is_ok());
        assert!(limiter.acquire("C1", t0 + chrono::Duration::seconds(1)).is_ok());
    }
}
