//! The merge outbox, end to end: a merge the identity store committed for a request that the
//! Kafka sink then refused (the broker frozen, no spool) still reaches the users topic, with the
//! event_id it was given at the merge, once the broker answers again. Before the outbox, the
//! SDK's retry found the two uuids already merged and the topic never heard of it.
//! Real broker (tansu), real binary, both identity backends.
#![cfg(feature = "e2e")]
use reqwest::StatusCode;
use serde_json::{json, Value};
use slog_tests::backend::{Backend, Databases};
use slog_tests::harness::{consume_all, Broker, Slog};
use slog_tests::http::post_event;
use std::time::{Duration, Instant};

fn config(bootstrap: &str, db: &Databases) -> String {
    format!(
        r#"
[registry]
default_policy = "lenient"
{keys}
[identity]
merge_resend_after_ms = 1000
merge_resend_interval_ms = 200
[sink]
kind = "kafka"
[sink.kafka]
brokers = "{bootstrap}"
linger_ms = 5
delivery_timeout_ms = 1500
create_topics = true
topic_partitions = 1
[sink.spool]
enabled = false
"#,
        keys = db.registry_keys()
    )
}

fn pageview(uidentity: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo",
           "ps": {"url": "https://www.example.com/"}, "uidentity": uidentity})
}

async fn accepted(slog: &Slog, uidentity: Value) {
    let (status, body) = post_event(slog, &pageview(uidentity)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_merge_refused_by_the_sink_is_announced_once_the_broker_is_back(backend: Backend) {
    let db = Databases::new(backend).await;
    let broker = Broker::start();
    let slog = Slog::start(&config(&broker.bootstrap(), &db));

    // Two people: an anonymous browser, and an account.
    accepted(&slog, json!({"browserId": "b-outbox"})).await;
    accepted(&slog, json!({"userid": "u-outbox"})).await;

    // The login that shows they are one person, while the broker does not answer: the merge is
    // committed, the request is refused.
    broker.freeze();
    let login = pageview(json!({"browserId": "b-outbox", "userid": "u-outbox"}));
    let (status, body) = post_event(&slog, &login).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    broker.thaw();

    // The SDK's retry is accepted; there is nothing left to merge.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = post_event(&slog, &login).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "retry never accepted: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let bootstrap = broker.bootstrap();
    let users = tokio::task::spawn_blocking(move || {
        consume_all(
            &bootstrap,
            "users",
            1,
            Duration::from_secs(30),
            Duration::from_secs(2),
        )
    })
    .await
    .unwrap();
    let merges: Vec<&Value> = users
        .iter()
        .map(|c| &c.value)
        .filter(|v| v["type"] == "identity_merge")
        .collect();
    let ids: std::collections::HashSet<&str> = merges
        .iter()
        .filter_map(|m| m["event_id"].as_str())
        .collect();
    println!(
        "merge outbox ({backend:?}): {} merge record(s) after the refused request, {} distinct event_id(s)",
        merges.len(),
        ids.len()
    );
    assert_eq!(
        ids.len(),
        1,
        "one merge, announced: {merges:?}\n{}",
        slog.logs()
    );
    let merge = merges[0];
    assert_eq!(merge["project"], "zhibo");
    let trigger = &merge["trigger"];
    assert!(
        [
            json!({"key": "userid", "value": "u-outbox"}),
            json!({"key": "browserId", "value": "b-outbox"})
        ]
        .contains(trigger),
        "{merge}"
    );
    assert!(
        merge["moved"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "browserId", "value": "b-outbox"})),
        "{merge}"
    );
    let resent = slog_tests::http::metrics(&slog)
        .await
        .lines()
        .find(|l| l.starts_with("slog_identity_merges_resent_total"))
        .map(str::to_owned);
    assert!(
        resent.is_some_and(|l| !l.ends_with(" 0")),
        "the re-sender sent it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_refused_by_the_sink_is_announced_later_sqlite() {
    a_merge_refused_by_the_sink_is_announced_once_the_broker_is_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_refused_by_the_sink_is_announced_later_mysql() {
    a_merge_refused_by_the_sink_is_announced_once_the_broker_is_back(Backend::MySqlRedis).await;
}
