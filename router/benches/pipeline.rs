//! Per-stage costs of the hot path, on a realistic ~1 KB web pageview, so a regression shows up
//! in the stage that caused it. Run: `cargo bench -p slog-router --bench pipeline`.
//!
//! decode: a 100-event batch body → JSON values (per event); normalize: value → Event; validate:
//! against the tracking plan's preset registry (loaded through the real SQLite store); route: Event →
//! serialised output record; pipeline: all stages of one event, enrichment included.
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};
use slog_router::config::{Config, Policy};
use slog_router::enrich::Enrichers;
use slog_router::ingest::decode::{decode, Encoding, Payload};
use slog_router::metadata::store::Store;
use slog_router::metadata::Snapshot;
use slog_router::pipeline::normalize::normalize;
use slog_router::pipeline::records::RecordBuilder;
use slog_router::pipeline::validate::validate;
use slog_router::pipeline::{RequestContext, Stages};
use slog_router::plugins::Chain;
use slog_router::state::Limits;
use std::sync::Arc;

const NOW: i64 = 1_764_000_000_000;

fn pageview(n: usize) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
      "ps": {"ct": 100,
             "url": format!("https://www.example.com/course/{n}?utm_source=baidu&utm_medium=cpc&utm_campaign=spring_sale_2026&utm_term=english"),
             "title": "新概念英语 第一册 全新升级版 · 名师精讲 · Sunlands online course catalogue, lesson page",
             "referrer": "https://www.baidu.com/s?wd=%E6%96%B0%E6%A6%82%E5%BF%B5%E8%8B%B1%E8%AF%AD&rsv_spt=1",
             "url_path": format!("/course/{n}"), "screen_width": 1920, "screen_height": 1080,
             "os": "Windows", "os_version": "10", "browser": "Chrome", "browser_version": "120.0.0.0",
             "model": "PC", "network_type": "wifi", "carrier": "ChinaNet"},
      "uidentity": {"deviceUUID": format!("d-{n:08}-5f1c-4d7e-9a0b-3c2e1f0a9b8c"), "browserId": format!("b-{n:08}")}})
}

fn preset_registry() -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.load_snapshot().await.unwrap()
    })
}

fn bench(c: &mut Criterion) {
    let event = pageview(7);
    let body = serde_json::to_vec(&(0..100).map(pageview).collect::<Vec<_>>()).unwrap();
    let limits = Limits {
        max_body_bytes: 1 << 20,
        max_decoded_bytes: 8 << 20,
        max_batch_events: 500,
        max_string_bytes: 64 << 10,
    };
    let registry = preset_registry();
    let config = Config::default();
    let enrichers = Arc::new(Enrichers::new(&config.enrich).unwrap());
    let stages = Stages::new(&config.routing, &config.registry, enrichers, true);
    let records = RecordBuilder::new(&config.routing);
    let request = RequestContext {
        client_ip: "180.12.43.42".parse().unwrap(),
        user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36".into()),
    };
    eprintln!(
        "one event is {} bytes of JSON",
        serde_json::to_vec(&event).unwrap().len()
    );

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Elements(100));
    g.bench_function("decode_batch100", |b| {
        b.iter(
            || match decode(&body, Encoding::Identity, &limits).unwrap() {
                Payload::Batch(items) => items,
                Payload::One(_) => unreachable!("the body is a batch"),
            },
        )
    });
    // decode_batch100's yardstick: serde_json's own parse of the same body, which has no
    // duplicate-key or string-length checks.
    g.bench_function("parse_batch100_serde_json", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&body).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("normalize", |b| {
        b.iter_batched(
            || event.clone(),
            |v| normalize(v, NOW).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let normalized = normalize(event.clone(), NOW).unwrap();
    g.bench_function("validate", |b| {
        b.iter(|| validate(&normalized, &registry, Policy::Strict).unwrap())
    });
    g.bench_function("record_serialise", |b| {
        b.iter(|| records.record(&normalized))
    });
    // record_serialise's yardstick, in the same run: `serde_json::to_vec`, which starts at 128
    // bytes and regrows, where `RecordBuilder::record` serialises into a buffer sized up front.
    g.bench_function("serialise_to_vec", |b| {
        b.iter(|| serde_json::to_vec(&normalized).unwrap())
    });
    g.bench_function("pipeline_one_event", |b| {
        b.iter_batched(
            || event.clone(),
            |v| stages.process(&Chain::empty(), &registry, &request, v, NOW),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
