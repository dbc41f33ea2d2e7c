//! Cost of the identity stage per event when every identity is in the in-process cache (the hot
//! path: no database or Redis round trip), for an anonymous event (uuid found from its device
//! identities) and for a logged-in one (client uuid + account + device identities, all linked).
//! Beside them, what a cache miss costs: one lookup in the embedded store (a SQLite file in WAL
//! mode, as `slog serve` uses by default), which is what every refresh and every miss pays.
//! Run: `cargo bench -p slog-router --bench identity`.
//!
//! The store is a real SQLite database in memory; after the first resolution every lookup is a
//! cache hit, which is what is measured. Each iteration includes a current-thread runtime's
//! `block_on` (tens of nanoseconds).
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};
use slog_router::event::{Identity, UuidSource};
use slog_router::identity::cached_store::CachedStore;
use slog_router::identity::keys::KeyRules;
use slog_router::identity::local_cache::LocalCache;
use slog_router::identity::sql_store::SqlStore;
use slog_router::identity::store::IdentityStore;
use slog_router::identity::{IdentityConfig, Resolver, Sighting};
use std::sync::Arc;
use std::time::Duration;

/// An event of the project "zhibo" received (and timed) at `received_at`.
fn at(received_at: i64) -> Sighting<'static> {
    Sighting {
        project: "zhibo",
        received_at,
        time: received_at,
    }
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resolver = rt.block_on(async {
        let store = SqlStore::open("sqlite::memory:").await.unwrap();
        let config = IdentityConfig::default();
        Resolver::new(
            CachedStore::new(
                Arc::new(store),
                LocalCache::new(10_000, Duration::from_secs(3600)),
                None,
            ),
            KeyRules::new(&config),
        )
    });
    let anonymous = object(json!({"deviceUUID": "d-1", "idfa": "i-1", "iosUUID": "ios-1"}));
    let logged_in = object(
        json!({"uuid": "u-1", "userid": "42", "mobile": "13800000000",
                                  "deviceUUID": "d-2", "idfa": "i-2"}),
    );
    // Warm: the first resolutions write the links and fill the cache.
    for ids in [&anonymous, &logged_in] {
        rt.block_on(resolver.resolve(ids, true, at(1))).unwrap();
    }
    let mut group = c.benchmark_group("identity");
    group.bench_function("cache_hit_anonymous_3_identities", |b| {
        b.iter(|| {
            let r = rt
                .block_on(resolver.resolve(&anonymous, true, at(2)))
                .unwrap();
            assert_eq!(r.source, Some(UuidSource::Lookup));
        })
    });
    group.bench_function("cache_hit_client_uuid_4_identities", |b| {
        b.iter(|| {
            let r = rt
                .block_on(resolver.resolve(&logged_in, true, at(2)))
                .unwrap();
            assert_eq!(r.source, Some(UuidSource::Client));
        })
    });
    // A new person per iteration (signup with userid, mobile and a device): the write path.
    let mut n = 0u64;
    group.bench_function("new_person_userid_mobile_device", |b| {
        b.iter(|| {
            n += 1;
            let ids = object(
                json!({"userid": format!("new-{n}"), "mobile": format!("m-{n}"),
                                    "deviceUUID": format!("nd-{n}")}),
            );
            let r = rt.block_on(resolver.resolve(&ids, true, at(3))).unwrap();
            assert_eq!(r.source, Some(UuidSource::New));
        })
    });
    // An anonymous device, then its first login beside an account that already has a person:
    // one merge per iteration (the path a login takes).
    let mut m = 0u64;
    group.bench_function("login_merges_anonymous_device", |b| {
        b.iter(|| {
            m += 1;
            let device = object(json!({"deviceUUID": format!("ad-{m}")}));
            rt.block_on(resolver.resolve(&device, true, at(4))).unwrap();
            let account = object(json!({"userid": format!("acc-{m}")}));
            rt.block_on(resolver.resolve(&account, true, at(4)))
                .unwrap();
            let login =
                object(json!({"deviceUUID": format!("ad-{m}"), "userid": format!("acc-{m}")}));
            let r = rt.block_on(resolver.resolve(&login, true, at(4))).unwrap();
            assert_eq!(r.merges.len(), 1);
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("identity.db").display()
    );
    let file_store = rt.block_on(SqlStore::open(&url)).unwrap();
    let device = Identity::new("deviceUUID", "d-1");
    rt.block_on(file_store.link(&device, "u-1", 1)).unwrap();
    group.bench_function("store_lookup_sqlite_file", |b| {
        b.iter(|| {
            let found = rt.block_on(file_store.lookup(&device)).unwrap();
            assert!(found.is_some());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
