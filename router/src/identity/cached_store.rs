//! The identity store behind its two caches: in-process (per instance) in front of Redis (shared)
//! in front of the database. Reads fill the caches on the way back; writes go to the database and
//! then update or drop the cached entries they change.
//!
//! Redis trouble never fails a request: a Redis error is counted and the database answers.
//!
//! Identities in use are refreshed in the background before their in-process entry expires
//! (`local_cache.rs`), and concurrent misses of one identity share one read (`flights.rs`): a
//! request waits for the store only for identities it is the first in a while to see.
use super::flights::Flights;
use super::keys::Identity;
use super::local_cache::{Cached, LocalCache};
use super::redis_cache::RedisCache;
use super::store::{AccountLink, IdentityStore, Link, MergeNote, MergeOutcome, StoreError};
use std::sync::Arc;

/// `last_seen` is refreshed at most this often per identity (and only when the store is read: a
/// miss or a background refresh).
const LAST_SEEN_GRANULARITY_MS: i64 = 60 * 60 * 1000;

/// Cloning is cheap (shared parts), so a background refresh can own one.
#[derive(Clone)]
pub struct CachedStore {
    store: Arc<dyn IdentityStore>,
    local: Arc<LocalCache>,
    redis: Option<RedisCache>,
    answered_by: LookupCounters,
    /// Reads from Redis or the database in flight: concurrent misses of one identity share one.
    reads: Arc<Flights<Identity, SharedRead>>,
}

/// The answer of a read shared by concurrent lookups: the uuid, or the failure all of them get.
type SharedRead = Result<Option<String>, Arc<StoreError>>;

/// `slog_identity_lookups_total{answered_by}`, registered once: a lookup runs several times per
/// event, and a handle's increment is one atomic add where `counter!` would look the key up.
#[derive(Clone)]
struct LookupCounters {
    memory: metrics::Counter,
    redis: metrics::Counter,
    database: metrics::Counter,
}

impl LookupCounters {
    fn new() -> Self {
        let counter = |layer: &'static str| metrics::counter!("slog_identity_lookups_total", "answered_by" => layer);
        LookupCounters {
            memory: counter("memory"),
            redis: counter("redis"),
            database: counter("database"),
        }
    }
}

impl CachedStore {
    pub fn new(
        store: Arc<dyn IdentityStore>,
        local: LocalCache,
        redis: Option<RedisCache>,
    ) -> Self {
        CachedStore {
            store,
            local: Arc::new(local),
            redis,
            answered_by: LookupCounters::new(),
            reads: Arc::default(),
        }
    }

    pub fn store(&self) -> &dyn IdentityStore {
        self.store.as_ref()
    }

    /// The uuid of `identity`, seen at `at` (epoch ms).
    pub async fn lookup(&self, identity: &Identity, at: i64) -> Result<Option<String>, StoreError> {
        let uuid = match self.local.get(identity) {
            Cached::Fresh(uuid) => uuid,
            Cached::Refresh(uuid) => {
                self.refresh_in_background(identity, at);
                uuid
            }
            Cached::Missing => return self.read_shared(identity, at).await,
        };
        self.answered_by.memory.increment(1);
        Ok(Some(uuid))
    }

    /// Reads `identity` through Redis and the database, sharing a read already in flight.
    async fn read_shared(
        &self,
        identity: &Identity,
        at: i64,
    ) -> Result<Option<String>, StoreError> {
        self.reads
            .share(identity, async {
                self.read_through(identity, at).await.map_err(Arc::new)
            })
            .await
            .map_err(StoreError::Shared)
    }

    /// Re-reads an identity that is in use before its in-process entry expires. A failed refresh
    /// changes nothing: the entry expires at its time and the next lookup reads in the foreground.
    fn refresh_in_background(&self, identity: &Identity, at: i64) {
        let (this, identity) = (self.clone(), identity.clone());
        tokio::spawn(async move {
            if let Err(error) = this.read_shared(&identity, at).await {
                tracing::debug!(%error, "identity cache refresh failed; the entry expires as usual");
            }
        });
    }

    /// A miss of the in-process cache: Redis, then the database; the answer is remembered before
    /// the shared read lands, so callers after it hit the cache.
    async fn read_through(
        &self,
        identity: &Identity,
        at: i64,
    ) -> Result<Option<String>, StoreError> {
        if let Some(redis) = &self.redis {
            match redis.get(identity).await {
                Ok(Some(uuid)) => {
                    self.answered_by.redis.increment(1);
                    self.local.put(identity, &uuid);
                    return Ok(Some(uuid));
                }
                Ok(None) => {}
                Err(e) => redis_failed(&e),
            }
        }
        self.answered_by.database.increment(1);
        let Some(found) = self.store.lookup(identity).await? else {
            // Unlinked since it was cached (a refresh): the entry must not outlive the link.
            self.local.remove(identity);
            return Ok(None);
        };
        // The write only when the recorded sighting is stale; `touch` checks again in its
        // UPDATE, so a racing instance's newer `last_seen` is never overwritten.
        if found.last_seen < at - LAST_SEEN_GRANULARITY_MS {
            self.store
                .touch(identity, at, LAST_SEEN_GRANULARITY_MS)
                .await?;
        }
        self.remember(identity, &found.uuid).await;
        Ok(Some(found.uuid))
    }

    /// Links `identity` to `uuid` unless it has a uuid already; the uuid it has afterwards.
    pub async fn link(
        &self,
        identity: &Identity,
        uuid: &str,
        at: i64,
    ) -> Result<String, StoreError> {
        let linked = self.store.link(identity, uuid, at).await?;
        self.remember(identity, &linked).await;
        Ok(linked)
    }

    /// Moves `identity` from `from` to `to` if it is still on `from`; whether it moved.
    pub async fn relink(
        &self,
        identity: &Identity,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let moved = self.store.relink(identity, from, to, at).await?;
        self.forget_cached(std::slice::from_ref(identity)).await;
        Ok(moved)
    }

    /// Links an account identity (see `IdentityStore::link_account`).
    pub async fn link_account(
        &self,
        identity: &Identity,
        uuid: &str,
        at: i64,
    ) -> Result<AccountLink, StoreError> {
        let linked = self.store.link_account(identity, uuid, at).await?;
        match &linked {
            AccountLink::Linked => self.remember(identity, uuid).await,
            AccountLink::OnOther(other) => self.remember(identity, other).await,
            AccountLink::Clash => self.forget_cached(std::slice::from_ref(identity)).await,
        }
        Ok(linked)
    }

    /// Merges `from` into `to` (see `IdentityStore::merge`); the cached entries of every
    /// identity that moved are dropped.
    pub async fn merge(
        &self,
        from: &str,
        to: &str,
        at: i64,
        reason: &str,
        account_keys: &[&str],
        note: &MergeNote,
    ) -> Result<MergeOutcome, StoreError> {
        let outcome = self
            .store
            .merge(from, to, at, reason, account_keys, note)
            .await?;
        match &outcome {
            MergeOutcome::Merged(moved) => self.forget_cached(moved).await,
            MergeOutcome::Gone { swept, .. } => self.forget_cached(swept).await,
            MergeOutcome::Refused => {}
        }
        Ok(outcome)
    }

    /// Drops the cached entries of `identities`, so that the next lookup reads the store: after
    /// a merge raced with another request's, what this instance cached may be stale.
    pub async fn invalidate(&self, identities: &[Identity]) {
        self.forget_cached(identities).await;
    }

    pub async fn identities_under(
        &self,
        uuid: &str,
        keys: &[&str],
    ) -> Result<Vec<Identity>, StoreError> {
        self.store.identities_under(uuid, keys).await
    }

    pub async fn links_of(&self, uuid: &str) -> Result<Vec<Link>, StoreError> {
        self.store.links_of(uuid).await
    }

    pub async fn unlink(&self, identity: &Identity) -> Result<Option<String>, StoreError> {
        let was = self.store.unlink(identity).await?;
        self.forget_cached(std::slice::from_ref(identity)).await;
        Ok(was)
    }

    pub async fn forget(&self, uuid: &str) -> Result<Vec<Identity>, StoreError> {
        let gone = self.store.forget(uuid).await?;
        self.forget_cached(&gone).await;
        Ok(gone)
    }

    async fn remember(&self, identity: &Identity, uuid: &str) {
        self.local.put(identity, uuid);
        if let Some(redis) = &self.redis {
            if let Err(e) = redis.put(identity, uuid).await {
                redis_failed(&e);
            }
        }
    }

    async fn forget_cached(&self, identities: &[Identity]) {
        for identity in identities {
            self.local.remove(identity);
        }
        if let Some(redis) = &self.redis {
            if let Err(e) = redis.remove(identities).await {
                // Left behind, the entries expire with their TTL; the log says which were kept.
                tracing::warn!(error = %e, identities = identities.len(),
                    "could not drop moved identities from Redis");
                redis_failed(&e);
            }
        }
    }
}

fn redis_failed(error: &super::redis_cache::RedisError) {
    tracing::debug!(%error, "identity cache: Redis failed, using the database");
    metrics::counter!("slog_identity_redis_errors_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::sql_store::SqlStore;
    use crate::identity::store::{Blocked, Found, Link, PendingMerge};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A real (in-memory SQLite) store whose lookups are slow and counted: a database under load.
    struct SlowLookups {
        inner: SqlStore,
        lookups: AtomicUsize,
    }

    #[async_trait]
    impl IdentityStore for SlowLookups {
        async fn lookup(&self, identity: &Identity) -> Result<Option<Found>, StoreError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.inner.lookup(identity).await
        }
        async fn touch(&self, identity: &Identity, at: i64, g: i64) -> Result<(), StoreError> {
            self.inner.touch(identity, at, g).await
        }
        async fn link(
            &self,
            identity: &Identity,
            uuid: &str,
            at: i64,
        ) -> Result<String, StoreError> {
            self.inner.link(identity, uuid, at).await
        }
        async fn relink(
            &self,
            i: &Identity,
            f: &str,
            t: &str,
            at: i64,
        ) -> Result<bool, StoreError> {
            self.inner.relink(i, f, t, at).await
        }
        async fn link_account(
            &self,
            identity: &Identity,
            uuid: &str,
            at: i64,
        ) -> Result<AccountLink, StoreError> {
            self.inner.link_account(identity, uuid, at).await
        }
        async fn merge(
            &self,
            f: &str,
            t: &str,
            at: i64,
            r: &str,
            keys: &[&str],
            note: &MergeNote,
        ) -> Result<MergeOutcome, StoreError> {
            self.inner.merge(f, t, at, r, keys, note).await
        }
        async fn pending_merges(
            &self,
            before: i64,
            limit: usize,
        ) -> Result<Vec<PendingMerge>, StoreError> {
            self.inner.pending_merges(before, limit).await
        }
        async fn merges_delivered(&self, ids: &[uuid::Uuid]) -> Result<(), StoreError> {
            self.inner.merges_delivered(ids).await
        }
        async fn identities_under(
            &self,
            uuid: &str,
            keys: &[&str],
        ) -> Result<Vec<Identity>, StoreError> {
            self.inner.identities_under(uuid, keys).await
        }
        async fn note_device_owners(
            &self,
            i: &Identity,
            owners: &[&str],
            at: i64,
        ) -> Result<usize, StoreError> {
            self.inner.note_device_owners(i, owners, at).await
        }
        async fn block(&self, i: &Identity, n: usize, at: i64) -> Result<(), StoreError> {
            self.inner.block(i, n, at).await
        }
        async fn blocked(&self) -> Result<Vec<Blocked>, StoreError> {
            self.inner.blocked().await
        }
        async fn unblock(&self, i: &Identity) -> Result<bool, StoreError> {
            self.inner.unblock(i).await
        }
        async fn links_of(&self, uuid: &str) -> Result<Vec<Link>, StoreError> {
            self.inner.links_of(uuid).await
        }
        async fn unlink(&self, identity: &Identity) -> Result<Option<String>, StoreError> {
            self.inner.unlink(identity).await
        }
        async fn forget(&self, uuid: &str) -> Result<Vec<Identity>, StoreError> {
            self.inner.forget(uuid).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
    }

    #[tokio::test]
    async fn requests_missing_one_identity_together_read_the_database_once() {
        let device = Identity::new("deviceUUID", "d-1");
        let store = slow_store_with(&device).await;
        let cached = Arc::new(cached_with_ttl(&store, Duration::from_secs(60)));
        let requests: Vec<_> = (0..32)
            .map(|_| {
                let (cached, device) = (cached.clone(), device.clone());
                tokio::spawn(async move { cached.lookup(&device, 2_000).await })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await.unwrap().unwrap().as_deref(), Some("p-1"));
        }
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
        // Afterwards the answer is in memory.
        assert_eq!(
            cached.lookup(&device, 3_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
    }

    /// `store` behind an in-process cache with `ttl` (no Redis).
    fn cached_with_ttl(store: &Arc<SlowLookups>, ttl: Duration) -> CachedStore {
        CachedStore::new(store.clone(), LocalCache::new(100, ttl), None)
    }

    async fn slow_store_with(device: &Identity) -> Arc<SlowLookups> {
        let store = Arc::new(SlowLookups {
            inner: SqlStore::open("sqlite::memory:").await.unwrap(),
            lookups: AtomicUsize::new(0),
        });
        store.inner.link(device, "p-1", 1_000).await.unwrap();
        store
    }

    #[tokio::test]
    async fn an_identity_in_use_is_refreshed_in_the_background_and_never_misses() {
        let device = Identity::new("deviceUUID", "d-1");
        let store = slow_store_with(&device).await;
        // d-1 is due for a refresh at 60-80% of the TTL (2.4-3.2 s), and expires at 100% (4 s).
        let cached = cached_with_ttl(&store, Duration::from_secs(4));
        assert_eq!(
            cached.lookup(&device, 2_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        assert_eq!(
            cached.lookup(&device, 3_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            store.lookups.load(Ordering::SeqCst),
            2,
            "refreshed once, in the background"
        );
        // Past the first entry's expiry: still answered from memory.
        assert_eq!(
            cached.lookup(&device, 4_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        assert_eq!(store.lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refresh_that_finds_the_link_gone_drops_the_entry() {
        let device = Identity::new("deviceUUID", "d-1");
        let store = slow_store_with(&device).await;
        // Due for a refresh at 2.4-3.2 s, expires at 4 s.
        let cached = cached_with_ttl(&store, Duration::from_secs(4));
        assert_eq!(
            cached.lookup(&device, 2_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        // Another instance unlinks it (this one's cache does not hear of it).
        store.inner.unlink(&device).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3_300)).await;
        // Within the TTL the cached answer stands; the refresh learns of the unlink.
        assert_eq!(
            cached.lookup(&device, 3_000).await.unwrap().as_deref(),
            Some("p-1")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Before the entry's expiry, yet it is gone.
        assert_eq!(cached.lookup(&device, 4_000).await.unwrap(), None);
    }
}
