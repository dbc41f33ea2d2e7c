//! What every [`SessionStore`] must do, as one check to run against an implementation: the
//! in-process stores' unit tests run it, and so do the tests against real Redis and MariaDB
//! (`tests/tests/plugin_sessions.rs`). A store of one's own can be checked the same way.
//!
//! Panics, naming the broken promise, when the store breaks one.
use super::{Committed, SessionEntry, SessionKey, SessionStore, Write};
use serde_json::{json, Map};
use std::collections::HashSet;
use std::sync::Arc;

fn entry(state: &str, expires_at: i64) -> SessionEntry {
    let mut uidentity = Map::new();
    uidentity.insert("uuid".into(), json!("u-1"));
    uidentity.insert("browserId".into(), json!("浏览器-1"));
    SessionEntry {
        state: state.into(),
        expires_at,
        project: "zhibo".into(),
        sid: Some("12345".into()),
        uidentity,
    }
}

fn write(key: &SessionKey, expected: Option<u64>, entry: SessionEntry) -> Write {
    Write {
        key: key.clone(),
        expected,
        entry,
    }
}

/// Runs every check on `store`, which must be the check's alone while it runs (its own database
/// or Redis prefix): it takes every expired session it finds.
pub async fn check(store: &dyn SessionStore) {
    let run = uuid::Uuid::now_v7().to_string();
    let key = SessionKey::new("contract-a", &format!("user-{run}"));
    let other = SessionKey::new("contract-b", &format!("user-{run}"));
    let before = store.count().await.expect("count");
    assert_eq!(before, 0, "the store starts empty");

    let none = store.load(&[key.clone(), other.clone()]).await.unwrap();
    assert!(none.is_empty(), "no session is open yet: {none:?}");

    let first = entry("{\"pages\":1}", i64::MAX - 1);
    let done = store.commit(&[write(&key, None, first.clone())]).await;
    assert_eq!(done.unwrap(), Committed::Done, "a new session is written");
    let loaded = store.load(std::slice::from_ref(&key)).await.unwrap();
    let stored = loaded.get(&key).expect("the new session loads");
    assert_eq!(stored.entry, first, "a session loads as written");
    let v1 = stored.version;

    let again = store.commit(&[write(&key, None, entry("x", 1))]).await;
    assert_eq!(
        again.unwrap(),
        Committed::Conflict(vec![key.clone()]),
        "a second opening of one session conflicts"
    );

    // All or nothing: a fresh write beside a stale one is not written either.
    let mixed = [
        write(&other, None, entry("b", i64::MAX - 1)),
        write(&key, Some(v1 + 100), entry("stale", i64::MAX - 1)),
    ];
    let conflict = store.commit(&mixed).await.unwrap();
    assert_eq!(
        conflict,
        Committed::Conflict(vec![key.clone()]),
        "a stale version conflicts"
    );
    let loaded = store.load(&[key.clone(), other.clone()]).await.unwrap();
    assert!(
        !loaded.contains_key(&other),
        "nothing of a conflicting commit is written"
    );
    assert_eq!(loaded[&key].entry, first);

    let second = entry("{\"pages\":2}", i64::MAX - 1);
    let stepped = store.commit(&[write(&key, Some(v1), second.clone())]).await;
    assert_eq!(
        stepped.unwrap(),
        Committed::Done,
        "a step on the loaded version lands"
    );
    let v2 = store.load(std::slice::from_ref(&key)).await.unwrap()[&key].version;
    assert_ne!(v2, v1, "a step moves the version");
    assert_eq!(store.count().await.unwrap(), before + 1);

    // Expiry: only what expired, each once.
    let soon = entry("soon", 1_000);
    let ended = store
        .commit(&[
            write(&key, Some(v2), soon.clone()),
            write(&other, None, entry("later", 5_000)),
        ])
        .await;
    assert_eq!(ended.unwrap(), Committed::Done);
    let expired = store.take_expired(2_000, 10_000).await.unwrap();
    assert_eq!(
        expired,
        vec![("contract-a".to_string(), soon)],
        "what expired, with its plugin"
    );
    let loaded = store.load(&[key.clone(), other.clone()]).await.unwrap();
    assert!(
        !loaded.contains_key(&key),
        "a session taken as expired is gone"
    );
    assert!(
        loaded.contains_key(&other),
        "a session not yet expired stays"
    );
    let twice = store.take_expired(2_000, 10_000).await.unwrap();
    assert!(
        twice.is_empty(),
        "an expired session is taken once: {twice:?}"
    );
    let gone = store
        .commit(&[write(&key, Some(v2), entry("late", 9))])
        .await;
    assert_eq!(
        gone.unwrap(),
        Committed::Conflict(vec![key.clone()]),
        "a step on a session closed meanwhile conflicts"
    );
    let rest = store.take_expired(i64::MAX, 10_000).await.unwrap();
    assert_eq!(rest.len(), 1, "{rest:?}");
}

/// Concurrent steps of one user from `writers` tasks (two instances, or one instance's
/// concurrent requests): each loads, steps and commits, retrying on conflict. No step is lost.
pub async fn check_concurrent_steps(store: Arc<dyn SessionStore>, writers: usize, steps: usize) {
    let key = SessionKey::new("contract-c", &format!("user-{}", uuid::Uuid::now_v7()));
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..steps {
                    loop {
                        let loaded = store.load(std::slice::from_ref(&key)).await.unwrap();
                        let (count, expected) = loaded.get(&key).map_or((0, None), |s| {
                            (s.entry.state.parse::<usize>().unwrap(), Some(s.version))
                        });
                        let next = entry(&(count + 1).to_string(), i64::MAX - 1);
                        match store.commit(&[write(&key, expected, next)]).await.unwrap() {
                            Committed::Done => break,
                            Committed::Conflict(_) => conflicts += 1,
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let loaded = store.load(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(
        loaded[&key].entry.state,
        (writers * steps).to_string(),
        "every step counted once ({conflicts} conflicts retried)"
    );
    store.take_expired(i64::MAX, 10_000).await.unwrap();
}

/// Two sweepers at once: every expired session is taken by exactly one of them.
pub async fn check_concurrent_sweeps(store: Arc<dyn SessionStore>, sessions: usize) {
    let run = uuid::Uuid::now_v7().to_string();
    for i in 0..sessions {
        let key = SessionKey::new("contract-d", &format!("user-{run}-{i}"));
        let e = entry(&i.to_string(), 10);
        assert_eq!(
            store.commit(&[write(&key, None, e)]).await.unwrap(),
            Committed::Done
        );
    }
    let sweepers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                loop {
                    let batch = store.take_expired(100, 7).await.unwrap();
                    if batch.is_empty() {
                        return taken;
                    }
                    taken.extend(batch);
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for sweeper in sweepers {
        for (plugin, e) in sweeper.await.unwrap() {
            if plugin == "contract-d" {
                total += 1;
                seen.insert(e.state);
            }
        }
    }
    assert_eq!(seen.len(), sessions, "every expired session was closed");
    assert_eq!(total, sessions, "none was closed twice");
}
