//! The identity store contract (the tracking plan's "user center"): identity → uuid, shared by every
//! instance. `SqlStore` implements it on MySQL/MariaDB and SQLite; a company's existing user center
//! can be plugged in behind the same trait.
//!
//! Every write is safe under races between requests and between instances: `link` inserts only
//! if absent and answers with whatever uuid the identity has afterwards, and moves are
//! compare-and-set on the uuid the caller saw.
use super::keys::Identity;
use crate::event::Merge;
use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("identity {0}")]
    Db(#[from] crate::db::DbError),
    #[error("identity database: {0}")]
    Database(#[from] sqlx::Error),
    /// Another request held what this one needed for too long (a merge of the same uuid).
    #[error("identity store busy: {0}")]
    Busy(String),
    /// The failure of a read shared by concurrent lookups of one identity (`flights.rs`).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// Whether repeating the operation may succeed: the database broke a deadlock or a lock wait
    /// between racing writers (MySQL SQLSTATE 40001, errors 1213/1205; SQLite "database is
    /// locked").
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Shared(shared) => return shared.is_transient(),
            StoreError::Busy(_) => return true,
            _ => {}
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub key: String,
    pub value: String,
    pub uuid: String,
    /// Epoch milliseconds.
    pub first_seen: i64,
    /// Epoch milliseconds.
    pub last_seen: i64,
}

/// Where a lookup found an identity: its uuid, and when it was last recorded as seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub uuid: String,
    /// Epoch milliseconds (the link's `last_seen`).
    pub last_seen: i64,
}

/// What `link_account` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountLink {
    /// The identity is linked to the uuid asked for (now, or already).
    Linked,
    /// The identity already belongs to another uuid.
    OnOther(String),
    /// The uuid already holds another value of the identity's key: nothing was linked.
    Clash,
}

/// What `merge` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// `from` is gone: these identities moved to `to`.
    Merged(Vec<Identity>),
    /// `uuid` (one of the two) had been merged into `into` by another request: this merge did
    /// not happen. Links still left on `uuid` were moved to `into` (`swept`).
    Gone {
        uuid: String,
        into: String,
        swept: Vec<Identity>,
    },
    /// The two hold different values of one account key, or a racing request merged one of
    /// them at the same moment: nothing changed.
    Refused,
}

/// What the record announcing a merge says besides the two uuids, written to the merge outbox
/// in the merge's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeNote {
    pub event_id: uuid::Uuid,
    /// The project and time of the event whose identities revealed the merge.
    pub project: String,
    pub time: i64,
    pub trigger: Identity,
}

/// A merge whose record the sink has not acknowledged yet (the merge outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMerge {
    pub project: String,
    pub received_at: i64,
    pub time: i64,
    pub merge: Merge,
}

/// A blocked identity, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Blocked {
    pub key: String,
    pub value: String,
    /// How many different people (uuids with accounts) it had been seen on.
    pub accounts: i64,
    /// Epoch milliseconds.
    pub blocked_at: i64,
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

    /// Links the account identity `identity` to `uuid` unless it is already linked, and makes
    /// sure `uuid` did not end up with two values of that key (a racing request may have linked
    /// another one a moment earlier): such a link is undone.
    async fn link_account(
        &self,
        identity: &Identity,
        uuid: &str,
        at: i64,
    ) -> Result<AccountLink, StoreError>;

    /// Moves every identity of `from` to `to` and records the merge, in one transaction that
    /// first checks that neither uuid was merged away already (a uuid is merged at most once)
    /// and that the two together hold at most one value of each of `account_keys`. A merge
    /// that happens is also written to the merge outbox (`note`, the identities moved), in the
    /// same transaction.
    async fn merge(
        &self,
        from: &str,
        to: &str,
        at: i64,
        reason: &str,
        account_keys: &[&str],
        note: &MergeNote,
    ) -> Result<MergeOutcome, StoreError>;

    /// Merges in the outbox committed before `received_before` (epoch ms), oldest first, at
    /// most `limit`.
    async fn pending_merges(
        &self,
        received_before: i64,
        limit: usize,
    ) -> Result<Vec<PendingMerge>, StoreError>;

    /// Removes the merges whose records the sink acknowledged from the outbox.
    async fn merges_delivered(&self, event_ids: &[uuid::Uuid]) -> Result<(), StoreError>;

    /// The identities of `uuid` under `keys` (its accounts, when `keys` are the account keys).
    async fn identities_under(
        &self,
        uuid: &str,
        keys: &[&str],
    ) -> Result<Vec<Identity>, StoreError>;

    /// Records that the device identity `identity` was seen on each of `owners` (people with
    /// accounts); how many different people it has been seen on in all.
    async fn note_device_owners(
        &self,
        identity: &Identity,
        owners: &[&str],
        at: i64,
    ) -> Result<usize, StoreError>;

    /// Puts `identity` on the blocklist: it links no one from now on.
    async fn block(&self, identity: &Identity, accounts: usize, at: i64) -> Result<(), StoreError>;

    /// Every blocked identity, most recently blocked first.
    async fn blocked(&self) -> Result<Vec<Blocked>, StoreError>;

    /// Lifts a block (and forgets the people the identity was seen on); whether it was blocked.
    async fn unblock(&self, identity: &Identity) -> Result<bool, StoreError>;

    /// Every identity of `uuid`, oldest first.
    async fn links_of(&self, uuid: &str) -> Result<Vec<Link>, StoreError>;

    /// Removes one identity's link; the uuid it was linked to.
    async fn unlink(&self, identity: &Identity) -> Result<Option<String>, StoreError>;

    /// Removes every link of `uuid` (a privacy request) and the merges that name it, sent or
    /// not; the identities that were linked.
    async fn forget(&self, uuid: &str) -> Result<Vec<Identity>, StoreError>;

    /// Whether the store answers now.
    async fn ping(&self) -> Result<(), StoreError>;
}
