//! The disk spool in front of Kafka, end to end: a real broker (tansu) frozen or restarted under
//! load, the real binary, a real consumer. Every event answered 200 must reach the topic, each
//! user's events in the order they were sent, with no probe from outside needed to recover.
//! The figures (acked, lost, duplicates, recovery seconds) are printed for the README.
#![cfg(feature = "e2e")]
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::{consume, consume_all, create_topics, Broker, Slog};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SENDERS: usize = 4;
const BATCH: usize = 10;

fn config(bootstrap: &str, extra: &str) -> String {
    format!(
        r#"
[registry]
default_policy = "lenient"
[sink]
kind = "kafka"
[sink.kafka]
brokers = "{bootstrap}"
linger_ms = 5
delivery_timeout_ms = 3000
create_topics = true
topic_partitions = 3
[sink.spool]
after_ms = 500
{extra}
"#
    )
}

/// What one sender saw: the events answered 200 (`event_id`, user, seq) and the other answers.
#[derive(Default)]
struct Sent {
    acked: Vec<(String, String, u64)>,
    refused: usize,
}

/// Posts batches for users of its own until `stop`, each user's `seq` rising.
async fn send(url: String, sender: usize, stop: Arc<AtomicBool>) -> Sent {
    let client = Client::new();
    let mut sent = Sent::default();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let batch: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"seq": seq},
                       "uidentity": {"uuid": format!("user-{sender}-{i}")}})
            })
            .collect();
        let response = client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_string(&batch).unwrap())
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match response {
            Ok(r) if r.status() == StatusCode::OK => {
                let answer: Value = r.json().await.unwrap();
                for (i, item) in answer["results"].as_array().unwrap().iter().enumerate() {
                    let id = item["event_id"].as_str().unwrap().to_owned();
                    sent.acked.push((id, format!("user-{sender}-{i}"), seq));
                }
            }
            _ => {
                sent.refused += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // A steady load, not a flood: the consumer must read it all back in the test's time.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    sent
}

async fn spool_records(slog: &Slog) -> Option<u64> {
    let ready: Value = reqwest::get(slog.url("/readyz"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    ready["spool"]["records"].as_u64()
}

/// Waits until the spool is empty; returns how long that took.
async fn drained(slog: &Slog, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if spool_records(slog).await == Some(0) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the spool did not drain in {within:?}; log:\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Tally {
    lost: usize,
    duplicates: usize,
    out_of_order: usize,
}

/// Compares what was acknowledged with what the topic holds.
fn tally(acked: &[(String, String, u64)], bootstrap: &str) -> Tally {
    let wanted: HashSet<&str> = acked.iter().map(|(id, ..)| id.as_str()).collect();
    // Everything the topic holds: duplicates count, and come after the originals.
    let consumed = consume_all(
        bootstrap,
        "events",
        acked.len(),
        Duration::from_secs(90),
        Duration::from_secs(3),
    );
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut out_of_order = 0;
    for record in &consumed {
        let id = record.value["event_id"].as_str().unwrap().to_owned();
        if !seen.insert(id) {
            duplicates += 1;
            continue;
        }
        let user = record.value["uidentity"]["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        let seq = record.value["ps"]["seq"].as_u64().unwrap();
        let last = last_seq.entry(user).or_insert(0);
        if seq < *last {
            out_of_order += 1;
        }
        *last = seq.max(*last);
    }
    let missing: Vec<&(String, String, u64)> =
        acked.iter().filter(|(id, ..)| !seen.contains(id)).collect();
    if !missing.is_empty() {
        eprintln!(
            "consumed {} records; {} acknowledged ones missing, e.g. {:?}",
            consumed.len(),
            missing.len(),
            &missing[..missing.len().min(8)]
        );
    }
    let lost = wanted.iter().filter(|id| !seen.contains(**id)).count();
    Tally {
        lost,
        duplicates,
        out_of_order,
    }
}

async fn load(slog: &Slog) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<Sent>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let url = slog.url("/slog/event");
    let senders = (0..SENDERS)
        .map(|s| tokio::spawn(send(url.clone(), s, stop.clone())))
        .collect();
    (stop, senders)
}

async fn finish(stop: Arc<AtomicBool>, senders: Vec<tokio::task::JoinHandle<Sent>>) -> Sent {
    stop.store(true, Ordering::Relaxed);
    let mut all = Sent::default();
    for s in senders {
        let sent = s.await.unwrap();
        all.acked.extend(sent.acked);
        all.refused += sent.refused;
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_frozen_for_10_s_under_load_loses_nothing_answered_200() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&config(&broker.bootstrap(), ""));
    let (stop, senders) = load(&slog).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.freeze();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = spool_records(&slog).await.unwrap_or(0);
    broker.thaw();
    let thawed = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = finish(stop, senders).await;
    drained(&slog, Duration::from_secs(60)).await;
    let recovery = thawed.elapsed();
    let t = tally(&sent.acked, &broker.bootstrap());
    println!(
        "frozen broker 10 s: acked {}, refused {}, lost {}, duplicates {}, out of order {}, \
         spooled at the end of the outage {during}, spool empty {:.1} s after the broker was back",
        sent.acked.len(),
        sent.refused,
        t.lost,
        t.duplicates,
        t.out_of_order,
        recovery.as_secs_f64()
    );
    assert!(during > 0, "events were spooled during the outage");
    assert_eq!(
        sent.refused, 0,
        "with room in the spool no request is refused"
    );
    assert_eq!(t.lost, 0, "acknowledged events missing from the topic");
    assert_eq!(t.out_of_order, 0, "a user's events out of order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_without_its_topics_is_repaired_and_fed_without_a_probe() {
    let mut broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&config(&broker.bootstrap(), ""));
    broker.stop();
    // Accepted while the broker is gone: spooled.
    let (stop, senders) = load(&slog).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = finish(stop, senders).await;
    assert!(!sent.acked.is_empty());
    assert_eq!(sent.refused, 0);
    // Back, empty (in-memory storage): no topics. Nobody calls /readyz.
    broker.resume();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(60);
    let first = loop {
        let consumed = tokio::task::spawn_blocking({
            let bootstrap = broker.bootstrap();
            move || {
                std::panic::catch_unwind(|| {
                    consume(&bootstrap, "events", 1, Duration::from_millis(500))
                })
                .unwrap_or_default()
            }
        })
        .await
        .unwrap();
        if !consumed.is_empty() {
            break back.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "never delivered; log:\n{}",
            slog.logs()
        );
    };
    // From here the readiness probe may look: the spool drains.
    drained(&slog, Duration::from_secs(60)).await;
    let t = tally(&sent.acked, &broker.bootstrap());
    println!(
        "restarted broker: acked while down {}, lost {}, duplicates {}, out of order {}, \
         first delivery {:.1} s after the broker was back (topics recreated by slog)",
        sent.acked.len(),
        t.lost,
        t.duplicates,
        t.out_of_order,
        first.as_secs_f64()
    );
    assert_eq!(t.lost, 0);
    assert_eq!(t.out_of_order, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_left_by_a_killed_process_is_replayed_by_the_next_one() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&config(&broker.bootstrap(), ""));
    broker.freeze();
    let (stop, senders) = load(&slog).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // SIGKILL while requests are being spooled: what was answered 200 is synced.
    let slog = tokio::task::spawn_blocking(move || slog.crash_and_restart())
        .await
        .unwrap();
    let sent = finish(stop, senders).await;
    assert!(!sent.acked.is_empty(), "some were spooled before the kill");
    broker.thaw();
    drained(&slog, Duration::from_secs(60)).await;
    let t = tally(&sent.acked, &broker.bootstrap());
    println!(
        "slog SIGKILLed with a spool: acked {}, lost {}, duplicates {}",
        sent.acked.len(),
        t.lost,
        t.duplicates
    );
    assert_eq!(t.lost, 0);
    assert!(
        slog.logs()
            .contains("replaying the records a previous process left"),
        "{}",
        slog.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_and_readiness_says_so() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&config(&broker.bootstrap(), "max_bytes = 20000"));
    broker.freeze();
    let client = Client::new();
    let mut statuses = Vec::new();
    for seq in 0..40 {
        let event = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                           "ps": {"seq": seq, "pad": "x".repeat(500)}, "uidentity": {"uuid": "u"}});
        let response = client
            .post(slog.url("/slog/event"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(event.to_string())
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "sink_unavailable");
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("spool is full"));
            break;
        }
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(ok > 5, "some fit: {statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    let ready = reqwest::get(slog.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["spool"]["records"].as_u64(), Some(ok as u64), "{body}");
    assert!(body["spool"]["brokers_error"].is_string(), "{body}");
    broker.thaw();
    drained(&slog, Duration::from_secs(60)).await;
}
