//! Unified identity (seed §3.1 `uidentity`, goals 1 and 2): fills an event's missing uuid from the
//! person's other identities and links new identities to the person, in real time.
//!
//! - `keys`: which identities a message carries, their strength and lookup priority; `junk`:
//!   values that never link.
//! - `store` (the contract) and `sql_store` (MySQL/MariaDB or SQLite): identity → uuid, race-safe.
//! - `local_cache` and `redis_cache` in front of it, composed by `cached_store`; `flights`: one
//!   read for concurrent misses of one identity.
//! - `resolver`: the rules; `stage`: the pipeline step that applies them to a request's events.
pub mod cached_store;
pub mod config;
pub mod flights;
pub mod junk;
pub mod keys;
pub mod local_cache;
pub mod redis_cache;
pub mod resolver;
#[cfg(test)]
mod resolver_tests;
pub mod sql_store;
pub mod stage;
pub mod store;

pub use config::{IdentityConfig, OnStoreError};
pub use keys::Identity;
pub use resolver::{Merge, Resolution, Resolver, UuidSource};
pub use stage::IdentityStage;

use crate::config::RegistryConfig;
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
    Ok(Resolver::new(
        CachedStore::new(Arc::new(store), local, redis),
        KeyRules::new(config),
    ))
}
