//! Session state of the `session` hook (tracking plan §5.2), owned by the host: one entry per plugin and
//! user, in this process's memory. It outlives plugin instances, so a reload or a trap loses no
//! session; it does not outlive the process, and each slog instance sees only the users routed
//! to it (README "Plugins").
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// One user's open session in one plugin.
#[derive(Debug, Clone)]
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

/// Open sessions by plugin name, then user key.
#[derive(Debug, Default)]
pub struct SessionStore {
    open: Mutex<HashMap<String, HashMap<String, SessionEntry>>>,
}

impl SessionStore {
    /// The state of `user`'s open session in `plugin`.
    pub fn state(&self, plugin: &str, user: &str) -> Option<String> {
        let open = self.open.lock().expect("session lock");
        open.get(plugin)?.get(user).map(|e| e.state.clone())
    }

    pub fn put(&self, plugin: &str, user: &str, entry: SessionEntry) {
        let mut open = self.open.lock().expect("session lock");
        match open.get_mut(plugin) {
            Some(users) => {
                users.insert(user.to_owned(), entry);
            }
            None => {
                open.insert(plugin.to_owned(), HashMap::from([(user.to_owned(), entry)]));
            }
        }
    }

    /// Removes and returns the sessions that expired at `now` (epoch ms), with their plugin.
    pub fn take_expired(&self, now: i64) -> Vec<(String, SessionEntry)> {
        let mut open = self.open.lock().expect("session lock");
        let mut expired = Vec::new();
        for (plugin, users) in open.iter_mut() {
            users.retain(|_, entry| {
                if entry.expires_at <= now {
                    expired.push((plugin.clone(), entry.clone()));
                    false
                } else {
                    true
                }
            });
        }
        open.retain(|_, users| !users.is_empty());
        expired
    }

    /// Open sessions, all plugins together.
    pub fn len(&self) -> usize {
        let open = self.open.lock().expect("session lock");
        open.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &str, expires_at: i64) -> SessionEntry {
        SessionEntry {
            state: state.into(),
            expires_at,
            project: "zhibo".into(),
            sid: None,
            uidentity: Map::new(),
        }
    }

    #[test]
    fn states_are_per_plugin_and_user_and_expire_once() {
        let store = SessionStore::default();
        store.put("session", "u1", entry("a", 100));
        store.put("session", "u2", entry("b", 300));
        store.put("other", "u1", entry("c", 100));
        assert_eq!(store.state("session", "u1").as_deref(), Some("a"));
        assert_eq!(store.state("other", "u2"), None);

        let mut expired: Vec<_> = store
            .take_expired(200)
            .into_iter()
            .map(|(p, e)| (p, e.state))
            .collect();
        expired.sort();
        assert_eq!(
            expired,
            [
                ("other".to_string(), "c".to_string()),
                ("session".into(), "a".into())
            ]
        );
        assert!(store.take_expired(200).is_empty());
        assert_eq!(store.len(), 1);
    }
}
