//! Session state of the `session` hook (tracking plan §5.2), owned by the host: one entry per
//! plugin and user, kept where every instance sees it (Redis in production, the database on the
//! embedded default), so that a restart loses no open session and two instances share one
//! user's session.
//!
//! A request's session steps run against a [`SessionTxn`]: the states its events need are
//! loaded in one round trip, the plugin calls step them in memory (two events of one user in a
//! batch see each other's step), and the new states are written back in one round trip,
//! compare-and-set on the versions loaded, all or nothing. Another instance that stepped one of
//! those sessions in between makes the write fail; the pipeline then runs the request's
//! session steps again on fresh states, so no step is lost and none counts twice.
//!
//! Expired sessions are claimed by the sweeper of one instance only (`take_expired` removes
//! what it returns, atomically), so each session is closed exactly once.
//!
//! - `config`: which store, and opening it; `contract`: what every store must do, as a check;
//!   `txn`: the in-memory overlay of one request; `memory`: a store inside this process (tests,
//!   and `plugins.session_store = "memory"`); `sql`: MySQL/MariaDB or SQLite; `redis`: Redis.
pub mod config;
pub mod contract;
pub mod memory;
pub mod redis;
pub mod sql;
pub mod txn;

pub use config::SessionStoreKind;
pub use memory::MemorySessions;
pub use txn::SessionTxn;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One user's open session in one plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEntry {
    /// The plugin's own state text.
    pub state: String,
    /// When the session closes without further events, epoch ms.
    pub expires_at: i64,
    /// Where the session's closing events go: the project, site and identities of its last event.
    pub project: String,
    pub sid: Option<String>,
    pub uidentity: Map<String, Value>,
}

/// Whose session: a plugin's name and the user's partition key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub plugin: String,
    pub user: String,
}

impl SessionKey {
    pub fn new(plugin: &str, user: &str) -> Self {
        SessionKey {
            plugin: plugin.to_owned(),
            user: user.to_owned(),
        }
    }
}

/// An open session as stored, with the version its next write must name.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub entry: SessionEntry,
    pub version: u64,
}

/// A session's new state, written only if the session is still at `expected` (`None`: only if
/// there is no open session).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub key: SessionKey,
    pub expected: Option<u64>,
    pub entry: SessionEntry,
}

/// What `commit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Every write landed.
    Done,
    /// Some session moved since it was loaded (another instance stepped or closed it): nothing
    /// was written.
    Conflict(Vec<SessionKey>),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("session store: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("session store did not answer in {0:?}")]
    Timeout(std::time::Duration),
    #[error("session store: unreadable session of plugin `{plugin}`: {reason}")]
    Corrupt { plugin: String, reason: String },
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Which store this is, for `GET /admin/plugins` and logs.
    fn name(&self) -> &'static str;

    /// The open sessions among `keys`.
    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Stored>, SessionError>;

    /// Writes every one of `writes` if each session is still at its expected version, or none.
    async fn commit(&self, writes: &[Write]) -> Result<Committed, SessionError>;

    /// Removes and returns up to `limit` sessions expired at `now` (epoch ms), with their
    /// plugin's name. A session is returned to one caller only, whichever instance asks.
    async fn take_expired(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, SessionEntry)>, SessionError>;

    /// Open sessions, all plugins together.
    async fn count(&self) -> Result<u64, SessionError>;
}
