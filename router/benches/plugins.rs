//! What plugins add per event: the hook stages on a realistic web pageview with no plugin, with
//! the no-op plugin (one `validate` call) and with the chain of the four examples (one call each:
//! course-check validate, identity-rules identify, newuser derive, session session), on reused
//! instances. Needs the plugins built (`scripts/build-plugins.sh`).
//! Run: `cargo bench -p slog-router --bench plugins`.
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;
use slog_router::config::PluginsConfig;
use slog_router::event::Event;
use slog_router::pipeline::normalize::normalize;
use slog_router::plugins::sessions::SessionTxn;
use slog_router::plugins::{Chain, PluginHost};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

// As in the `slog` binary: allocation costs differ a lot between allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An event with no properties and one identity: what a call costs apart from the event's size.
fn tiny_event() -> Event {
    let mut event = normalize(
        json!({"stype": 100, "eid": "pageview", "project": "zhibo", "uidentity": {"uuid": "p-7"}}),
        1_764_000_000_000,
    )
    .unwrap();
    event.uidentity.insert("uuid".into(), json!("p-7"));
    event
}

fn event() -> Event {
    let mut event = normalize(
        json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
          "ps": {"ct": 100, "url": "https://www.example.com/course/7?utm_source=baidu",
                 "title": "新概念英语 第一册 · 名师精讲", "referrer": "https://www.baidu.com/s?wd=x",
                 "is_first_time": false, "screen_width": 1920, "screen_height": 1080,
                 "os": "Windows", "os_version": "10", "browser": "Chrome", "browser_version": "120.0.0.0",
                 "ip": "180.12.43.42", "city": "北京", "province": "北京市", "country": "中国"},
          "uidentity": {"deviceUUID": "d-00000007-5f1c-4d7e-9a0b-3c2e1f0a9b8c", "browserId": "b-7"}}),
        1_764_000_000_000,
    )
    .unwrap();
    // As after identity resolution.
    event.uidentity.insert("uuid".into(), json!("p-7"));
    event
}

/// A host whose chain is `plugins_toml`, loaded from plugins/dist.
fn chain(plugins_toml: &str) -> (Arc<PluginHost>, Arc<Chain>, tempfile::TempDir) {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist");
    assert!(
        dist.join("noop.wasm").exists(),
        "run scripts/build-plugins.sh first"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plugins.toml"), plugins_toml).unwrap();
    let config = PluginsConfig {
        dir: dist,
        config: dir.path().join("plugins.toml"),
        ..PluginsConfig::default()
    };
    let host = Arc::new(PluginHost::new(&config).unwrap());
    host.engine()
        .spawn_ticker(Duration::from_millis(config.epoch_tick_ms));
    host.reload().unwrap();
    let chain = host.chain();
    (host, chain, dir)
}

const NOOP: &str = "[[plugin]]\nname = \"noop\"\nfile = \"noop.wasm\"\n";

// The four examples on every event, as in scripts/bench.sh.
const EXAMPLES: &str = include_str!("../../bench/plugin-chain.toml");

fn one(name: &str, file: &str) -> String {
    format!("[[plugin]]\nname = \"{name}\"\nfile = \"{file}\"\n")
}

fn bench(c: &mut Criterion) {
    let (_h0, empty, _d0) = chain("");
    let (_h1, noop, _d1) = chain(NOOP);
    let (_h4, examples, _d4) = chain(EXAMPLES);
    let singles: Vec<_> = [
        ("course-check", "course_check.wasm"),
        ("identity-rules", "identity_rules.wasm"),
        ("newuser", "newuser.wasm"),
        ("session", "session.wasm"),
    ]
    .into_iter()
    .map(|(name, file)| (name, chain(&one(name, file))))
    .collect();
    let mut cases = vec![
        ("no plugin".to_string(), event(), &empty),
        ("noop (1 call), tiny event".to_string(), tiny_event(), &noop),
        ("noop (1 call)".to_string(), event(), &noop),
        ("4 examples (4 calls)".to_string(), event(), &examples),
    ];
    for (name, (_, chain, _)) in &singles {
        cases.push((format!("{name} alone (1 call)"), event(), chain));
    }
    let mut group = c.benchmark_group("plugins");
    for (name, event, chain) in &cases {
        // One user's session, stepped by every iteration (as a user's page views would).
        let mut sessions = SessionTxn::default();
        group.bench_function(name.as_str(), |b| {
            b.iter_batched(
                || event.clone(),
                |mut e| {
                    chain.before_identity(&mut e).unwrap();
                    let derived = chain.after_identity(&mut e, &mut sessions).unwrap();
                    (e, derived)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
