//! The in-process cache of identity → uuid: a hit costs no network round trip.
//!
//! Entries expire after `identity.cache_ttl_secs` so that a merge, move or unlink made by another
//! instance is seen here within that time; this instance's own changes update or drop entries at
//! once.
use super::keys::Identity;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LocalCache {
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
            Some((uuid, at)) if at.elapsed() < self.ttl => Some(uuid.clone()),
            Some(_) => {
                entries.pop(identity);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, identity: &Identity, uuid: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.put(identity.clone(), (uuid.to_owned(), Instant::now()));
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
