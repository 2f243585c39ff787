//! One rate limiter per process, shared by every bot and user: token buckets per scope (a
//! venue's IP-wide weight budget, a credential's order budget, ...), waiting instead of
//! failing, and honouring what the venue says (a `Retry-After`, or its own count of the
//! weight used).
//!
//! Invariants:
//! - A request takes its weight from every bucket it belongs to, atomically: it waits until
//!   all of them have room, so no bucket is drained by a request another one refuses.
//! - A venue's "back off" (HTTP 429/418 with `Retry-After`) blocks the whole bucket until
//!   then, for everyone sharing it: one bot's 429 slows all of them down instead of letting
//!   the others get the IP banned.
//! - Time is tokio's clock, so tests run with paused time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A bucket's shape: `capacity` tokens, refilled at `per` (e.g. 6,000 weight per minute).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quota {
    /// Most tokens held.
    pub capacity: f64,
    /// Time to refill a full bucket.
    pub per: Duration,
}

impl Quota {
    /// `capacity` per `per`.
    pub fn new(capacity: u32, per: Duration) -> Self {
        Self {
            capacity: f64::from(capacity.max(1)),
            per,
        }
    }

    fn rate_per_sec(self) -> f64 {
        self.capacity / self.per.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug)]
struct Bucket {
    quota: Quota,
    tokens: f64,
    at: Instant,
    blocked_until: Option<Instant>,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.quota.rate_per_sec()).min(self.quota.capacity);
        self.at = now;
    }

    /// How long until `weight` fits (zero when it fits now).
    fn wait_for(&mut self, weight: f64, now: Instant) -> Duration {
        self.refill(now);
        if let Some(until) = self.blocked_until {
            if until > now {
                return until - now;
            }
            self.blocked_until = None;
        }
        let weight = weight.min(self.quota.capacity);
        if self.tokens >= weight {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((weight - self.tokens) / self.quota.rate_per_sec())
        }
    }
}

/// The process-wide limiter; clones share the buckets.
#[derive(Clone, Debug, Default)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// A limiter with no buckets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide limiter: every venue client built with the default configuration
    /// shares it, so all bots and users behind one IP draw from the same budgets.
    pub fn global() -> Self {
        static GLOBAL: std::sync::OnceLock<RateLimiter> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Self::new).clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Declares a bucket (`binance:ip`, `binance:key:<id>:orders`, ...); a second declaration
    /// of the same key keeps the first.
    pub fn define(&self, key: &str, quota: Quota) {
        let now = Instant::now();
        self.lock().entry(key.to_string()).or_insert(Bucket {
            quota,
            tokens: quota.capacity,
            at: now,
            blocked_until: None,
        });
    }

    /// Waits until every bucket in `keys` has room for `weight`, then takes it from all of
    /// them. Unknown keys are ignored (no limit declared).
    pub async fn acquire(&self, keys: &[&str], weight: u32) {
        let weight = f64::from(weight);
        loop {
            let wait = {
                let now = Instant::now();
                let mut buckets = self.lock();
                let mut wait = Duration::ZERO;
                for k in keys {
                    if let Some(b) = buckets.get_mut(*k) {
                        wait = wait.max(b.wait_for(weight, now));
                    }
                }
                if wait.is_zero() {
                    for k in keys {
                        if let Some(b) = buckets.get_mut(*k) {
                            b.tokens -= weight.min(b.quota.capacity);
                        }
                    }
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The venue said to back off (`Retry-After`): nobody uses `key` until then.
    pub fn back_off(&self, key: &str, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        if let Some(b) = self.lock().get_mut(key) {
            b.blocked_until = Some(b.blocked_until.map_or(until, |u| u.max(until)));
            b.tokens = 0.0;
        }
    }

    /// The venue reported how much of the window is used (Binance `X-MBX-USED-WEIGHT-1M`):
    /// when it counts more than we do (other processes on the same IP), believe it.
    pub fn observe_used(&self, key: &str, used: u32) {
        let now = Instant::now();
        if let Some(b) = self.lock().get_mut(key) {
            b.refill(now);
            let left = (b.quota.capacity - f64::from(used)).max(0.0);
            b.tokens = b.tokens.min(left);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_wait_for_room_instead_of_failing() {
        let l = RateLimiter::new();
        l.define("v:ip", Quota::new(10, Duration::from_secs(10)));
        let t0 = Instant::now();
        l.acquire(&["v:ip"], 10).await;
        assert_eq!(
            Instant::now() - t0,
            Duration::ZERO,
            "a full bucket serves at once"
        );
        l.acquire(&["v:ip"], 5).await;
        assert_eq!(
            Instant::now() - t0,
            Duration::from_secs(5),
            "5 tokens refill in 5 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_takes_from_every_bucket_it_belongs_to() {
        let l = RateLimiter::new();
        l.define("v:ip", Quota::new(100, Duration::from_secs(60)));
        l.define("v:key:a:orders", Quota::new(2, Duration::from_secs(10)));
        let t0 = Instant::now();
        for _ in 0..3 {
            l.acquire(&["v:ip", "v:key:a:orders"], 1).await;
        }
        assert_eq!(
            Instant::now() - t0,
            Duration::from_secs(5),
            "the order bucket is the bottleneck"
        );
        // The IP bucket was charged for all three, and another credential shares it.
        l.define("v:key:b:orders", Quota::new(1000, Duration::from_secs(1)));
        let t1 = Instant::now();
        l.acquire(&["v:ip", "v:key:b:orders"], 97).await;
        assert!(
            Instant::now() - t1 < Duration::from_secs(3),
            "97 of 100 were left (plus refill)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_venue_back_off_blocks_everyone_sharing_the_bucket() {
        let l = RateLimiter::new();
        l.define("v:ip", Quota::new(1000, Duration::from_secs(60)));
        l.back_off("v:ip", Duration::from_secs(30));
        let t0 = Instant::now();
        let other = l.clone();
        let h = tokio::spawn(async move { other.acquire(&["v:ip"], 1).await });
        l.acquire(&["v:ip"], 1).await;
        h.await.unwrap();
        assert!(Instant::now() - t0 >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn the_venues_own_count_wins_when_it_is_higher() {
        let l = RateLimiter::new();
        l.define("binance:ip", Quota::new(6000, Duration::from_secs(60)));
        l.observe_used("binance:ip", 5990);
        let t0 = Instant::now();
        l.acquire(&["binance:ip"], 20).await;
        assert_eq!(
            Instant::now() - t0,
            Duration::from_millis(100),
            "10 left, 10 more take 0.1 s"
        );
    }
}
