//! The in-process cache of identity → uuid: a hit costs no network round trip.
//!
//! An entry is believed for `identity.cache_ttl_secs` at most, so that a merge, move or unlink
//! made by another instance is seen here within that time; this instance's own changes update or
//! drop entries at once.
//!
//! Entries in use are refreshed ahead of their expiry: from 60–80% of the TTL on (each identity
//! its own fixed share), the first lookup is told to refresh the entry and still gets the cached
//! uuid; the caller reads the store in the background. A busy identity therefore never misses,
//! and no request waits for it. Without this, identities cached together (a burst, a restart, the
//! benchmark's priming) all expired together every TTL, and the wave of reads that followed
//! stalled requests for seconds on the embedded store.
use super::keys::Identity;
use lru::LruCache;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the cache knows of an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// Believed; nothing to do.
    Fresh(String),
    /// Believed, and due for a refresh: this caller (and only this one) should read the store.
    Refresh(String),
    /// Not cached, or expired.
    Missing,
}

struct Entry {
    uuid: String,
    refresh_at: Instant,
    expires_at: Instant,
    /// A caller was told to refresh it.
    refreshing: bool,
}

pub struct LocalCache {
    entries: Mutex<LruCache<Identity, Entry>>,
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

    pub fn get(&self, identity: &Identity) -> Cached {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = entries.get_mut(identity) else {
            return Cached::Missing;
        };
        if now >= entry.expires_at {
            entries.pop(identity);
            return Cached::Missing;
        }
        if now >= entry.refresh_at && !entry.refreshing {
            entry.refreshing = true;
            return Cached::Refresh(entry.uuid.clone());
        }
        Cached::Fresh(entry.uuid.clone())
    }

    pub fn put(&self, identity: &Identity, uuid: &str) {
        let now = Instant::now();
        let entry = Entry {
            uuid: uuid.to_owned(),
            refresh_at: now + self.refresh_after(identity),
            expires_at: now + self.ttl,
            refreshing: false,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.put(identity.clone(), entry);
    }

    pub fn remove(&self, identity: &Identity) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.pop(identity);
    }

    /// When an entry becomes due for a refresh: 60% of the TTL plus this identity's share of
    /// another 20% (the same every time for one identity), so refreshes spread out.
    fn refresh_after(&self, identity: &Identity) -> Duration {
        let share = foldhash::fast::FixedState::with_seed(0).hash_one(identity) % 1000;
        self.ttl * 3 / 5 + self.ttl / 5 * share as u32 / 1000
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
        assert_eq!(cache.get(&d), Cached::Fresh("u-1".into()));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            cache.get(&d),
            Cached::Missing,
            "an expired entry is not believed"
        );
    }

    #[test]
    fn an_entry_in_use_is_refreshed_by_one_caller_before_it_expires() {
        // d-1 is due at 60-80% of the TTL (2.4-3.2 s), and expires at 100% (4 s).
        let cache = LocalCache::new(10, Duration::from_secs(4));
        let d = Identity::new("deviceUUID", "d-1");
        cache.put(&d, "u-1");
        assert_eq!(cache.get(&d), Cached::Fresh("u-1".into()));
        std::thread::sleep(Duration::from_millis(3_500));
        assert_eq!(
            cache.get(&d),
            Cached::Refresh("u-1".into()),
            "due: one caller refreshes"
        );
        assert_eq!(
            cache.get(&d),
            Cached::Fresh("u-1".into()),
            "the others do not"
        );
        cache.put(&d, "u-1");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            cache.get(&d),
            Cached::Fresh("u-1".into()),
            "refreshed: a new lifetime"
        );
    }

    #[test]
    fn identities_cached_together_are_due_at_different_times() {
        let ttl = Duration::from_secs(100);
        let cache = LocalCache::new(10, ttl);
        let due: Vec<Duration> = (0..100)
            .map(|i| cache.refresh_after(&Identity::new("deviceUUID", format!("d-{i}"))))
            .collect();
        assert!(due.iter().all(|d| *d >= ttl * 3 / 5 && *d <= ttl * 4 / 5));
        let first = due.iter().min().unwrap();
        let last = due.iter().max().unwrap();
        assert!(
            *last - *first >= Duration::from_secs(15),
            "spread {first:?}..{last:?}"
        );
        let d = Identity::new("deviceUUID", "d-1");
        assert_eq!(
            cache.refresh_after(&d),
            cache.refresh_after(&d),
            "one identity, one time"
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
        assert_eq!(cache.get(&b), Cached::Missing);
        assert_eq!(cache.get(&a), Cached::Fresh("1".into()));
        cache.remove(&a);
        assert_eq!(cache.get(&a), Cached::Missing);
    }
}
