//! Where the session hook's sessions are kept (`plugins.session_store`), and opening that store.
use super::memory::MemorySessions;
use super::redis::RedisSessions;
use super::sql::SqlSessions;
use super::{SessionError, SessionStore};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    /// Redis when one is configured (`identity.redis_url`, else `registry.redis_url`), else the
    /// database.
    #[default]
    Auto,
    /// Redis (`identity.redis_url`, else `registry.redis_url`).
    Redis,
    /// The identity store's database (`identity.url`, else `registry.url`).
    Database,
    /// This process's memory: lost on restart, not shared between instances.
    Memory,
}

/// Where the stores can be found, from the rest of the config.
pub struct SessionStorePlaces<'a> {
    pub database_url: &'a str,
    pub redis_url: Option<&'a str>,
    pub redis_key_prefix: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("plugins.session_store = \"redis\" needs identity.redis_url or registry.redis_url")]
    NoRedis,
    #[error("opening the {store} session store: {source}")]
    Open {
        store: &'static str,
        source: SessionError,
    },
}

/// Opens the store `kind` names. A store that does not answer at start is an error: serving
/// with another store than the other instances use would split their users' sessions.
pub async fn open(
    kind: SessionStoreKind,
    places: &SessionStorePlaces<'_>,
) -> Result<Arc<dyn SessionStore>, OpenError> {
    let redis = |url: &str| {
        let (url, prefix) = (url.to_owned(), places.redis_key_prefix.to_owned());
        async move {
            RedisSessions::connect(&url, &prefix)
                .await
                .map_err(|source| OpenError::Open {
                    store: "redis",
                    source,
                })
        }
    };
    let database = || async {
        SqlSessions::open(places.database_url)
            .await
            .map_err(|source| OpenError::Open {
                store: "database",
                source,
            })
    };
    Ok(match (kind, places.redis_url) {
        (SessionStoreKind::Memory, _) => Arc::new(MemorySessions::default()),
        (SessionStoreKind::Redis, None) => return Err(OpenError::NoRedis),
        (SessionStoreKind::Redis | SessionStoreKind::Auto, Some(url)) => {
            Arc::new(redis(url).await?)
        }
        (SessionStoreKind::Database | SessionStoreKind::Auto, _) => Arc::new(database().await?),
    })
}
