//! Redis as the registry's cache (tracking plan §3.2: "mysql + redis, redis作为缓存").
//!
//! Each version's snapshot is stored once under `<prefix>registry:snapshot:<version>`, so when the
//! registry changes, one instance reads MySQL and the others read Redis. `<prefix>registry:latest`
//! names the newest version stored, which lets an instance start while MySQL is down.
use super::snapshot::Snapshot;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::time::Duration;

/// Old versions expire on their own; a day is far longer than any instance lags behind.
const SNAPSHOT_TTL_SECS: u64 = 24 * 60 * 60;
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in {0:?}")]
    Timeout(Duration),
    #[error("cached snapshot is not valid JSON: {0}")]
    Corrupt(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisCache, CacheError> {
        let client = redis::Client::open(url)?;
        let connection = timed(ConnectionManager::new(client)).await??;
        Ok(RedisCache {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut c = self.connection.clone();
        let _: String = timed(redis::cmd("PING").query_async(&mut c)).await??;
        Ok(())
    }

    fn key(&self, version: i64) -> String {
        format!("{}registry:snapshot:{version}", self.prefix)
    }

    fn latest_key(&self) -> String {
        format!("{}registry:latest", self.prefix)
    }

    pub async fn get(&self, version: i64) -> Result<Option<Snapshot>, CacheError> {
        let mut c = self.connection.clone();
        let text: Option<String> = timed(c.get(self.key(version))).await??;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    pub async fn put(&self, snapshot: &Snapshot) -> Result<(), CacheError> {
        let mut c = self.connection.clone();
        let text = serde_json::to_string(snapshot)?;
        let () = timed(c.set_ex(self.key(snapshot.version()), text, SNAPSHOT_TTL_SECS)).await??;
        let () = timed(c.set(self.latest_key(), snapshot.version())).await??;
        Ok(())
    }

    /// The newest snapshot any instance stored (start-up fallback when the database is down).
    pub async fn latest(&self) -> Result<Option<Snapshot>, CacheError> {
        let mut c = self.connection.clone();
        let version: Option<i64> = timed(c.get(self.latest_key())).await??;
        match version {
            Some(v) => self.get(v).await,
            None => Ok(None),
        }
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> Result<T, CacheError> {
    tokio::time::timeout(REDIS_TIMEOUT, f)
        .await
        .map_err(|_| CacheError::Timeout(REDIS_TIMEOUT))
}
