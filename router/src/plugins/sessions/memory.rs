//! Sessions in this process's memory: lost on restart and not shared between instances. For
//! tests and for a single instance that chooses it (`plugins.session_store = "memory"`).
use super::{Committed, SessionEntry, SessionError, SessionKey, SessionStore, Stored, Write};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemorySessions {
    open: Mutex<HashMap<SessionKey, Stored>>,
}

#[async_trait]
impl SessionStore for MemorySessions {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Stored>, SessionError> {
        let open = self.open.lock().expect("session lock");
        Ok(keys
            .iter()
            .filter_map(|k| Some((k.clone(), open.get(k)?.clone())))
            .collect())
    }

    async fn commit(&self, writes: &[Write]) -> Result<Committed, SessionError> {
        let mut open = self.open.lock().expect("session lock");
        let moved: Vec<SessionKey> = writes
            .iter()
            .filter(|w| open.get(&w.key).map(|s| s.version) != w.expected)
            .map(|w| w.key.clone())
            .collect();
        if !moved.is_empty() {
            return Ok(Committed::Conflict(moved));
        }
        for write in writes {
            let stored = Stored {
                entry: write.entry.clone(),
                version: write.expected.map_or(1, |v| v + 1),
            };
            open.insert(write.key.clone(), stored);
        }
        Ok(Committed::Done)
    }

    async fn take_expired(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, SessionEntry)>, SessionError> {
        let mut open = self.open.lock().expect("session lock");
        let mut expired: Vec<SessionKey> = open
            .iter()
            .filter(|(_, s)| s.entry.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        expired.sort_by_key(|k| open[k].entry.expires_at);
        expired.truncate(limit);
        Ok(expired
            .into_iter()
            .filter_map(|k| {
                let stored = open.remove(&k)?;
                Some((k.plugin, stored.entry))
            })
            .collect())
    }

    async fn count(&self) -> Result<u64, SessionError> {
        Ok(self.open.lock().expect("session lock").len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::sessions::contract;
    use std::sync::Arc;

    #[tokio::test]
    async fn keeps_the_session_store_contract() {
        contract::check(&MemorySessions::default()).await;
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessions::default());
        contract::check_concurrent_steps(store.clone(), 4, 25).await;
        contract::check_concurrent_sweeps(store, 100).await;
    }
}
