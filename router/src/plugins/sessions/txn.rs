//! The sessions one request steps: loaded once, stepped in memory by the request's events in
//! order, written back at the end compare-and-set on the versions loaded.
use super::{SessionEntry, SessionKey, Stored, Write};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct SessionTxn {
    loaded: HashMap<SessionKey, Stored>,
    stepped: HashMap<SessionKey, SessionEntry>,
}

impl SessionTxn {
    /// A transaction over `loaded` (the open sessions among the keys the request needs).
    pub fn new(loaded: HashMap<SessionKey, Stored>) -> Self {
        SessionTxn {
            loaded,
            stepped: HashMap::new(),
        }
    }

    /// The state of `user`'s open session in `plugin`, as this request left it so far.
    pub fn state(&self, plugin: &str, user: &str) -> Option<&str> {
        let key = SessionKey::new(plugin, user);
        self.stepped
            .get(&key)
            .or_else(|| self.loaded.get(&key).map(|s| &s.entry))
            .map(|e| e.state.as_str())
    }

    pub fn put(&mut self, plugin: &str, user: &str, entry: SessionEntry) {
        self.stepped.insert(SessionKey::new(plugin, user), entry);
    }

    pub fn is_empty(&self) -> bool {
        self.stepped.is_empty()
    }

    /// The writes that make the store what this request left: one per session stepped, each
    /// expecting the version loaded.
    pub fn writes(&self) -> Vec<Write> {
        let mut writes: Vec<Write> = self
            .stepped
            .iter()
            .map(|(key, entry)| Write {
                key: key.clone(),
                expected: self.loaded.get(key).map(|s| s.version),
                entry: entry.clone(),
            })
            .collect();
        // One order for every writer: row locks in SQL are then taken in one order.
        writes.sort_by(|a, b| a.key.cmp(&b.key));
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn entry(state: &str) -> SessionEntry {
        SessionEntry {
            state: state.into(),
            expires_at: 10,
            project: "zhibo".into(),
            sid: None,
            uidentity: Map::new(),
        }
    }

    #[test]
    fn a_step_sees_the_steps_before_it_and_writes_expect_the_loaded_version() {
        let loaded = HashMap::from([(
            SessionKey::new("session", "u1"),
            Stored {
                entry: entry("1"),
                version: 7,
            },
        )]);
        let mut txn = SessionTxn::new(loaded);
        assert_eq!(txn.state("session", "u1"), Some("1"));
        assert_eq!(txn.state("session", "u2"), None);
        txn.put("session", "u1", entry("2"));
        txn.put("session", "u2", entry("a"));
        txn.put("session", "u1", entry("3"));
        assert_eq!(txn.state("session", "u1"), Some("3"));
        let writes = txn.writes();
        let summary: Vec<_> = writes
            .iter()
            .map(|w| (w.key.user.as_str(), w.expected, w.entry.state.as_str()))
            .collect();
        assert_eq!(summary, [("u1", Some(7), "3"), ("u2", None, "a")]);
    }
}
