//! Answers kept for `use_cache: true`: a bounded LRU keyed by project, endpoint, the request as
//! sent and the warehouse's data version, so an answer is reused only while the loader has
//! loaded nothing new. A cached answer keeps its `report_update_time` (when it was computed).
use super::source::Freshness;
use lru::LruCache;
use serde_json::Value;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub project: String,
    pub endpoint: &'static str,
    /// The request body re-serialised (whitespace never makes two keys).
    pub request: String,
    pub version: Freshness,
}

pub struct AnswerCache {
    entries: Option<Mutex<LruCache<Key, Arc<Value>>>>,
}

impl AnswerCache {
    /// Keeps up to `capacity` answers; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        AnswerCache {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        let entries = self.entries.as_ref()?;
        entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    pub fn put(&self, key: Key, answer: Arc<Value>) {
        if let Some(entries) = &self.entries {
            entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(key, answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(request: &str, version: i64) -> Key {
        Key {
            project: "zhibo".into(),
            endpoint: "events",
            request: request.into(),
            version: Freshness {
                newest_ms: Some(version),
                sufficient_ms: Some(version),
                version: (version, version),
            },
        }
    }

    #[test]
    fn entries_are_bounded_and_keyed_by_data_version() {
        let cache = AnswerCache::new(2);
        cache.put(key("a", 1), Arc::new(Value::from(1)));
        cache.put(key("b", 1), Arc::new(Value::from(2)));
        assert!(cache.get(&key("a", 1)).is_some());
        cache.put(key("c", 1), Arc::new(Value::from(3)));
        // "b" was the least recently used.
        assert!(cache.get(&key("b", 1)).is_none());
        assert!(cache.get(&key("a", 2)).is_none());
        assert!(AnswerCache::new(0).get(&key("a", 1)).is_none());
    }
}
