//! An immutable, in-memory copy of the whole registry at one version: what validation reads.
//!
//! Lookups are hash-map reads, so validating an event costs no I/O. A new version replaces the
//! snapshot as a whole (see `registry`), never in place.
use super::model::{EventDef, PropertyDef, PropertyKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The snapshot's maps: validation looks up every property of every event in them, and foldhash
/// hashes a short key several times faster than the standard SipHash (which showed in the profile
/// of batch load). Its seed is random per map; the keys are the registry's own.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    version: i64,
    events: FastMap<String, EventDef>,
    properties: FastMap<PropertyKind, FastMap<String, PropertyDef>>,
}

impl Snapshot {
    pub fn new(
        version: i64,
        events: Vec<EventDef>,
        properties: Vec<(PropertyKind, PropertyDef)>,
    ) -> Self {
        let mut by_kind: FastMap<PropertyKind, FastMap<String, PropertyDef>> = FastMap::default();
        for (kind, p) in properties {
            by_kind.entry(kind).or_default().insert(p.key.clone(), p);
        }
        Snapshot {
            version,
            events: events.into_iter().map(|e| (e.id.clone(), e)).collect(),
            properties: by_kind,
        }
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// The definition of `eid` if it is registered for `project` or as a common event.
    pub fn event(&self, project: &str, eid: &str) -> Option<&EventDef> {
        self.events
            .get(eid)
            .filter(|e| e.project.as_deref().is_none_or(|p| p == project))
    }

    /// Whether `eid` exists at all (for any project), to explain a refusal.
    pub fn event_exists(&self, eid: &str) -> Option<&EventDef> {
        self.events.get(eid)
    }

    pub fn property(&self, kind: PropertyKind, key: &str) -> Option<&PropertyDef> {
        self.properties.get(&kind).and_then(|m| m.get(key))
    }

    /// Rows per table, for logs and `/readyz`.
    pub fn counts(&self) -> [(&'static str, usize); 4] {
        let n = |k| self.properties.get(&k).map_or(0, FastMap::len);
        [
            ("events", self.events.len()),
            ("event_properties", n(PropertyKind::Event)),
            ("user_identity_properties", n(PropertyKind::Identity)),
            ("profile_properties", n(PropertyKind::Profile)),
        ]
    }
}
