//! Redis in front of the identity database, shared by every instance:
//! `<prefix>identity:<key>:<value>` → uuid, with a TTL refreshed whenever the database fills it.
//!
//! Redis is only a cache: a miss or an error falls through to the database, and every change
//! (merge, move, unlink, forget) deletes the affected keys rather than rewriting them, so a racing
//! writer can never leave a wrong uuid behind for longer than one database round trip.
use super::keys::Identity;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::time::Duration;

const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in {0:?}")]
    Timeout(Duration),
}

#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str, ttl_secs: u64) -> Result<Self, RedisError> {
        let client = redis::Client::open(url)?;
        let connection = timed(ConnectionManager::new(client)).await??;
        Ok(RedisCache {
            connection,
            prefix: prefix.to_owned(),
            ttl_secs,
        })
    }

    fn key(&self, identity: &Identity) -> String {
        format!(
            "{}identity:{}:{}",
            self.prefix, identity.key, identity.value
        )
    }

    pub async fn get(&self, identity: &Identity) -> Result<Option<String>, RedisError> {
        let mut c = self.connection.clone();
        timed(c.get(self.key(identity))).await?.map_err(Into::into)
    }

    pub async fn put(&self, identity: &Identity, uuid: &str) -> Result<(), RedisError> {
        let mut c = self.connection.clone();
        timed(c.set_ex::<_, _, ()>(self.key(identity), uuid, self.ttl_secs))
            .await?
            .map_err(Into::into)
    }

    pub async fn remove(&self, identities: &[Identity]) -> Result<(), RedisError> {
        if identities.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = identities.iter().map(|i| self.key(i)).collect();
        let mut c = self.connection.clone();
        timed(c.del::<_, ()>(keys)).await?.map_err(Into::into)
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> Result<T, RedisError> {
    tokio::time::timeout(REDIS_TIMEOUT, f)
        .await
        .map_err(|_| RedisError::Timeout(REDIS_TIMEOUT))
}
