//! Cost per event of the whole enrichment stage (ip, GeoIP, user agent, url parts, sdk version),
//! with a warm User-Agent cache (every event repeats one UA) and a cold one (every event brings a
//! UA the cache has not seen). Run: `cargo bench -p slog-router --bench enrich`.
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;
use slog_router::config::EnrichConfig;
use slog_router::enrich::Enrichers;
use slog_router::event::Event;
use slog_router::pipeline::enrich::enrich;
use slog_router::pipeline::normalize::normalize;
use slog_router::pipeline::RequestContext;

fn chrome(build: u32) -> String {
    format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.{build}.0 Safari/537.36")
}

fn pageview() -> Event {
    normalize(
        json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
               "ps": {"ct": 100, "url": "https://www.example.com/course/1?from=ad",
                      "referrer": "https://www.baidu.com/s?wd=slog", "title": "课程"},
               "uidentity": {"deviceUUID": "d-1"}}),
        1_764_000_000_000,
    )
    .unwrap()
}

fn enrichers(ua_cache_size: usize, geoip: &std::path::Path) -> Enrichers {
    Enrichers::new(&EnrichConfig {
        geoip_path: Some(geoip.to_owned()),
        ua_cache_size,
        ..EnrichConfig::default()
    })
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.mmdb");
    slog_tests::mmdb::write_test_city_db(&db).unwrap();
    let template = pageview();
    let mut group = c.benchmark_group("enrich_stage");

    let warm = enrichers(10_000, &db);
    let request = RequestContext {
        client_ip: "180.12.43.42".parse().unwrap(),
        user_agent: Some(chrome(0)),
    };
    group.bench_function("warm_ua_cache", |b| {
        b.iter_batched(
            || template.clone(),
            |mut ev| {
                enrich(&mut ev, &request, &warm);
                ev
            },
            BatchSize::SmallInput,
        )
    });

    // A cache of one entry and a new UA every event: every event pays a full woothee parse
    // plus a cache insert (the worst case).
    let cold = enrichers(1, &db);
    let mut build = 0u32;
    group.bench_function("cold_ua_cache", |b| {
        b.iter_batched(
            || {
                build = build.wrapping_add(1);
                let request = RequestContext {
                    client_ip: "114.80.1.1".parse().unwrap(),
                    user_agent: Some(chrome(build)),
                };
                (template.clone(), request)
            },
            |(mut ev, request)| {
                enrich(&mut ev, &request, &cold);
                ev
            },
            BatchSize::SmallInput,
        )
    });
    let ip: std::net::IpAddr = "180.12.43.42".parse().unwrap();
    group.bench_function("geo_lookup_only", |b| b.iter(|| warm.geo.lookup(ip)));
    group.bench_function("ua_cache_hit_only", |b| {
        b.iter(|| warm.user_agents.parse(&chrome(0)))
    });
    group.bench_function("event_clone_only", |b| b.iter(|| template.clone()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
