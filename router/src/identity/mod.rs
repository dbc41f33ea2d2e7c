//! Unified identity (tracking plan §3.1 `uidentity`, goals 1 and 2): fills an event's missing uuid from the
//! person's other identities and links new identities to the person, in real time.
//!
//! - `keys`: which identities a message carries, their strength and lookup priority; `junk`:
//!   values that never link; `blocklist`: device identities seen on too many people.
//! - `store` (the contract) and `sql_store` (MySQL/MariaDB or SQLite; merges in `sql_merge`,
//!   the shared-device guard in `sql_guards`, the merge outbox in `sql_outbox`): identity →
//!   uuid, race-safe.
//! - `local_cache` and `redis_cache` in front of it, composed by `cached_store`; `flights`: one
//!   read for concurrent misses of one identity.
//! - `resolver`: which person an event belongs to; `joining`: how each of its identities joins
//!   that person. The pipeline step that applies them to a request's events is
//!   `pipeline::identify`.
pub mod blocklist;
pub mod cached_store;
pub mod config;
pub mod flights;
mod joining;
pub mod junk;
pub mod keys;
pub mod local_cache;
pub mod redis_cache;
pub mod resolver;
#[cfg(test)]
mod resolver_tests;
mod sql_guards;
mod sql_merge;
mod sql_outbox;
pub mod sql_store;
pub mod store;

pub use config::{IdentityConfig, OnStoreError};
pub use keys::Identity;
pub use resolver::{Resolution, Resolver, Sighting};

use crate::metadata::RegistryConfig;
use cached_store::CachedStore;
use keys::KeyRules;
use local_cache::LocalCache;
use redis_cache::RedisCache;
use sql_store::SqlStore;
use std::sync::Arc;
use std::time::Duration;
use store::StoreError;

/// Opens the identity store named by `config` (defaulting to the registry's database and Redis).
///
/// An unreachable Redis is not fatal: the store works from the database and says so in the log.
pub async fn open(
    config: &IdentityConfig,
    registry: &RegistryConfig,
) -> Result<Resolver, StoreError> {
    let url = config.url.as_deref().unwrap_or(&registry.url);
    let store = SqlStore::open(url).await?;
    let redis_url = config.redis_url.as_ref().or(registry.redis_url.as_ref());
    let redis = match redis_url {
        Some(url) => {
            match RedisCache::connect(url, &registry.redis_key_prefix, config.redis_ttl_secs).await
            {
                Ok(cache) => Some(cache),
                Err(e) => {
                    tracing::warn!(error = %e, "identity cache: Redis unreachable at start, using the database only");
                    None
                }
            }
        }
        None => None,
    };
    let local = LocalCache::new(
        config.cache_size,
        Duration::from_secs(config.cache_ttl_secs),
    );
    let resolver = Resolver::new(
        CachedStore::new(Arc::new(store), local, redis),
        KeyRules::new(config),
    );
    keep_blocklist_fresh(&resolver, Duration::from_secs(config.cache_ttl_secs)).await?;
    Ok(resolver)
}

/// Loads the blocklist, then re-reads it every `every` in the background, so that another
/// instance's blocks apply here within the identity cache's TTL.
async fn keep_blocklist_fresh(resolver: &Resolver, every: Duration) -> Result<(), StoreError> {
    let store = resolver.store().clone();
    let list = Arc::clone(resolver.blocklist());
    list.reload(store.store()).await?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(error) = list.reload(store.store()).await {
                tracing::warn!(%error, "identity blocklist: re-read failed; the previous copy stays in force");
            }
        }
    });
    Ok(())
}
