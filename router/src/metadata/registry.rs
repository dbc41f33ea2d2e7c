//! The live registry: the current snapshot, how it stays current, and how healthy it is.
//!
//! - Validation reads [`Registry::snapshot`]: an `Arc` behind an `ArcSwap`, no lock, no I/O.
//! - Every instance checks the database's `registry_version` every `refresh_interval_ms`; a new
//!   version is loaded (from Redis when another instance cached it, else from the database and
//!   then cached) and swapped in whole. An admin write on this instance refreshes at once.
//! - When the database or Redis fails, the last good snapshot stays in force; the failure is
//!   reported by [`Registry::health`] (in `/readyz`) and metrics until a refresh succeeds. Redis
//!   is pinged on every refresh tick and reconnected when it comes back (it may also be down at
//!   start-up: slog then reads the database until Redis answers).
//! - The `register` policy hands unknown names to [`Registry::auto_register`]; a background task
//!   inserts them (proposer "auto") off the request path.
use super::config::RegistryConfig;
use super::model::{EventDef, PropertyDef, PropertyKind, ValueType};
use super::redis_cache::RedisCache;
use super::snapshot::Snapshot;
use super::store::{Store, StoreError};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the registry cannot be loaded from the database ({0}) nor from Redis")]
    NoSnapshot(StoreError),
}

/// A name the `register` policy asks to add.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AutoRegistration {
    Event {
        project: String,
        id: String,
    },
    Property {
        kind: PropertyKind,
        key: String,
        value_type: ValueType,
    },
}

/// What `/readyz` says about the registry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `stale` while refreshes fail (validation goes on with the last good snapshot).
    #[schema(value_type = String, examples("ok", "stale"))]
    pub status: &'static str,
    /// The `registry_version` of the snapshot in force.
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `off` (no redis_url), `ok`, or `unavailable: <reason>`.
    pub redis: String,
}

const AUTO_QUEUE: usize = 1024;
/// The `proposer` of names registered by the `register` policy.
const AUTO_PROPOSER: &str = "auto";

pub struct Registry {
    store: Store,
    /// Where the Redis cache lives (`None`: no cache configured) and its connection once made.
    cache_url: Option<(String, String)>,
    cache: tokio::sync::Mutex<Option<RedisCache>>,
    cache_error: Mutex<Option<String>>,
    current: ArcSwap<Snapshot>,
    last_error: Mutex<Option<String>>,
    refreshing: tokio::sync::Mutex<()>,
    auto: Mutex<Option<mpsc::Sender<AutoRegistration>>>,
}

impl Registry {
    /// Connects, migrates when configured, and loads the first snapshot (from Redis when the
    /// database is down but a cached snapshot exists).
    pub async fn open(config: &RegistryConfig) -> Result<Arc<Registry>, RegistryError> {
        let store = Store::connect(&config.url).await?;
        if config.auto_migrate {
            store.migrate().await?;
        }
        let cache_url = config
            .redis_url
            .clone()
            .filter(|u| !u.is_empty())
            .map(|u| (u, config.redis_key_prefix.clone()));
        let cache = match &cache_url {
            Some((url, prefix)) => match RedisCache::connect(url, prefix).await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "registry cache (Redis) unavailable; reading the database until it answers");
                    None
                }
            },
            None => None,
        };
        let first = match store.load_snapshot().await {
            Ok(s) => s,
            Err(db_error) => match &cache {
                Some(c) => match c.latest().await {
                    Ok(Some(s)) => {
                        tracing::warn!(error = %db_error, version = s.version(), "registry database down; starting from the Redis snapshot");
                        s
                    }
                    _ => return Err(RegistryError::NoSnapshot(db_error)),
                },
                None => return Err(RegistryError::NoSnapshot(db_error)),
            },
        };
        tracing::info!(version = first.version(), counts = ?first.counts(), "registry loaded");
        metrics::gauge!("slog_registry_version").set(first.version() as f64);
        if let Some(c) = &cache {
            if let Err(e) = c.put(&first).await {
                tracing::warn!(error = %e, "could not cache the registry snapshot in Redis");
            }
        }
        let cache_error = match (&cache_url, &cache) {
            (Some(_), None) => Some("not connected".to_owned()),
            _ => None,
        };
        Ok(Arc::new(Registry {
            store,
            cache_url,
            cache: tokio::sync::Mutex::new(cache),
            cache_error: Mutex::new(cache_error),
            current: ArcSwap::from_pointee(first),
            last_error: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            auto: Mutex::new(None),
        }))
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn health(&self) -> Health {
        let error = self.last_error.lock().expect("registry error lock").clone();
        let redis = match (
            &self.cache_url,
            &*self.cache_error.lock().expect("cache error lock"),
        ) {
            (None, _) => "off".to_owned(),
            (Some(_), None) => "ok".to_owned(),
            (Some(_), Some(e)) => format!("unavailable: {e}"),
        };
        Health {
            status: if error.is_some() { "stale" } else { "ok" },
            version: self.current.load().version(),
            error,
            redis,
        }
    }

    /// The Redis cache if it answers now, (re)connecting when needed; records its state for
    /// `/readyz` and `slog_registry_cache_up`.
    async fn live_cache(&self) -> Option<RedisCache> {
        let (url, prefix) = self.cache_url.as_ref()?;
        let mut slot = self.cache.lock().await;
        let outcome = match slot.as_ref() {
            Some(c) => c.ping().await.map(|()| c.clone()),
            None => RedisCache::connect(url, prefix).await,
        };
        let mut last = self.cache_error.lock().expect("cache error lock");
        match outcome {
            Ok(c) => {
                if last.take().is_some() {
                    tracing::info!("registry cache (Redis) reachable again");
                }
                metrics::gauge!("slog_registry_cache_up").set(1.0);
                *slot = Some(c.clone());
                Some(c)
            }
            Err(e) => {
                if last.is_none() {
                    tracing::warn!(error = %e, "registry cache (Redis) unavailable; reading the database");
                }
                *last = Some(e.to_string());
                metrics::gauge!("slog_registry_cache_up").set(0.0);
                None
            }
        }
    }

    /// Loads the registry again if its version moved. Returns whether the snapshot changed.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let outcome = self.refresh_inner().await;
        let mut last_error = self.last_error.lock().expect("registry error lock");
        match &outcome {
            Ok(_) => {
                if last_error.take().is_some() {
                    tracing::info!("registry database reachable again");
                }
                metrics::gauge!("slog_registry_stale").set(0.0);
            }
            Err(e) => {
                if last_error.is_none() {
                    tracing::warn!(error = %e, "registry refresh failed; validating with the last good snapshot");
                }
                *last_error = Some(e.to_string());
                metrics::gauge!("slog_registry_stale").set(1.0);
                metrics::counter!("slog_registry_refresh_failures_total").increment(1);
            }
        }
        outcome
    }

    async fn refresh_inner(&self) -> Result<bool, StoreError> {
        let cache = self.live_cache().await;
        let version = self.store.version().await?;
        if version == self.current.load().version() {
            return Ok(false);
        }
        let cached = match &cache {
            Some(c) => c.get(version).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "registry cache read failed");
                None
            }),
            None => None,
        };
        let snapshot = match cached {
            Some(s) => s,
            None => {
                let s = self.store.load_snapshot().await?;
                if let Some(c) = &cache {
                    if let Err(e) = c.put(&s).await {
                        tracing::warn!(error = %e, "could not cache the registry snapshot in Redis");
                    }
                }
                s
            }
        };
        tracing::info!(
            from = self.current.load().version(),
            to = snapshot.version(),
            "registry updated"
        );
        metrics::gauge!("slog_registry_version").set(snapshot.version() as f64);
        self.current.store(Arc::new(snapshot));
        Ok(true)
    }

    /// Starts the periodic refresh and the auto-registration worker.
    pub fn spawn_background(self: &Arc<Self>, interval: Duration) {
        let registry = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(r) = registry.upgrade() else { return };
                // Errors are recorded in the health state by refresh itself.
                let _ = r.refresh().await;
            }
        });
        let (tx, rx) = mpsc::channel(AUTO_QUEUE);
        *self.auto.lock().expect("auto lock") = Some(tx);
        tokio::spawn(auto_register_worker(Arc::downgrade(self), rx));
    }

    /// Queues names for registration under the `register` policy. Never blocks the request: when
    /// the queue is full the names are dropped here and asked for again by the next event.
    pub fn auto_register(&self, items: Vec<AutoRegistration>) {
        let guard = self.auto.lock().expect("auto lock");
        let Some(tx) = guard.as_ref() else { return };
        for item in items {
            if tx.try_send(item).is_err() {
                metrics::counter!("slog_registry_auto_register_dropped_total").increment(1);
            }
        }
    }
}

async fn auto_register_worker(
    registry: std::sync::Weak<Registry>,
    mut rx: mpsc::Receiver<AutoRegistration>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = HashSet::from([first]);
        while let Ok(more) = rx.try_recv() {
            batch.insert(more);
        }
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let snapshot = registry.snapshot();
        let mut added = 0;
        for item in batch {
            let result = match &item {
                AutoRegistration::Event { project, id } => {
                    if snapshot.event(project, id).is_some() {
                        continue;
                    }
                    let def = EventDef::custom(id, id, Some(project), true, AUTO_PROPOSER);
                    registry.store.insert_event(&def).await
                }
                AutoRegistration::Property {
                    kind,
                    key,
                    value_type,
                } => {
                    if snapshot.property(*kind, key).is_some() {
                        continue;
                    }
                    let def = PropertyDef::custom(key, key, *value_type, AUTO_PROPOSER);
                    registry.store.insert_property(*kind, &def).await
                }
            };
            match result {
                Ok(_) => {
                    added += 1;
                    tracing::info!(?item, "auto-registered");
                    metrics::counter!("slog_registry_auto_registered_total").increment(1);
                }
                // Another instance (or an earlier event) registered it first.
                Err(StoreError::AlreadyExists) => {}
                Err(e) => tracing::warn!(?item, error = %e, "auto-registration failed"),
            }
        }
        if added > 0 {
            let _ = registry.refresh().await;
        }
    }
}
