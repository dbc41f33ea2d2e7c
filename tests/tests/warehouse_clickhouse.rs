//! The production warehouse end to end: slog serves with the Kafka sink (tansu), its loader
//! consumes the topics into a real ClickHouse server, and the reports read ClickHouse. The same
//! events posted to a second slog on the embedded default (file sink, SQLite) must give the same
//! answers to every report; and two `slog load` processes in one consumer group split the
//! partitions and store every event once.
#![cfg(feature = "e2e")]
use reqwest::StatusCode;
use serde_json::{json, Value};
use slog_tests::harness::{create_topics, slog_bin, Broker, Slog};
use slog_tests::http::{answer, post_event, register_buy_course};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: &str = "admin-secret";
const TOPICS: [&str; 3] = ["events", "users", "dead_letters"];

fn clickhouse_database() -> String {
    let server = std::env::var("SLOG_TEST_CLICKHOUSE_URL").expect(
        "SLOG_TEST_CLICKHOUSE_URL names the ClickHouse server (scripts/test.sh starts one)",
    );
    format!(
        "{}/slog_t_{}",
        server.trim_end_matches('/'),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn kafka_config(bootstrap: &str, warehouse: &str, load: bool) -> String {
    format!(
        r#"
[sink]
kind = "kafka"
[sink.kafka]
brokers = "{bootstrap}"
linger_ms = 5
[warehouse]
url = "{warehouse}"
load = {load}
poll_ms = 200
group_id = "slog-warehouse-test"
[reports]
enabled = true
"#
    )
}

const FILE_CONFIG: &str = r#"
[sink]
kind = "file"
[warehouse]
poll_ms = 50
[reports]
enabled = true
"#;

/// Epoch ms of a Shanghai wall-clock time (UTC+8).
fn local(date: &str, hms: &str, ms: i64) -> i64 {
    let day: i64 = date[8..10].parse().unwrap();
    // 2026-11-DD: 2026-11-01 00:00 UTC is 1793491200 s.
    let (h, m, s): (i64, i64, i64) = (
        hms[0..2].parse().unwrap(),
        hms[3..5].parse().unwrap(),
        hms[6..8].parse().unwrap(),
    );
    assert!(date.starts_with("2026-11-"));
    ((1_793_491_200 + (day - 1) * 86_400 + h * 3600 + m * 60 + s - 8 * 3600) * 1000) + ms
}

fn at(time: i64, mut event: Value) -> Value {
    event["use_server_time"] = json!(false);
    event["time"] = json!(time);
    event
}

fn buy(course: Option<&str>, money: i64, identities: Value) -> Value {
    let mut ps = json!({"money": money});
    if let Some(c) = course {
        ps["course_name"] = json!(c);
    }
    json!({"stype": 100, "eid": "buyCourse", "project": "zhibo", "ps": ps, "uidentity": identities})
}

fn pageview(identities: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo",
           "ps": {"url": "https://x.example/a", "ct": 100}, "uidentity": identities})
}

/// The events every store gets, in order. Times straddle local midnights and a week's start
/// (2026-11-23 is a Monday).
fn history() -> Vec<Value> {
    vec![
        at(
            local("2026-11-20", "10:00:00", 0),
            pageview(json!({"deviceUUID": "d-app", "userid": "u-1"})),
        ),
        at(
            local("2026-11-20", "23:59:59", 999),
            buy(Some("新概念"), 100, json!({"browserId": "b-1"})),
        ),
        at(
            local("2026-11-21", "00:00:00", 0),
            buy(
                Some("新概念"),
                200,
                json!({"browserId": "b-1", "userid": "u-1"}),
            ),
        ),
        json!({"stype": 101, "project": "zhibo", "ps": {"city": "北京"}, "uidentity": {"userid": "u-1"}}),
        at(
            local("2026-11-22", "23:59:59", 999),
            buy(Some("超级外教"), 80, json!({"userid": "u-2"})),
        ),
        at(
            local("2026-11-23", "00:00:00", 0),
            buy(Some("超级外教"), 80, json!({"userid": "u-2"})),
        ),
        at(
            local("2026-11-23", "12:00:00", 0),
            buy(None, 30, json!({"userid": "u-2"})),
        ),
        json!({"stype": 101, "project": "zhibo", "ps": {"city": "上海"}, "uidentity": {"userid": "u-2"}}),
        at(
            local("2026-11-24", "09:00:00", 0),
            buy(Some("趣味阅读"), 10, json!({"userid": "u-3"})),
        ),
        // Outside the reports' range.
        at(
            local("2026-11-27", "00:00:00", 0),
            buy(Some("新概念"), 1, json!({"userid": "u-3"})),
        ),
    ]
}

/// Track events in `history()`.
const TRACK_EVENTS: i64 = 8;

async fn report(slog: &Slog, path: &str, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(slog.url(path))
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .await
        .expect("report request");
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn range(extra: Value) -> Value {
    let mut body = json!({"from_date": "2026-11-20", "to_date": "2026-11-26"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Waits until the store behind `slog` has loaded every track event of the range and beyond.
async fn wait_loaded(slog: &Slog, expected: i64) {
    let body = json!({"from_date": "2026-11-01", "to_date": "2026-11-30",
        "measures": [{"event_name": "$Anything", "aggregator": "general"}]});
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = report(slog, "/events/report", &body).await;
        let loaded = answer["rows"][0]["values"][0].as_i64().unwrap_or(0);
        if loaded == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "loaded {loaded} of {expected}: {answer}\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The answer without the times that differ by store and moment.
fn comparable(mut answer: Value) -> Value {
    for key in ["report_update_time", "data_sufficient_update_time"] {
        answer.as_object_mut().unwrap().remove(key);
    }
    if let Some(rollup) = answer.get_mut("rollup_result") {
        for key in ["report_update_time", "data_sufficient_update_time"] {
            rollup.as_object_mut().map(|r| r.remove(key));
        }
    }
    answer
}

fn requests() -> Vec<(&'static str, Value)> {
    let buy = |aggregator: &str| json!({"event_name": "buyCourse", "aggregator": aggregator, "field": "event.buyCourse.money"});
    vec![
        (
            "/events/report",
            range(
                json!({"measures": [{"event_name": "buyCourse", "aggregator": "uniq_count"}],
            "detail_and_rollup": true, "by_fields": ["event.buyCourse.course_name"], "limit": 100}),
            ),
        ),
        (
            "/events/report",
            range(
                json!({"measures": [buy("general"), buy("unique"), buy("average"), buy("sum"),
            buy("avg"), buy("max"), buy("min"), {"event_name": "$Anything", "aggregator": "general"}]}),
            ),
        ),
        (
            "/events/report",
            range(json!({"measures": [buy("unique"), buy("general")], "by_fields": ["user.city"]})),
        ),
        (
            "/events/report",
            range(
                json!({"measures": [buy("general"), buy("unique")], "filter": {"relation": "or",
            "conditions": [{"field": "event.buyCourse.course_name", "function": "notSet"},
                           {"field": "event.buyCourse.money", "function": "between", "params": [90, 250]}]}}),
            ),
        ),
        (
            "/events/report",
            range(
                json!({"measures": [buy("general"), buy("unique")], "unit": "day", "detail_and_rollup": true}),
            ),
        ),
        (
            "/events/report",
            range(
                json!({"measures": [buy("general")], "unit": "week", "by_fields": ["event.buyCourse.course_name"]}),
            ),
        ),
        (
            "/events/report",
            range(
                json!({"measures": [buy("general")], "by_fields": ["event.buyCourse.course_name"], "limit": 1}),
            ),
        ),
        (
            "/addictions/report",
            range(
                json!({"event_name": "buyCourse", "by_field": "event.buyCourse.course_name",
            "sampling_factor": 64, "unit": "day", "measure_type": "times", "result_bucket_param": [1, 2, 3]}),
            ),
        ),
        (
            "/addictions/report",
            range(
                json!({"event_name": "buyCourse", "unit": "day", "measure_type": "period",
            "result_bucket_param": [1, 2]}),
            ),
        ),
        (
            "/addictions/report",
            range(
                json!({"event_name": "buyCourse", "unit": "day", "measure_type": "times",
            "rollup_date": false, "result_bucket_param": [1, 2]}),
            ),
        ),
    ]
}

#[tokio::test]
async fn the_same_posted_events_give_the_same_reports_on_clickhouse_and_sqlite() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &TOPICS, 3).await;
    let env = [("SLOG_ADMIN_TOKEN", ADMIN)];
    let production = Slog::start_with_env(
        &kafka_config(&broker.bootstrap(), &clickhouse_database(), true),
        &env,
    );
    let embedded = Slog::start_with_env(FILE_CONFIG, &env);
    for slog in [&production, &embedded] {
        register_buy_course(slog, ADMIN, &[("course_name", 0), ("money", 3)]).await;
        for event in history() {
            let (status, body) = post_event(slog, &event).await;
            assert_eq!(status, StatusCode::OK, "{body} for {event}");
        }
    }
    wait_loaded(&production, TRACK_EVENTS).await;
    wait_loaded(&embedded, TRACK_EVENTS).await;
    // The profiles and the merge are on the users topic, consumed beside the events: wait for
    // the person-dependent answer to settle too.
    let by_city = &requests()[2];
    let deadline = Instant::now() + Duration::from_secs(30);
    while comparable(report(&production, by_city.0, &by_city.1).await)
        != comparable(report(&embedded, by_city.0, &by_city.1).await)
    {
        assert!(Instant::now() < deadline, "{}", production.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for (path, body) in requests() {
        let on_clickhouse = comparable(report(&production, path, &body).await);
        let on_sqlite = comparable(report(&embedded, path, &body).await);
        assert_eq!(on_clickhouse, on_sqlite, "{path} {body}");
    }
    // Not equal by being empty: the anonymous purchase and the login's are one person.
    let plan = report(&production, requests()[0].0, &requests()[0].1).await;
    let row = plan["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["by_values"] == json!(["新概念"]))
        .cloned()
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(row["values"], json!([1]), "{plan}");
    let days = report(&production, requests()[4].0, &requests()[4].1).await;
    // 23:59:59.999 and 00:00:00.000 on either side of each local midnight.
    assert_eq!(
        days["rows"][0]["values"],
        json!([[1, 1], [1, 1], [1, 1], [2, 1], [1, 1], [0, 0], [0, 0]]),
        "{days}"
    );
    let cities = report(&production, by_city.0, &by_city.1).await;
    let beijing = cities["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["by_values"] == json!(["北京"]))
        .cloned()
        .unwrap_or_else(|| panic!("{cities}"));
    assert_eq!(beijing["values"], json!([1, 2]), "{cities}");
}

/// A `slog load` process, its log lines collected.
struct LoadProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl LoadProcess {
    fn start(dir: &std::path::Path, config: &str, name: &str) -> LoadProcess {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(slog_bin())
            .args(["load", "--config"])
            .arg(&path)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slog load");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        LoadProcess { child, logs }
    }

    /// The partitions this loader said it owns last.
    fn owned(&self) -> Vec<String> {
        let logs = self.logs.lock().unwrap();
        let Some(line) = logs
            .iter()
            .rev()
            .find(|l| l.contains("loader owns partitions"))
        else {
            return Vec::new();
        };
        let list = line
            .split("partitions=[")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or("");
        list.split(", ")
            .map(|p| p.trim_matches('"').to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    }

    fn stop(mut self) -> (bool, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let ok = self.child.wait().map(|s| s.success()).unwrap_or(false);
        (ok, self.logs.lock().unwrap().join("\n"))
    }
}

#[tokio::test]
async fn two_loaders_in_one_group_split_the_partitions_and_store_each_event_once() {
    let broker = Broker::start();
    create_topics(&broker.bootstrap(), &TOPICS, 3).await;
    let warehouse = clickhouse_database();
    let config = kafka_config(&broker.bootstrap(), &warehouse, false);
    let slog = Slog::start_with_env(&config, &[("SLOG_ADMIN_TOKEN", ADMIN)]);
    let dir = tempfile::tempdir().unwrap();
    let first = LoadProcess::start(dir.path(), &config, "first");
    let second = LoadProcess::start(dir.path(), &config, "second");
    // The second member to join takes its share at the group's next rebalance (the first
    // member hears of it at a heartbeat): wait until both own partitions.
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.owned().is_empty() || second.owned().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the group never gave both loaders partitions: {:?} / {:?}",
            first.owned(),
            second.owned()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Many users, so every partition gets events.
    let n = 60;
    for i in 0..n {
        let (status, body) =
            post_event(&slog, &pageview(json!({"userid": format!("u-{i}")}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let ch = reqwest::Client::new();
    let (server, database) = warehouse.rsplit_once('/').unwrap();
    let count = |sql: &'static str| {
        let ch = ch.clone();
        let url = format!("{server}/?database={database}");
        async move {
            let text = ch
                .post(url)
                .body(sql)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.trim().parse::<i64>().ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("SELECT count() FROM wh_events").await != Some(n) {
        assert!(
            Instant::now() < deadline,
            "loaded {:?} of {n}",
            count("SELECT count() FROM wh_events").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count("SELECT uniqExact(event_id) FROM wh_events").await,
        Some(n)
    );
    let (a, b) = (first.owned(), second.owned());
    let (ok_a, logs_a) = first.stop();
    let (ok_b, logs_b) = second.stop();
    assert!(
        ok_a && ok_b,
        "slog load exits 0 on SIGTERM:\n{logs_a}\n{logs_b}"
    );
    // Both loaders own partitions, none twice, and together all six.
    assert!(
        !a.is_empty() && !b.is_empty(),
        "{a:?} / {b:?}\n{logs_a}\n{logs_b}"
    );
    let mut all: Vec<String> = a.iter().chain(b.iter()).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "{a:?} / {b:?}");
    assert_eq!(all.len(), 6, "{all:?}");
    // Stopping after the offsets were committed: nothing is stored again by a new loader.
    let third = LoadProcess::start(dir.path(), &config, "third");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok, logs) = third.stop();
    assert!(ok, "{logs}");
    assert_eq!(count("SELECT count() FROM wh_events").await, Some(n));
}
