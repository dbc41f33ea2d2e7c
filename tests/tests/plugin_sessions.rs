//! The session hook's sessions outlive a process and span instances: two slog processes sharing
//! one store (the embedded SQLite file; MariaDB with Redis) take one user's events in turns and
//! at the same moment, one of them is killed and restarted mid-session, and the user still gets
//! exactly one session: one session_id on every event, one summary counting every event.
#![cfg(feature = "e2e")]
use reqwest::StatusCode;
use serde_json::{json, Value};
use slog_tests::backend::{Backend, Databases};
use slog_tests::harness::Slog;
use slog_tests::http::post_event;
use slog_tests::plugins::dist;
use std::time::{Duration, Instant};

const PLUGINS: &str = r#"
[[plugin]]
name = "session"
file = "session.wasm"
[plugin.settings]
timeout_secs = 2
"#;

fn config(db: &Databases, plugins: &std::path::Path) -> String {
    format!(
        r#"
[registry]
default_policy = "lenient"
{keys}
[sink]
kind = "file"
[plugins]
dir = "{dir}"
config = "{toml}"
call_timeout_ms = 1000
session_sweep_ms = 100
"#,
        keys = db.registry_keys(),
        dir = plugins.display(),
        toml = plugins.join("plugins.toml").display(),
    )
}

fn pageview(n: usize) -> Value {
    json!({"stype": 100, "eid": if n.is_multiple_of(3) { "click" } else { "pageview" }, "project": "zhibo",
           "ps": {"n": n}, "uidentity": {"userid": "u-shared"}})
}

async fn one_session_across_instances_and_a_crash(backend: Backend) {
    let db = Databases::new(backend).await;
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(
        dist().join("session.wasm"),
        plugins.path().join("session.wasm"),
    )
    .unwrap();
    std::fs::write(plugins.path().join("plugins.toml"), PLUGINS).unwrap();
    let mut a = Slog::start(&config(&db, plugins.path()));
    let b = Slog::start(&config(&db, plugins.path()));

    let mut sent = 0;
    // In turns, then pairs at the same moment (the two steps race), then across a crash.
    for round in 0..12 {
        if round == 6 {
            a = a.crash_and_restart();
        }
        let (x, y) = (pageview(sent), pageview(sent + 1));
        let (ra, rb) = tokio::join!(post_event(&a, &x), post_event(&b, &y));
        assert_eq!(ra.0, StatusCode::OK, "{}", ra.1);
        assert_eq!(rb.0, StatusCode::OK, "{}", rb.1);
        sent += 2;
    }
    let pages = (0..sent).filter(|n| !n.is_multiple_of(3)).count();

    let records = || {
        let mut all = a.file_records("events");
        all.extend(b.file_records("events"));
        all
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !records().iter().any(|r| r["eid"] == "sessionSummary") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second sweep somewhere would be a second summary: give it the time to happen.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let summaries: Vec<Value> = records()
        .into_iter()
        .filter(|r| r["eid"] == "sessionSummary")
        .collect();
    let events: Vec<Value> = records()
        .into_iter()
        .filter(|r| r["derived_by"].is_null() && r["uidentity"]["userid"] == "u-shared")
        .collect();
    let ids: std::collections::HashSet<String> = events
        .iter()
        .map(|e| e["ps"]["session_id"].to_string())
        .collect();
    println!(
        "plugin sessions ({backend:?}): {} events on two instances (one restarted), {} session id(s), {} summary(ies): {:?}",
        events.len(),
        ids.len(),
        summaries.len(),
        summaries.iter().map(|s| &s["ps"]).collect::<Vec<_>>()
    );
    assert_eq!(events.len(), sent);
    assert_eq!(ids.len(), 1, "one session on every event: {ids:?}");
    assert_eq!(summaries.len(), 1, "closed exactly once: {summaries:?}");
    assert_eq!(
        summaries[0]["ps"]["events"], sent,
        "no step lost or counted twice"
    );
    assert_eq!(summaries[0]["ps"]["pages"], pages);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_across_instances_and_a_crash_sqlite() {
    one_session_across_instances_and_a_crash(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_across_instances_and_a_crash_redis() {
    one_session_across_instances_and_a_crash(Backend::MySqlRedis).await;
}
