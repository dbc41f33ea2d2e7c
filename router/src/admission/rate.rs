//! Token buckets by key (a client, a project), on governor's GCRA: a steady rate and a burst.
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Buckets<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// Buckets refilling at `per_sec` and holding `burst`; `None` when `per_sec` is 0 (no limit).
    pub fn new(per_sec: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Buckets {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// Takes `n` tokens from `key`'s bucket, or says how long until they would be there (and
    /// takes none).
    pub fn take(&self, key: &K, n: u32) -> Result<(), Duration> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            // More than a full bucket: it can never pass at once; a second is the honest hint
            // that it must be sent in smaller pieces, the configuration checks make it rare.
            Err(_) => Err(Duration::from_secs(1)),
        }
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_keys_are_apart() {
        let buckets = Buckets::new(1, 3).unwrap();
        for _ in 0..3 {
            buckets.take(&"a", 1).unwrap();
        }
        let wait = buckets.take(&"a", 1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        buckets.take(&"b", 3).unwrap();
        assert!(buckets.take(&"b", 4).is_err(), "more than a bucket holds");
        assert!(
            Buckets::<&str>::new(0, 10).is_none(),
            "0 turns the limit off"
        );
    }
}
