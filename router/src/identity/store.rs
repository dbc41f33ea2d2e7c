//! The identity store contract (the seed's "user center"): identity → uuid, shared by every
//! instance. `SqlStore` implements it on MySQL/MariaDB and SQLite; a company's existing user center
//! can be plugged in behind the same trait.
//!
//! Every write is safe under races between requests and between instances: `link` inserts only
//! if absent and answers with whatever uuid the identity has afterwards, and moves are
//! compare-and-set on the uuid the caller saw.
use super::keys::Identity;
use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("identity {0}")]
    Db(#[from] crate::db::DbError),
    #[error("identity database: {0}")]
    Database(#[from] sqlx::Error),
    /// The failure of a read shared by concurrent lookups of one identity (`flights.rs`).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// Whether repeating the operation may succeed: the database broke a deadlock or a lock wait
    /// between racing writers (MySQL SQLSTATE 40001, errors 1213/1205; SQLite "database is
    /// locked").
    pub fn is_transient(&self) -> bool {
        if let StoreError::Shared(shared) = self {
            return shared.is_transient();
        }
        let StoreError::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        let message = db.message().to_ascii_lowercase();
        db.code()
            .is_some_and(|c| c == "40001" || c == "1213" || c == "1205")
            || message.contains("deadlock")
            || message.contains("lock wait timeout")
            || message.contains("database is locked")
    }
}

/// One identity of a person, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub key: String,
    pub value: String,
    pub uuid: String,
    /// Epoch milliseconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Where a lookup found an identity: its uuid, and when it was last recorded as seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub uuid: String,
    /// Epoch milliseconds (the link's `last_seen`).
    pub last_seen: i64,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The uuid `identity` belongs to and when it was last seen, if it is linked.
    async fn lookup(&self, identity: &Identity) -> Result<Option<Found>, StoreError>;

    /// Links `identity` to `uuid` unless it is already linked; returns the uuid it is linked to
    /// afterwards (`uuid` if this call, or a racing one with the same uuid, created the link).
    async fn link(&self, identity: &Identity, uuid: &str, at: i64) -> Result<String, StoreError>;

    /// Records that `identity` was seen at `at` (the link's `last_seen`), if its last record is
    /// older than `at - granularity_ms`: called on cache misses whose lookup found a stale
    /// `last_seen` only, so it costs no write per event, nor per cache miss.
    async fn touch(
        &self,
        identity: &Identity,
        at: i64,
        granularity_ms: i64,
    ) -> Result<(), StoreError>;

    /// Moves `identity` to `to` if it is still on `from`; whether it moved.
    async fn relink(
        &self,
        identity: &Identity,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<bool, StoreError>;

    /// Moves every identity of `from` to `to` and records the merge; the identities moved.
    async fn merge(
        &self,
        from: &str,
        to: &str,
        at: i64,
        reason: &str,
    ) -> Result<Vec<Identity>, StoreError>;

    /// Whether `uuid` has an identity under one of `keys` (the account keys).
    async fn has_any_key(&self, uuid: &str, keys: &[&str]) -> Result<bool, StoreError>;

    /// Every identity of `uuid`, oldest first.
    async fn links_of(&self, uuid: &str) -> Result<Vec<Link>, StoreError>;

    /// Removes one identity's link; the uuid it was linked to.
    async fn unlink(&self, identity: &Identity) -> Result<Option<String>, StoreError>;

    /// Removes every link of `uuid` (a privacy request) and the merges that name it; the
    /// identities that were linked.
    async fn forget(&self, uuid: &str) -> Result<Vec<Identity>, StoreError>;

    /// Whether the store answers now.
    async fn ping(&self) -> Result<(), StoreError>;
}
