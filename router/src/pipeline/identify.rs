//! The identity step of the pipeline (the resolver itself is `crate::identity`): resolves every admitted event of a request, in order, so
//! that two events of one batch that introduce the same person agree on its uuid.
//!
//! Profile messages always need a uuid; track events need one when their registry entry says
//! `need_uuid` (unregistered events, accepted under a lenient policy, are treated as needing one).
use super::Admitted;
use crate::event::{Event, UuidSource};
use crate::identity::keys::UUID_KEY;
use crate::identity::{OnStoreError, Resolver, Sighting};
use crate::metadata::Snapshot;
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone)]
pub struct IdentityStage {
    resolver: Arc<Resolver>,
    on_store_error: OnStoreError,
    /// `slog_identity_resolutions_total{source}`, one handle per source, registered once
    /// rather than looked up per event.
    resolutions: [metrics::Counter; 4],
}

/// The store failed for some events of a request and the config says to answer 503.
#[derive(Debug, thiserror::Error)]
#[error("the identity store is unavailable: {0}")]
pub struct Unavailable(pub String);

impl IdentityStage {
    pub fn new(resolver: Arc<Resolver>, on_store_error: OnStoreError) -> Self {
        let counter = |source: UuidSource| metrics::counter!("slog_identity_resolutions_total", "source" => source.as_str());
        IdentityStage {
            resolver,
            on_store_error,
            // In declaration order: indexed by `source as usize`.
            resolutions: [
                UuidSource::Client,
                UuidSource::Lookup,
                UuidSource::New,
                UuidSource::Unresolved,
            ]
            .map(counter),
        }
    }

    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    pub fn on_store_error(&self) -> OnStoreError {
        self.on_store_error
    }

    /// Takes the merges whose records the sink acknowledged out of the outbox; whether it did. A
    /// failure only means they are sent again (same event_id) by the re-sender: logged, not the
    /// request's.
    pub async fn merges_delivered(&self, event_ids: &[uuid::Uuid]) -> bool {
        let cleared = self
            .resolver
            .store()
            .store()
            .merges_delivered(event_ids)
            .await;
        if let Err(e) = &cleared {
            tracing::warn!(error = %e, merges = event_ids.len(), "merge outbox not cleared; the merges will be sent again");
        }
        cleared.is_ok()
    }

    /// Resolves each event in `admitted`, filling `uidentity.uuid`, `uuid_source` and the
    /// merges it revealed.
    pub async fn apply<'a>(
        &self,
        snapshot: &Snapshot,
        admitted: impl Iterator<Item = &'a mut Admitted>,
    ) -> Result<(), Unavailable> {
        for admission in admitted {
            let event = &mut admission.event;
            let need_uuid = event.kind.is_profile()
                || event
                    .eid
                    .as_deref()
                    .and_then(|eid| snapshot.event(&event.project, eid))
                    .is_none_or(|def| def.need_uuid);
            match self
                .resolver
                .resolve(&event.uidentity, need_uuid, sighting_of(event))
                .await
            {
                Ok(resolution) => {
                    if let Some(source) = resolution.source {
                        self.resolutions[source as usize].increment(1);
                    }
                    if let Some(uuid) = resolution.uuid {
                        if resolution.source != Some(UuidSource::Client) {
                            event
                                .uidentity
                                .insert(UUID_KEY.to_owned(), Value::String(uuid));
                        }
                    }
                    event.uuid_source = resolution.source;
                    admission.merges = resolution.merges;
                }
                Err(e) => {
                    metrics::counter!("slog_identity_store_errors_total").increment(1);
                    if self.on_store_error == OnStoreError::Unavailable {
                        return Err(Unavailable(e.to_string()));
                    }
                    tracing::warn!(error = %e, "identity store failed; event routed unresolved");
                    if !event.uidentity.contains_key(UUID_KEY) {
                        event.uuid_source = Some(UuidSource::Unresolved);
                    }
                }
            }
        }
        Ok(())
    }
}

fn sighting_of(event: &Event) -> Sighting<'_> {
    Sighting {
        project: &event.project,
        received_at: event.received_at,
        time: event.time,
    }
}

#[cfg(test)]
mod tests {
    //! The store-failure paths, with an in-process store that always fails (the same paths run
    //! against real databases in tests/tests/identity.rs).
    use super::*;
    use crate::identity::cached_store::CachedStore;
    use crate::identity::keys::{Identity, KeyRules};
    use crate::identity::local_cache::LocalCache;
    use crate::identity::store::{
        AccountLink, Blocked, Found, IdentityStore, Link, MergeNote, MergeOutcome, PendingMerge,
        StoreError,
    };
    use crate::identity::IdentityConfig;
    use crate::pipeline::normalize::normalize;
    use async_trait::async_trait;
    use serde_json::json;
    use std::time::Duration;

    struct DownStore;

    fn down() -> StoreError {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    }

    #[async_trait]
    impl IdentityStore for DownStore {
        async fn lookup(&self, _: &Identity) -> Result<Option<Found>, StoreError> {
            Err(down())
        }
        async fn touch(&self, _: &Identity, _: i64, _: i64) -> Result<(), StoreError> {
            Err(down())
        }
        async fn link(&self, _: &Identity, _: &str, _: i64) -> Result<String, StoreError> {
            Err(down())
        }
        async fn relink(&self, _: &Identity, _: &str, _: &str, _: i64) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn link_account(
            &self,
            _: &Identity,
            _: &str,
            _: i64,
        ) -> Result<AccountLink, StoreError> {
            Err(down())
        }
        async fn merge(
            &self,
            _: &str,
            _: &str,
            _: i64,
            _: &str,
            _: &[&str],
            _: &MergeNote,
        ) -> Result<MergeOutcome, StoreError> {
            Err(down())
        }
        async fn pending_merges(&self, _: i64, _: usize) -> Result<Vec<PendingMerge>, StoreError> {
            Err(down())
        }
        async fn merges_delivered(&self, _: &[uuid::Uuid]) -> Result<(), StoreError> {
            Err(down())
        }
        async fn identities_under(&self, _: &str, _: &[&str]) -> Result<Vec<Identity>, StoreError> {
            Err(down())
        }
        async fn note_device_owners(
            &self,
            _: &Identity,
            _: &[&str],
            _: i64,
        ) -> Result<usize, StoreError> {
            Err(down())
        }
        async fn block(&self, _: &Identity, _: usize, _: i64) -> Result<(), StoreError> {
            Err(down())
        }
        async fn blocked(&self) -> Result<Vec<Blocked>, StoreError> {
            Err(down())
        }
        async fn unblock(&self, _: &Identity) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn links_of(&self, _: &str) -> Result<Vec<Link>, StoreError> {
            Err(down())
        }
        async fn unlink(&self, _: &Identity) -> Result<Option<String>, StoreError> {
            Err(down())
        }
        async fn forget(&self, _: &str) -> Result<Vec<Identity>, StoreError> {
            Err(down())
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Err(down())
        }
    }

    fn stage(on_store_error: OnStoreError) -> IdentityStage {
        let cached = CachedStore::new(
            Arc::new(DownStore),
            LocalCache::new(10, Duration::from_secs(1)),
            None,
        );
        let rules = KeyRules::new(&IdentityConfig::default());
        IdentityStage::new(Arc::new(Resolver::new(cached, rules)), on_store_error)
    }

    fn admitted() -> Admitted {
        let event = normalize(
            json!({"stype": 100, "eid": "pageview", "project": "p", "uidentity": {"browserId": "b"}}),
            1,
        )
        .unwrap();
        Admitted {
            event: Box::new(event),
            findings: Default::default(),
            merges: Vec::new(),
        }
    }

    #[tokio::test]
    async fn pass_routes_the_event_marked_unresolved() {
        let mut events = [admitted()];
        stage(OnStoreError::Pass)
            .apply(&Snapshot::default(), events.iter_mut())
            .await
            .expect("pass never fails the request");
        assert_eq!(events[0].event.uuid_source, Some(UuidSource::Unresolved));
        assert!(!events[0].event.uidentity.contains_key("uuid"));
    }

    #[tokio::test]
    async fn unavailable_fails_the_request_so_the_sdk_retries() {
        let mut events = [admitted()];
        let result = stage(OnStoreError::Unavailable)
            .apply(&Snapshot::default(), events.iter_mut())
            .await;
        assert!(result.is_err());
    }
}
