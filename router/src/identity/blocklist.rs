//! Device identities that stopped linking because too many people were seen on them: a constant
//! that a broken SDK sends for everyone (`02:00:00:00:00:00`-style values no list knows yet), or
//! a device in a shop, a classroom or an internet café.
//!
//! The store keeps the list (`identity_blocklist`); each instance holds a copy in memory so that
//! the check costs no round trip per event. This instance's own blocks apply at once; another
//! instance's within `identity.cache_ttl_secs` (the copy is re-read that often).
use super::keys::Identity;
use super::store::{IdentityStore, StoreError};
use arc_swap::ArcSwap;
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Default)]
pub struct Blocklist {
    blocked: ArcSwap<HashSet<Identity>>,
}

impl Blocklist {
    pub fn contains(&self, identity: &Identity) -> bool {
        let blocked = self.blocked.load();
        !blocked.is_empty() && blocked.contains(identity)
    }

    /// Adds one identity to this instance's copy (after the store recorded it).
    pub fn insert(&self, identity: &Identity) {
        self.blocked.rcu(|current| {
            let mut next = HashSet::clone(current);
            next.insert(identity.clone());
            next
        });
    }

    /// Removes one identity from this instance's copy (after the store lifted it).
    pub fn remove(&self, identity: &Identity) {
        self.blocked.rcu(|current| {
            let mut next = HashSet::clone(current);
            next.remove(identity);
            next
        });
    }

    /// Replaces this instance's copy with the store's list.
    pub async fn reload(&self, store: &dyn IdentityStore) -> Result<usize, StoreError> {
        let list: HashSet<Identity> = store
            .blocked()
            .await?
            .into_iter()
            .map(|b| Identity::new(b.key, b.value))
            .collect();
        let count = list.len();
        self.blocked.store(Arc::new(list));
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::sql_store::SqlStore;

    #[tokio::test]
    async fn the_copy_follows_the_store_and_this_instance_s_own_changes() {
        let store = SqlStore::open("sqlite::memory:").await.unwrap();
        let mac = Identity::new("macAddress", "02:00:00:00:00:01");
        let list = Blocklist::default();
        assert!(!list.contains(&mac));
        store.block(&mac, 6, 1).await.unwrap();
        assert!(
            !list.contains(&mac),
            "another instance's block is seen on reload"
        );
        assert_eq!(list.reload(&store).await.unwrap(), 1);
        assert!(list.contains(&mac));
        list.remove(&mac);
        assert!(!list.contains(&mac));
        list.insert(&mac);
        assert!(list.contains(&mac));
    }
}
