//! End to end on the production path: the real binary producing to a real Kafka-protocol broker
//! (tansu), read back with a real consumer.
#![cfg(feature = "e2e")]
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::{consume, create_topics, Broker, Consumed, Slog};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn kafka_config(bootstrap: &str, create_topics: bool) -> String {
    format!(
        r#"
[registry]
default_policy = "lenient"
[sink]
kind = "kafka"
[sink.kafka]
brokers = "{bootstrap}"
linger_ms = 5
delivery_timeout_ms = 2000
retry_after_secs = 2
create_topics = {create_topics}
topic_partitions = 3
# These tests are about the producer itself: an outage is a 503 (tests/tests/spool_kafka.rs has
# the spool).
[sink.spool]
enabled = false
"#
    )
}

async fn post(slog: &Slog, body: &Value) -> Response {
    Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn status_of(slog: &Slog, path: &str) -> StatusCode {
    reqwest::get(slog.url(path))
        .await
        .expect("request")
        .status()
}

fn track(identity: Value, seq: u32) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"seq": seq},
           "uidentity": identity})
}

fn consume_async(
    bootstrap: String,
    topic: &'static str,
    n: usize,
) -> tokio::task::JoinHandle<Vec<Consumed>> {
    tokio::task::spawn_blocking(move || consume(&bootstrap, topic, n, Duration::from_secs(30)))
}

#[tokio::test]
async fn events_reach_their_topics_keyed_by_user_and_in_order() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&kafka_config(&broker.bootstrap(), false));
    assert_eq!(
        status_of(&slog, "/readyz").await,
        StatusCode::OK,
        "{}",
        slog.logs()
    );

    let seed = json!({"time": 1434556935000_i64, "use_server_time": true, "stype": 100,
        "eid": "ViewViedo", "sid": "12345", "ver": "js1.1.0", "r": 13212, "project": "zhibo",
        "ps": {"url": "a/b/c/d", "ip": "180.12.43.42", "teacher": "abc", "start_time": 1434556935000_i64},
        "uidentity": {"uuid": "123123123", "mobile": "1234566778"}});
    let response = post(&slog, &seed).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", slog.logs());
    let seed_id = response.json::<Value>().await.unwrap()["event_id"].clone();

    // Two users interleaved in batches: one with a uuid, one known only by a device id.
    for round in 0..4 {
        let batch: Vec<Value> = (0..5)
            .flat_map(|i| {
                let seq = round * 5 + i;
                [
                    track(json!({"uuid": "user-A", "mobile": "138"}), seq),
                    track(json!({"deviceUUID": "dev-B", "browserId": "b"}), seq),
                ]
            })
            .collect();
        let response = post(&slog, &Value::Array(batch)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 10);
    }
    let profile = json!({"stype": 101, "project": "zhibo", "ps": {"name": "Li"},
                         "uidentity": {"userid": "42"}});
    assert_eq!(post(&slog, &profile).await.status(), StatusCode::OK);

    let events = consume_async(broker.bootstrap(), "events", 41)
        .await
        .unwrap();
    assert_eq!(events.len(), 41, "every acknowledged event is on the topic");
    let seed_record = events
        .iter()
        .find(|c| c.value["event_id"] == seed_id)
        .expect("seed event");
    assert_eq!(
        seed_record.key.as_deref(),
        Some("123123123"),
        "keyed by uuid"
    );
    assert_eq!(seed_record.value["eid"], "ViewViedo");
    assert_eq!(seed_record.value["ps"]["teacher"], "abc");
    assert_eq!(seed_record.value["uidentity"]["mobile"], "1234566778");
    assert_eq!(seed_record.value["type"], "track");

    let mut by_key: HashMap<String, Vec<&Consumed>> = HashMap::new();
    for c in events.iter().filter(|c| c.value["event_id"] != seed_id) {
        by_key
            .entry(c.key.clone().expect("every event has a key"))
            .or_default()
            .push(c);
    }
    // dev-B came without a uuid: the identity stage gave it one, and that uuid is its key.
    let dev_b_uuid = events
        .iter()
        .find(|c| c.value["uidentity"]["deviceUUID"] == "dev-B")
        .and_then(|c| c.value["uidentity"]["uuid"].as_str())
        .expect("dev-B's events carry the uuid slog filled in")
        .to_owned();
    assert_eq!(
        by_key.keys().cloned().collect::<HashSet<_>>(),
        HashSet::from(["user-A".to_owned(), dev_b_uuid]),
        "keyed by uuid, sent or filled in"
    );
    for (key, records) in &by_key {
        let partitions: HashSet<i32> = records.iter().map(|c| c.partition).collect();
        assert_eq!(partitions.len(), 1, "{key}'s events share one partition");
        let seqs: Vec<u64> = records
            .iter()
            .map(|c| c.value["ps"]["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..20).collect::<Vec<_>>(),
            "{key}'s events keep their order"
        );
    }

    let users = consume_async(broker.bootstrap(), "users", 1).await.unwrap();
    assert_eq!(users.len(), 1);
    // Profiles always get a uuid: userid 42 is a new person, keyed by its new uuid.
    assert_eq!(users[0].value["uuid_source"], "new");
    assert_eq!(
        users[0].key.as_deref(),
        users[0].value["uidentity"]["uuid"].as_str()
    );
    assert_eq!(users[0].value["type"], "profile_update");
    assert_eq!(users[0].value["ps"]["name"], "Li");
}

#[tokio::test]
async fn a_stopped_broker_gets_503_and_the_same_post_succeeds_once_it_is_back() {
    let mut broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let slog = Slog::start(&kafka_config(&broker.bootstrap(), false));
    let event = track(json!({"uuid": "user-R"}), 7);
    assert_eq!(post(&slog, &event).await.status(), StatusCode::OK);

    broker.stop();
    let response = post(&slog, &event).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sink_unavailable");
    assert_eq!(
        status_of(&slog, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status_of(&slog, "/healthz").await,
        StatusCode::OK,
        "the service keeps running"
    );

    // The broker comes back empty (in-memory storage): the operator recreates the topics.
    broker.resume();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let accepted_id = loop {
        let response = post(&slog, &event).await;
        if response.status() == StatusCode::OK {
            break response.json::<Value>().await.unwrap()["event_id"].clone();
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "slog did not recover; log:\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let events = consume_async(broker.bootstrap(), "events", 1)
        .await
        .unwrap();
    assert!(
        events.iter().any(|c| c.value["event_id"] == accepted_id),
        "the retried event is on the topic: {events:?}"
    );
    assert_eq!(status_of(&slog, "/readyz").await, StatusCode::OK);
}

#[tokio::test]
async fn slog_starts_before_its_broker_and_creates_the_topics_when_it_appears() {
    let mut broker = Broker::reserve();
    let slog = Slog::start(&kafka_config(&broker.bootstrap(), true));
    assert_eq!(status_of(&slog, "/healthz").await, StatusCode::OK);
    assert_eq!(
        status_of(&slog, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let event = track(json!({"uuid": "early"}), 1);
    assert_eq!(
        post(&slog, &event).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    broker.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of(&slog, "/readyz").await != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "never ready; log:\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while post(&slog, &event).await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "post never accepted; log:\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let events = consume_async(broker.bootstrap(), "events", 1)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key.as_deref(), Some("early"));
}
