//! The in-process cache of identity → uuid: a hit costs no network round trip.
//!
//! Entries expire after `identity.cache_ttl_secs` at most, so that a merge, move or unlink made by
//! another instance is seen here within that time; this instance's own changes update or drop
//! entries at once.
//!
//! Each identity's lifetime is shortened by its own fixed share of up to a fifth of the TTL.
//! Identities cached together (a burst, a restart, the benchmark's priming) would otherwise
//! expire together, every TTL, and miss together; with lifetimes that differ, their expiries
//! drift apart.
use super::keys::Identity;
use lru::LruCache;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LocalCache {
    /// The uuid, and when the entry expires.
    entries: Mutex<LruCache<Identity, (String, Instant)>>,
    ttl: Duration,
}

impl LocalCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        LocalCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            ttl,
        }
    }

    pub fn get(&self, identity: &Identity) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(identity) {
            Some((uuid, expires)) if Instant::now() < *expires => Some(uuid.clone()),
            Some(_) => {
                entries.pop(identity);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, identity: &Identity, uuid: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let expires = Instant::now() + self.lifetime(identity);
        entries.put(identity.clone(), (uuid.to_owned(), expires));
    }

    /// The TTL less this identity's share (0 to 20%, the same every time for one identity).
    fn lifetime(&self, identity: &Identity) -> Duration {
        let share = foldhash::fast::FixedState::with_seed(0).hash_one(identity) % 1000;
        self.ttl - self.ttl / 5 * share as u32 / 1000
    }

    pub fn remove(&self, identity: &Identity) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.pop(identity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_until_they_expire() {
        let cache = LocalCache::new(10, Duration::from_millis(50));
        let d = Identity::new("deviceUUID", "d-1");
        cache.put(&d, "u-1");
        assert_eq!(cache.get(&d).as_deref(), Some("u-1"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&d), None, "an expired entry is not believed");
    }

    #[test]
    fn identities_cached_together_expire_at_different_times() {
        let ttl = Duration::from_secs(100);
        let cache = LocalCache::new(10, ttl);
        let lifetimes: Vec<Duration> = (0..100)
            .map(|i| cache.lifetime(&Identity::new("deviceUUID", format!("d-{i}"))))
            .collect();
        assert!(lifetimes.iter().all(|l| *l <= ttl && *l >= ttl * 4 / 5));
        let shortest = lifetimes.iter().min().unwrap();
        let longest = lifetimes.iter().max().unwrap();
        assert!(
            *longest - *shortest >= Duration::from_secs(15),
            "spread {shortest:?}..{longest:?}"
        );
        let d = Identity::new("deviceUUID", "d-1");
        assert_eq!(
            cache.lifetime(&d),
            cache.lifetime(&d),
            "one identity, one lifetime"
        );
    }

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let cache = LocalCache::new(2, Duration::from_secs(60));
        let (a, b, c) = (
            Identity::new("k", "a"),
            Identity::new("k", "b"),
            Identity::new("k", "c"),
        );
        cache.put(&a, "1");
        cache.put(&b, "2");
        cache.get(&a);
        cache.put(&c, "3");
        assert_eq!(cache.get(&b), None);
        assert_eq!(cache.get(&a).as_deref(), Some("1"));
        cache.remove(&a);
        assert_eq!(cache.get(&a), None);
    }
}
