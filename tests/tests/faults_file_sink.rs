//! Faults on the embedded default: slog SIGKILLed under load and restarted on the same data.
//! Every event answered 200 must be in `data/events.jsonl`, and every line of it must still
//! parse (a torn last line is set apart, not glued to the next record).
#![cfg(feature = "e2e")]
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use std::collections::HashSet;
use std::time::Duration;

const CONFIG: &str = r#"
[registry]
default_policy = "lenient"
[sink]
kind = "file"
"#;

const SENDERS: usize = 8;
const BATCH: usize = 25;

/// Posts batches until the connection fails; returns the event ids answered 200.
async fn send_until_refused(url: String, sender: usize) -> Vec<String> {
    let client = Client::new();
    let mut acked = Vec::new();
    for round in 0.. {
        let batch: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                       "ps": {"url": format!("https://x.example/{round}/{i}"), "pad": "x".repeat(300)},
                       "uidentity": {"deviceUUID": format!("s{sender}-r{round}-{i}")}})
            })
            .collect();
        let response = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_string(&batch).unwrap())
            .send()
            .await;
        let Ok(response) = response else { break };
        if response.status() != StatusCode::OK {
            break;
        }
        let Ok(answer) = response.json::<Value>().await else {
            break; // killed between the status line and the body: not acknowledged
        };
        for item in answer["results"].as_array().expect("batch results") {
            acked.push(item["event_id"].as_str().expect("accepted").to_owned());
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_event_and_leaves_every_line_readable() {
    let mut total_acked = 0;
    let mut total_torn = 0;
    let mut slog = Slog::start(CONFIG);
    // Several crashes in a row, each at a different point of the write path.
    for (crash, after_ms) in [700u64, 1100, 1500].into_iter().enumerate() {
        let url = slog.url("/slog/event");
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| tokio::spawn(send_until_refused(url.clone(), s + crash * SENDERS)))
            .collect();
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        slog = tokio::task::spawn_blocking(move || slog.crash_and_restart())
            .await
            .unwrap();
        let mut acked = Vec::new();
        for s in senders {
            acked.extend(s.await.unwrap());
        }
        assert!(!acked.is_empty(), "the load ran before the crash");

        // The first write after the restart is what sets a torn tail apart.
        let probe = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                           "uidentity": {"deviceUUID": format!("probe-{crash}")}});
        let response = Client::new()
            .post(slog.url("/slog/event"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(probe.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        let stored: HashSet<String> = slog
            .file_records("events") // panics on a line that is not JSON
            .iter()
            .map(|r| r["event_id"].as_str().unwrap().to_owned())
            .collect();
        let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
        let torn = std::fs::read_to_string(slog.workdir.path().join("data/events.jsonl.torn"))
            .map_or(0, |t| t.lines().count());
        println!(
            "crash {crash} after {after_ms} ms: acked {} (cumulative {}), lost {lost}, \
             stored {}, torn fragments set apart so far {torn}",
            acked.len(),
            total_acked + acked.len(),
            stored.len()
        );
        assert_eq!(lost, 0, "acknowledged events lost after a SIGKILL");
        total_acked += acked.len();
        total_torn = torn;
    }
    println!("sigkill file sink: acked {total_acked}, lost 0, torn fragments {total_torn}");
}
