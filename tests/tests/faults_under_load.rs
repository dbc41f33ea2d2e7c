//! Faults beside a normal load, end to end on the real binary and the file sink: hostile plugins
//! (an endless loop, a trap, a memory hog) and a storm of malformed requests. The normal load must
//! not notice: every one of its requests answered 200 and stored, the hostile ones answered
//! 4xx (or passed, for a fail-open plugin), never a 5xx, never a dropped connection.
#![cfg(feature = "e2e")]
use flate2::{write::GzEncoder, Compression};
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::metrics;
use slog_tests::plugins::{PluginSlog, ISOLATION_PLUGINS};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Posts single pageviews until `stop`; returns the event ids answered 200 and the other
/// answers (status, or 0 for a connection error).
async fn normal_load(url: String, sender: usize, stop: Arc<AtomicBool>) -> (Vec<String>, Vec<u16>) {
    let client = Client::new();
    let (mut acked, mut other) = (Vec::new(), Vec::new());
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let event = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                           "ps": {"url": format!("https://x.example/{n}")},
                           "uidentity": {"deviceUUID": format!("normal-{sender}-{n}")}});
        match client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(event.to_string())
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::OK => {
                let body: Value = r.json().await.unwrap();
                acked.push(body["event_id"].as_str().unwrap().to_owned());
            }
            Ok(r) => other.push(r.status().as_u16()),
            Err(_) => other.push(0),
        }
    }
    (acked, other)
}

/// The normal senders' results together: ids answered 200, other answers.
async fn gather(
    senders: Vec<tokio::task::JoinHandle<(Vec<String>, Vec<u16>)>>,
) -> (Vec<String>, Vec<u16>) {
    let (mut acked, mut other) = (Vec::new(), Vec::new());
    for task in senders {
        let (a, o) = task.await.unwrap();
        acked.extend(a);
        other.extend(o);
    }
    (acked, other)
}

fn stored_ids(slog: &Slog) -> HashSet<String> {
    slog.file_records("events")
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_owned())
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// One malformed request of each kind slog must refuse with a 4xx.
/// A malformed request: its name, path, content type, content encoding and body.
type StormCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
);

fn storm_cases() -> Vec<StormCase> {
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    let mut random = Vec::with_capacity(4096);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    vec![
        ("random bytes", "/slog/event", json, None, random.clone()),
        (
            "truncated JSON",
            "/slog/event",
            json,
            None,
            br#"[{"stype":100,"eid":"pa"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            "/slog/event",
            json,
            None,
            b"{\"eid\":\"\xff\xfe\"}".to_vec(),
        ),
        (
            "duplicate key",
            "/slog/event",
            json,
            None,
            br#"{"stype":100,"stype":101,"project":"zhibo","eid":"x"}"#.to_vec(),
        ),
        (
            "deep nesting",
            "/slog/event",
            json,
            None,
            "[".repeat(50_000).into_bytes(),
        ),
        (
            "long string",
            "/slog/event",
            json,
            None,
            format!(
                r#"{{"stype":100,"project":"zhibo","eid":"x","ps":{{"s":"{}"}}}}"#,
                "s".repeat(70_000)
            )
            .into_bytes(),
        ),
        (
            "NUL in project",
            "/slog/event",
            json,
            None,
            br#"{"stype":100,"project":"zhi\u0000bo","eid":"x"}"#.to_vec(),
        ),
        (
            "wrong types",
            "/slog/event",
            json,
            None,
            br#"{"stype":"100","project":7,"eid":[]}"#.to_vec(),
        ),
        ("empty batch", "/slog/event", json, None, b"[]".to_vec()),
        (
            "wrong content type",
            "/slog/event",
            "image/png",
            None,
            random.clone(),
        ),
        (
            "bad gzip",
            "/slog/event",
            json,
            Some("gzip"),
            random.clone(),
        ),
        (
            "gzip bomb",
            "/slog/event",
            json,
            Some("gzip"),
            gzip(&vec![b'['; 50 << 20]),
        ),
        (
            "body over the limit",
            "/slog/event",
            json,
            None,
            vec![b' '; 2 << 20],
        ),
        ("sensors: no data", "/sa", form, None, b"foo=bar".to_vec()),
        (
            "sensors: bad base64",
            "/sa",
            form,
            None,
            b"data=%%%%&gzip=0".to_vec(),
        ),
        (
            "sensors: crc mismatch",
            "/sa",
            form,
            None,
            b"data=eyJhIjoxfQ%3D%3D&crc=12345".to_vec(),
        ),
        (
            "sensors: encrypted",
            "/sa",
            form,
            None,
            b"data_list=AAAA&gzip=9".to_vec(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_malformed_requests_gets_4xx_and_the_normal_load_is_untouched() {
    let slog = Slog::start(
        "[registry]\ndefault_policy = \"lenient\"\n[sink]\nkind = \"file\"\n\
         [server]\nmax_string_bytes = 65536\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let url = slog.url("/slog/event");
    let normal: Vec<_> = (0..3)
        .map(|s| tokio::spawn(normal_load(url.clone(), s, stop.clone())))
        .collect();
    let cases = Arc::new(storm_cases());
    let storms: Vec<_> = (0..3)
        .map(|s| {
            let (cases, stop, base) = (cases.clone(), stop.clone(), slog.url(""));
            tokio::spawn(async move {
                let client = Client::new();
                let mut answers: BTreeMap<&'static str, BTreeMap<u16, usize>> = BTreeMap::new();
                let mut i = s;
                while !stop.load(Ordering::Relaxed) {
                    let (name, path, content_type, encoding, body) = &cases[i % cases.len()];
                    i += 1;
                    let mut request = client
                        .post(format!("{base}{path}"))
                        .header(header::CONTENT_TYPE, *content_type)
                        .body(body.clone());
                    if let Some(encoding) = encoding {
                        request = request.header(header::CONTENT_ENCODING, *encoding);
                    }
                    let status = match request.send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            // A Sensors answer is a 200 with the refusals inside only when the
                            // data decoded; every case here is undecodable.
                            let _ = r.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    *answers.entry(*name).or_default().entry(status).or_default() += 1;
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);

    let (acked, normal_other) = gather(normal).await;
    let mut by_case: BTreeMap<&str, BTreeMap<u16, usize>> = BTreeMap::new();
    for task in storms {
        for (name, statuses) in task.await.unwrap() {
            for (status, n) in statuses {
                *by_case.entry(name).or_default().entry(status).or_default() += n;
            }
        }
    }
    let stored = stored_ids(&slog);
    let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
    let storm_total: usize = by_case.values().flat_map(|s| s.values()).sum();
    println!(
        "malformed storm: {storm_total} malformed requests beside {} normal ones; normal lost \
         {lost}, normal refused {}; answers by case: {by_case:?}",
        acked.len(),
        normal_other.len()
    );
    assert!(acked.len() > 50, "the normal load ran");
    assert!(
        normal_other.is_empty(),
        "normal requests not answered 200: {normal_other:?}"
    );
    assert_eq!(lost, 0);
    for (name, statuses) in &by_case {
        for status in statuses.keys() {
            assert!(
                (400..500).contains(status),
                "{name}: answered {status} (0 = connection dropped): {statuses:?}"
            );
        }
    }
    assert_eq!(by_case.len(), cases.len(), "every case was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_under_load_cost_only_their_own_events() {
    let s = PluginSlog::start(
        &["loop_forever.wasm", "trap.wasm", "memory_hog.wasm"],
        ISOLATION_PLUGINS,
        "call_timeout_ms = 300\nmax_memory_bytes = 8388608",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let url = s.slog.url("/slog/event");
    let normal: Vec<_> = (0..3)
        .map(|n| tokio::spawn(normal_load(url.clone(), n, stop.clone())))
        .collect();
    let hostile: Vec<_> = ["spin", "boom", "hog"]
        .into_iter()
        .map(|eid| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move {
                let client = Client::new();
                let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    let event = json!({"stype": 100, "eid": eid, "project": "zhibo",
                                       "uidentity": {"deviceUUID": format!("hostile-{eid}")}});
                    let status = client
                        .post(&url)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(event.to_string())
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16());
                    *answers.entry(status).or_default() += 1;
                }
                (eid, answers)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, normal_other) = gather(normal).await;
    let mut hostile_answers = BTreeMap::new();
    for task in hostile {
        let (eid, answers) = task.await.unwrap();
        hostile_answers.insert(eid, answers);
    }
    let stored = stored_ids(&s.slog);
    let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
    let metrics = metrics(&s.slog).await;
    let failures: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("slog_plugin_failures_total"))
        .collect();
    println!(
        "hostile plugins: normal acked {}, lost {lost}, refused {}; hostile answers {hostile_answers:?}; \
         {failures:?}",
        acked.len(),
        normal_other.len()
    );
    assert!(acked.len() > 50, "the normal load ran");
    assert!(normal_other.is_empty(), "{normal_other:?}");
    assert_eq!(lost, 0);
    assert_eq!(
        hostile_answers["spin"].keys().collect::<Vec<_>>(),
        [&200],
        "fail-open passes"
    );
    for eid in ["boom", "hog"] {
        assert_eq!(
            hostile_answers[eid].keys().collect::<Vec<_>>(),
            [&400],
            "{eid}: fail-closed refuses, never a 5xx"
        );
    }
    for kind in ["timeout", "trap", "memory"] {
        assert!(
            failures
                .iter()
                .any(|l| l.contains(&format!("kind=\"{kind}\""))),
            "no {kind} failure counted: {failures:?}"
        );
    }
    assert_eq!(
        reqwest::get(s.slog.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
}
