//! End to end on the embedded default: the real binary, the file sink, HTTP over loopback.
#![cfg(feature = "e2e")]
use flate2::{write::GzEncoder, Compression};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::metrics;
use std::io::Write;
use std::time::Duration;

const FILE_CONFIG: &str = r#"
[server]
cors_allowed_origins = ["https://www.example.com"]
max_body_bytes = 65536
max_decoded_bytes = 262144
max_batch_events = 50
[registry]
# These tests are about ingestion: unregistered names (the tracking plan's ViewViedo) pass as warnings.
default_policy = "lenient"
[sink]
kind = "file"
"#;

/// The tracking plan's §3.1 example body, with its // comments and trailing comma removed.
const SEED_EXAMPLE: &str = r#"{
"time":1434556935000,
"use_server_time": true,
"stype":100,
"eid":"ViewViedo",
"sid":"12345",
"ver":"js1.1.0",
"r":13212,
"project": "zhibo",
"ps": {
"url": "a/b/c/d",
"ip":"180.12.43.42",
"teacher": "abc",
"start_time": 1434556935000
},
"uidentity": {
"uuid":"123123123",
"mobile": "1234566778"
}
}"#;

async fn post(slog: &Slog, body: impl Into<reqwest::Body>) -> Response {
    Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn pageview(user: &str) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
           "ps": {"url": "https://x.example/a", "ct": 100}, "uidentity": {"deviceUUID": user}})
}

#[tokio::test]
async fn the_tracking_plan_example_lands_in_data_events_jsonl_with_server_fields() {
    let slog = Slog::start(FILE_CONFIG);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (status, body) = json_of(post(&slog, SEED_EXAMPLE).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
    let event_id = body["event_id"].as_str().expect("event_id in the answer");

    let records = slog.file_records("events");
    assert_eq!(records.len(), 1, "exactly one line, written before the 200");
    let r = &records[0];
    assert_eq!(r["event_id"], event_id);
    assert_eq!(r["eid"], "ViewViedo");
    assert_eq!(r["project"], "zhibo");
    assert_eq!(r["type"], "track");
    assert_eq!(r["stype"], 100);
    assert_eq!(r["time_source"], "server");
    assert_eq!(r["client_time"], 1434556935000_i64);
    let time = r["time"].as_i64().unwrap();
    assert!(
        time >= before && time == r["received_at"].as_i64().unwrap(),
        "server time wins"
    );
    assert_eq!(
        r["ps"],
        json!({"url": "a/b/c/d", "ip": "180.12.43.42", "teacher": "abc", "start_time": 1434556935000_i64,
               // Enrichment: from `url` and `ver`; no ct, so nothing from the request.
               "url_path": "a/b/c/d", "lib": "js", "lib_version": "1.1.0"})
    );
    assert_eq!(
        r["uidentity"],
        json!({"uuid": "123123123", "mobile": "1234566778"})
    );
    assert!(r.get("r").is_none(), "the cache buster is not forwarded");
    assert!(slog.file_records("users").is_empty());
}

#[tokio::test]
async fn profile_messages_go_to_users_and_history_imports_keep_their_time() {
    let slog = Slog::start(FILE_CONFIG);
    let profile = json!({"stype": 102, "project": "zhibo", "ps": {"name": "Li"},
                         "uidentity": {"userid": "u-7"}});
    let (status, body) = json_of(post(&slog, profile.to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let import = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                        "use_server_time": false, "time": 1556000000000_i64});
    let (status, body) = json_of(post(&slog, import.to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let users = slog.file_records("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["type"], "profile_insert");
    assert_eq!(users[0]["ps"]["name"], "Li");
    let events = slog.file_records("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["time"], 1556000000000_i64);
    assert_eq!(events[0]["time_source"], "client");
}

#[tokio::test]
async fn a_batch_reports_each_event_and_stores_only_the_accepted_ones() {
    let slog = Slog::start(FILE_CONFIG);
    let batch = json!([
        pageview("d-1"),
        {"stype": 100, "project": "zhibo"},
        {"stype": 150, "project": "zhibo", "eid": "x"},
        pageview("d-2"),
    ]);
    let (status, body) = json_of(post(&slog, batch.to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(2), Some(2))
    );
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["error"]["code"], "missing_field");
    assert_eq!(results[1]["error"]["field"], "eid");
    assert_eq!(results[2]["error"]["code"], "unsupported_stype");
    let stored: Vec<Value> = slog.file_records("events");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["event_id"], results[0]["event_id"]);
    assert_eq!(stored[1]["event_id"], results[3]["event_id"]);

    let all_bad = json!([{"stype": 100}, {"project": "p"}]);
    let (status, body) = json_of(post(&slog, all_bad.to_string()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["accepted"], 0);
    assert_eq!(body["results"][0]["error"]["field"], "project");
}

#[tokio::test]
async fn gzip_batches_are_accepted_and_gzip_bombs_get_413() {
    let slog = Slog::start(FILE_CONFIG);
    let batch: Vec<Value> = (0..20).map(|i| pageview(&format!("d-{i}"))).collect();
    let response = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(gzip(serde_json::to_string(&batch).unwrap().as_bytes()))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 20);
    assert_eq!(slog.file_records("events").len(), 20);

    // 50 MiB of spaces compresses to ~50 KiB: under the wire limit, far over the decoded one.
    let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
    let response = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");
    let (status, _) = json_of(reqwest::get(slog.url("/healthz")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "still serving after the bomb");
}

#[tokio::test]
async fn oversized_bodies_and_batches_get_413() {
    let slog = Slog::start(FILE_CONFIG);
    let big = json!({"stype": 100, "eid": "pageview", "project": "p",
                     "ps": {"blob": "x".repeat(70_000)}});
    let (status, body) = json_of(post(&slog, big.to_string()).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "body_too_large");
    let batch: Vec<Value> = (0..51).map(|i| pageview(&i.to_string())).collect();
    let (status, body) = json_of(post(&slog, serde_json::to_string(&batch).unwrap()).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "batch_too_large");
    assert!(
        slog.file_records("events").is_empty(),
        "nothing of a refused request is stored"
    );
}

#[tokio::test]
async fn client_mistakes_get_4xx_json_naming_field_and_rule() {
    let slog = Slog::start(FILE_CONFIG);
    let cases: Vec<(String, StatusCode, &str, Value)> = vec![
        (
            "{\"stype\": 100,".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            Value::Null,
        ),
        (
            json!({"stype": "100", "project": "p", "eid": "e"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_type",
            json!("stype"),
        ),
        (
            json!({"stype": 100, "eid": "e"}).to_string(),
            StatusCode::BAD_REQUEST,
            "missing_field",
            json!("project"),
        ),
        (
            json!({"stype": 99, "project": "p", "eid": "e"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_value",
            json!("stype"),
        ),
        (
            json!({"stype": 100, "project": "p", "eid": "e", "ps": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_type",
            json!("ps"),
        ),
        (
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "empty_batch",
            Value::Null,
        ),
    ];
    for (body, expected_status, code, field) in cases {
        let (status, answer) = json_of(post(&slog, body.clone()).await).await;
        assert_eq!(status, expected_status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }

    let form = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("a=1")
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(form).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer["error"]["field"], "Content-Type");

    let (status, answer) = json_of(reqwest::get(slog.url("/slog/event")).await.unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer["error"]["code"], "method_not_allowed");
    let (status, _) = json_of(reqwest::get(slog.url("/nope")).await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(slog.file_records("events").is_empty());
}

#[tokio::test]
async fn browsers_from_configured_origins_pass_cors_and_others_do_not() {
    let slog = Slog::start(FILE_CONFIG);
    let preflight = |origin: &'static str| {
        Client::new()
            .request(reqwest::Method::OPTIONS, slog.url("/slog/event"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .send()
    };
    let allowed = preflight("https://www.example.com").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://www.example.com"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    // navigator.sendBeacon posts text/plain; it must be taken like JSON.
    let beacon = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::ORIGIN, "https://www.example.com")
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(pageview("d-b").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(beacon.status(), StatusCode::OK);
    assert_eq!(
        beacon.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://www.example.com"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_tell_what_happened() {
    let slog = Slog::start(FILE_CONFIG);
    let (status, body) = json_of(reqwest::get(slog.url("/healthz")).await.unwrap()).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = json_of(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&body["status"], &body["sink"]),
        (&json!("ready"), &json!("file"))
    );
    assert_eq!(body["registry"]["status"], "ok", "{body}");
    assert!(body["registry"]["version"].as_i64().unwrap() >= 1, "{body}");

    post(&slog, pageview("d-1").to_string()).await;
    post(&slog, pageview("d-2").to_string()).await;
    post(&slog, json!({"stype": 100, "project": "p"}).to_string()).await;
    let metrics = metrics(&slog).await;
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{metrics}"))
            .to_owned()
    };
    assert!(line("slog_events_accepted_total{topic=\"events\"}").ends_with(" 2"));
    assert!(line("slog_events_rejected_total{code=\"missing_field\"}").ends_with(" 1"));
    assert!(line("slog_http_requests_total{path=\"/slog/event\",status=\"400\"}").ends_with(" 1"));
    assert!(line("slog_sink_delivery_seconds_count{sink=\"file\"}").ends_with(" 2"));
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_flushes_before_exit() {
    let mut slog = Slog::start(FILE_CONFIG);
    let url = slog.url("/slog/event");
    // Many concurrent batches in flight while the signal arrives: each answered one must be stored.
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let batch: Vec<Value> = (0..40).map(|j| pageview(&format!("{i}-{j}"))).collect();
                let response = Client::new()
                    .post(url)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_string(&batch).unwrap())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == StatusCode::OK => 40,
                    _ => 0,
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = slog.terminate(Duration::from_secs(20));
        (status, slog)
    })
    .await
    .unwrap();
    let (exit, slog) = status;
    assert!(exit.success(), "clean exit; log:\n{}", slog.logs());
    let mut acknowledged = 0;
    for s in senders {
        acknowledged += s.await.unwrap();
    }
    let stored = slog.file_records("events").len();
    assert!(
        stored >= acknowledged,
        "{acknowledged} acknowledged but {stored} stored"
    );
    assert!(slog.logs().contains("sink flushed"), "{}", slog.logs());
}

#[tokio::test]
async fn env_overrides_change_the_routing_topics() {
    let slog = Slog::start_with_env(FILE_CONFIG, &[("SLOG_ROUTING__TRACK_TOPIC", "web_events")]);
    let (status, _) = json_of(post(&slog, pageview("d").to_string()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slog.file_records("web_events").len(), 1);
    assert!(slog.file_records("events").is_empty());
}

#[tokio::test]
async fn hostile_but_well_formed_bodies_are_refused_naming_the_field() {
    let slog = Slog::start(&FILE_CONFIG.replace(
        "max_batch_events = 50",
        "max_batch_events = 50\nmax_string_bytes = 1024",
    ));
    let long = "长".repeat(400); // 1200 bytes of UTF-8, over the 1024 cap
    let cases: Vec<(String, &str, &str)> = vec![
        (
            r#"{"stype":"x","stype":100,"project":"zhibo","eid":"pageview"}"#.into(),
            "duplicate_key",
            "stype",
        ),
        (
            format!(
                "[{},{{\"stype\":100,\"project\":\"zhibo\",\"eid\":\"pageview\",\
                 \"ps\":{{\"url\":\"a\",\"url\":\"b\"}}}}]",
                pageview("d-1")
            ),
            "duplicate_key",
            "[1].ps.url",
        ),
        (
            json!({"stype": 100, "project": "zhibo", "eid": "pageview", "ps": {"title": long}})
                .to_string(),
            "string_too_long",
            "ps.title",
        ),
        (
            json!({"stype": 100, "project": "zhi\u{0}bo", "eid": "pageview"}).to_string(),
            "invalid_value",
            "project",
        ),
        (
            json!({"stype": 100, "project": "zhibo", "eid": "page\nview"}).to_string(),
            "invalid_value",
            "eid",
        ),
    ];
    for (body, code, field) in cases {
        let (status, answer) = json_of(post(&slog, body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} -> {answer}");
    }
    // The same string under the cap is an ordinary property.
    let fits = json!({"stype": 100, "project": "zhibo", "eid": "pageview",
                      "ps": {"title": "长".repeat(300)}, "uidentity": {"deviceUUID": "d-2"}});
    let (status, answer) = json_of(post(&slog, fits.to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = slog.file_records("events");
    assert_eq!(stored.len(), 1, "nothing of a refused request was stored");
    assert_eq!(stored[0]["ps"]["title"], "长".repeat(300));
}

#[tokio::test]
async fn a_torn_tail_left_by_a_crash_is_set_apart_before_appending() {
    let slog = Slog::start(FILE_CONFIG);
    // What a process killed mid-write leaves: whole lines, then half a record, no newline. The
    // sink opens a topic's file on its first record, so this is what it finds.
    let data = slog.workdir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let whole = json!({"event_id": "before-the-crash"}).to_string();
    std::fs::write(
        data.join("events.jsonl"),
        format!("{whole}\n{{\"event_id\":\"torn"),
    )
    .unwrap();
    let (status, answer) = json_of(post(&slog, pageview("d-1").to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let records = slog.file_records("events"); // panics on any line that is not JSON
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["event_id"], "before-the-crash");
    assert_eq!(records[1]["event_id"], answer["event_id"]);
    let quarantined = std::fs::read_to_string(data.join("events.jsonl.torn")).unwrap();
    assert_eq!(quarantined, "{\"event_id\":\"torn\n");
    let metrics = metrics(&slog).await;
    assert!(
        metrics.contains("slog_file_sink_torn_tails_total{topic=\"events\"} 1"),
        "{metrics}"
    );
    assert!(slog.logs().contains("half a record"), "{}", slog.logs());
}
