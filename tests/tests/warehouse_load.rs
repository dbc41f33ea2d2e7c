//! The warehouse loader end to end on the embedded default: the real binary serves with the file
//! sink and loads what it writes into `data/warehouse.db` (events, profiles, merges into one
//! person), never the dead letters; `slog load` on the same directory later resumes where the
//! server's loader stopped, loading nothing twice.
#![cfg(feature = "e2e")]
use serde_json::{json, Value};
use slog_tests::harness::{slog_bin, Slog};
use slog_tests::http::post_event;
use sqlx::SqlitePool;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
[sink]
kind = "file"
[warehouse]
poll_ms = 50
"#;

async fn warehouse(workdir: &Path) -> SqlitePool {
    let url = format!("sqlite://{}", workdir.join("data/warehouse.db").display());
    SqlitePool::connect(&url)
        .await
        .expect("the loader created the warehouse")
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Waits until `sql` counts `expected`, or fails with what it counted.
async fn wait_for(workdir: &Path, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = -1;
    while Instant::now() < deadline {
        if workdir.join("data/warehouse.db").exists() {
            let pool = warehouse(workdir).await;
            last = count(&pool, sql).await;
            pool.close().await;
            if last == expected {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("`{sql}` counted {last}, expected {expected}");
}

fn pageview(identities: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo",
           "ps": {"url": "https://x.example/a", "ct": 100}, "uidentity": identities})
}

#[tokio::test]
async fn served_events_profiles_and_merges_land_in_the_warehouse_once() {
    let mut slog = Slog::start(CONFIG);
    // A person known by userid on one device, an anonymous browser, then a login on that browser
    // that merges the browser's history into the userid's person.
    for body in [
        pageview(json!({"deviceUUID": "d-app", "userid": "u-1"})),
        pageview(json!({"browserId": "b-1"})),
        pageview(json!({"browserId": "b-1"})),
        pageview(json!({"browserId": "b-1", "userid": "u-1"})),
        json!({"stype": 101, "project": "zhibo", "ps": {"name": "Li"},
               "uidentity": {"userid": "u-1"}}),
        // Refused (unregistered): dead-lettered, never an event in the warehouse.
        json!({"stype": 100, "eid": "noSuchEvent", "project": "zhibo",
               "uidentity": {"userid": "u-1"}}),
    ] {
        post_event(&slog, &body).await;
    }
    let records = slog.file_records("events");
    assert_eq!(records.len(), 4);
    let merges: Vec<Value> = slog
        .file_records("users")
        .into_iter()
        .filter(|r| r["type"] == "identity_merge")
        .collect();
    assert_eq!(
        merges.len(),
        1,
        "one merge of the browser into u-1's person"
    );
    let survivor = merges[0]["to_uuid"].as_str().unwrap().to_owned();

    let dir = slog.workdir.path().to_owned();
    wait_for(&dir, "SELECT COUNT(*) FROM wh_events", 4).await;
    wait_for(&dir, "SELECT COUNT(*) FROM wh_merges", 1).await;
    let pool = warehouse(&dir).await;
    // Every event counts as one person once merges apply.
    let persons: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT COALESCE(p.person, e.uuid) FROM wh_events e
         LEFT JOIN wh_persons p ON p.uuid = e.uuid",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(persons, std::slice::from_ref(&survivor));
    let profile: String = sqlx::query_scalar("SELECT props FROM wh_users WHERE uuid = ?")
        .bind(&survivor)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&profile).unwrap()["name"],
        "Li"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM wh_events WHERE eid = 'noSuchEvent'"
        )
        .await,
        0
    );
    pool.close().await;
    assert!(slog.terminate(Duration::from_secs(20)).success());

    // `slog load` on the same files: resumes at the saved position, nothing is loaded twice.
    let mut load = Command::new(slog_bin())
        .args(["load", "--config"])
        .arg(dir.join("slog.toml"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn slog load");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = Command::new("kill")
        .args(["-TERM", &load.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        load.wait().unwrap().success(),
        "slog load exits 0 on SIGTERM"
    );
    let pool = warehouse(&dir).await;
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM wh_events").await, 4);
    let size = std::fs::metadata(dir.join("data/events.jsonl"))
        .unwrap()
        .len() as i64;
    assert_eq!(
        count(
            &pool,
            "SELECT position FROM wh_progress WHERE source = 'events'"
        )
        .await,
        size
    );
}
