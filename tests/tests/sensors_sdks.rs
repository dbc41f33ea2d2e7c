//! The Sensors Analytics SDKs post to slog unchanged: the real sa-sdk-javascript (under jsdom, in
//! its image, ajax, beacon and batch modes), sa-sdk-node and sensorsanalyticssdk send a pageview,
//! a custom event with Chinese properties, a login and every profile operation to `/sa`, and the
//! records land mapped onto slog's model, validated, enriched and linked to one person, on the
//! file sink and on Kafka. Plus the answers an SDK's queue depends on: 200 for data that decodes
//! (refused messages dead-lettered), 400 for data that does not, 503 when the sink is down.
#![cfg(feature = "e2e")]
use base64::Engine as _;
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::{consume, create_topics, Broker, Slog};
use slog_tests::http::{register_buy_course, register_properties};
use slog_tests::persons::{final_uuid, merges};
use slog_tests::sensors::{self, Sdk};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const TOKEN: &str = "t0ken";

fn file_config() -> String {
    format!("[sink]\nkind = \"file\"\n[admin]\ntoken = \"{TOKEN}\"\n[warehouse]\nload = false\n")
}

/// The scenario's custom names: buyCourse and its properties, and two profile properties.
async fn register_scenario(slog: &Slog) {
    register_buy_course(
        slog,
        TOKEN,
        &[("course_name", 0), ("course_type", 0), ("money", 3)],
    )
    .await;
    register_properties(
        slog,
        TOKEN,
        "profile-properties",
        &[("tags", 0), ("login_count", 3)],
    )
    .await;
}

/// Whether `record` is about the run whose ids end in `run`.
fn of_run(record: &Value, run: &str) -> bool {
    let ids = [format!("anon-{run}"), format!("user-{run}")];
    record["uidentity"]
        .as_object()
        .is_some_and(|u| u.values().any(|v| ids.iter().any(|id| v == id)))
}

/// What one SDK run must have produced, whatever the sink.
fn check_run(sdk: Sdk, run: &str, summary: &Value, events: &[Value], users: &[Value]) {
    let merged = merges(users);
    let login = format!("user-{run}");
    let anonymous = format!("anon-{run}");
    let tracks: Vec<&Value> = events.iter().filter(|r| of_run(r, run)).collect();
    let eids: Vec<&str> = tracks.iter().map(|r| r["eid"].as_str().unwrap()).collect();
    let mut sorted = eids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["SignUp", "buyCourse", "buyCourse", "pageview"],
        "{sdk:?}: {eids:?}"
    );
    for record in &tracks {
        assert_eq!(record["wire"], "sensors", "{sdk:?}: {record}");
        assert_eq!(record["time_source"], "client", "{record}");
        assert_eq!(record["ps"]["ct"], sdk.client_type(), "{sdk:?}: {record}");
        assert_eq!(record["ps"]["lib"], sdk.lib(), "{sdk:?}: {record}");
        assert!(record["ps"].get("is_login_id").is_none(), "{record}");
        if sdk != Sdk::Python {
            // sensorsanalyticssdk sends no _track_id.
            assert!(record["client_event_id"].is_string(), "{sdk:?}: {record}");
        }
    }
    // The Chinese properties arrive as sent.
    let purchases: BTreeSet<(String, i64)> = tracks
        .iter()
        .filter(|r| r["eid"] == "buyCourse")
        .map(|r| {
            (
                r["ps"]["course_name"].as_str().unwrap().to_owned(),
                r["ps"]["money"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        purchases,
        BTreeSet::from([("高等数学".to_owned(), 199), ("线性代数".to_owned(), 99)]),
        "{sdk:?}"
    );
    let pageview = tracks.iter().find(|r| r["eid"] == "pageview").unwrap();
    assert_eq!(
        pageview["ps"]["url"],
        "https://www.example.com/course/1?from=ad"
    );
    assert_eq!(pageview["ps"]["url_path"], "/course/1", "{pageview}");
    assert_eq!(
        pageview["ps"]["referrer_host"], "www.baidu.com",
        "{pageview}"
    );
    assert_eq!(pageview["ps"]["title"], "课程");
    if let Sdk::Web(_) = sdk {
        // Enriched from the request as any web event: the SDK sent none of these.
        assert_eq!(pageview["ps"]["ip"], "127.0.0.1", "{pageview}");
        assert_eq!(pageview["ps"]["browser"], "Chrome", "{pageview}");
        assert_eq!(pageview["ps"]["os"], "Windows 10", "{pageview}");
        assert!(pageview["uidentity"]["browserId"].is_string(), "{pageview}");
    } else {
        // A server SDK's request comes from the server, not from the user's device.
        assert!(pageview["ps"].get("ip").is_none(), "{pageview}");
    }
    // The login links the anonymous history: before and after it, one person.
    let signup = tracks.iter().find(|r| r["eid"] == "SignUp").unwrap();
    assert_eq!(signup["uidentity"]["userid"], login.as_str(), "{signup}");
    assert!(
        signup["uidentity"]
            .as_object()
            .unwrap()
            .values()
            .any(|v| v == &anonymous),
        "{signup}"
    );
    let person = final_uuid(signup["uidentity"]["uuid"].as_str().unwrap(), &merged);
    for record in &tracks {
        let uuid = record["uidentity"]["uuid"]
            .as_str()
            .expect("every event gets a uuid");
        assert_eq!(final_uuid(uuid, &merged), person, "{sdk:?}: {record}");
    }
    let after_login = tracks
        .iter()
        .find(|r| r["eid"] == "buyCourse" && r["ps"]["money"] == 99)
        .unwrap();
    assert_eq!(
        after_login["uidentity"]["userid"],
        login.as_str(),
        "{after_login}"
    );

    // Every profile operation the SDK sent, on the same person.
    let profiles: Vec<&Value> = users
        .iter()
        .filter(|r| r["type"] != "identity_merge" && of_run(r, run))
        .collect();
    let by_type: HashMap<&str, Vec<&Value>> = profiles.iter().fold(HashMap::new(), |mut m, r| {
        m.entry(r["type"].as_str().unwrap()).or_default().push(*r);
        m
    });
    let skipped: Vec<&str> = summary["skipped"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (sensors_type, slog_type, stype, ps) in [
        (
            "profile_set",
            "profile_update",
            101,
            json!({"name": "张三", "city": "北京"}),
        ),
        ("profile_unset", "profile_unset", 103, json!({"city": true})),
        (
            "profile_append",
            "profile_append",
            104,
            json!({"tags": ["直播", "数学"]}),
        ),
        (
            "profile_increment",
            "profile_increment",
            105,
            json!({"login_count": 2}),
        ),
        ("profile_delete", "profile_delete", 106, json!({})),
    ] {
        if skipped.contains(&sensors_type) {
            continue;
        }
        let found = by_type
            .get(slog_type)
            .unwrap_or_else(|| panic!("{sdk:?}: no {slog_type} in {profiles:?}"));
        let record = found
            .iter()
            .find(|r| r["ps"] == ps)
            .unwrap_or_else(|| panic!("{sdk:?}: no {slog_type} with {ps} in {found:?}"));
        assert_eq!(record["stype"], stype);
        assert_eq!(record["wire"], "sensors");
        assert_eq!(record["uidentity"]["userid"], login.as_str(), "{record}");
        let uuid = record["uidentity"]["uuid"].as_str().unwrap();
        assert_eq!(final_uuid(uuid, &merged), person, "{sdk:?}: {record}");
    }
    let inserts = by_type.get("profile_insert").expect("profile_set_once");
    assert!(
        inserts
            .iter()
            .any(|r| r["ps"] == json!({"province": "广东"})),
        "{inserts:?}"
    );
    if let Sdk::Web(_) = sdk {
        // The web SDK's own first-visit profile: Sensors' $first_* names are slog's presets.
        assert!(
            inserts.iter().any(
                |r| r["ps"]["first_referrer"] == "https://www.baidu.com/s?wd=x"
                    && r["ps"]["first_visit_time"].is_string()
            ),
            "{inserts:?}"
        );
    }
}

#[tokio::test]
async fn the_web_sdk_lands_mapped_enriched_and_linked_in_every_send_mode() {
    let slog = Slog::start(&file_config());
    register_scenario(&slog).await;
    let url = slog.url("/sa?project=zhibo");
    let runs: Vec<(Sdk, String, Value)> = ["image", "ajax", "beacon", "batch"]
        .into_iter()
        .map(|mode| {
            let run = format!("web-{mode}-{}", std::process::id());
            let summary = sensors::run(Sdk::Web(mode), &url, &run);
            (Sdk::Web(mode), run, summary)
        })
        .collect();
    let (events, users) = (slog.file_records("events"), slog.file_records("users"));
    for (sdk, run, summary) in &runs {
        check_run(*sdk, run, summary, &events, &users);
    }
    let dead = slog.file_records("dead_letters");
    assert!(dead.is_empty(), "a stock SDK is refused nothing: {dead:?}");
}

#[tokio::test]
async fn the_server_sdks_land_mapped_and_linked() {
    let slog = Slog::start(&file_config());
    register_scenario(&slog).await;
    let url = slog.url("/sa?project=zhibo");
    for sdk in [Sdk::Node, Sdk::Python] {
        let run = format!("{sdk:?}-{}", std::process::id()).to_lowercase();
        let summary = sensors::run(sdk, &url, &run);
        check_run(
            sdk,
            &run,
            &summary,
            &slog.file_records("events"),
            &slog.file_records("users"),
        );
    }
    let dead = slog.file_records("dead_letters");
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test]
async fn sensors_sdks_reach_the_kafka_topics_and_a_broker_outage_asks_them_to_resend() {
    let mut broker = Broker::start();
    create_topics(&broker.bootstrap(), &["events", "users", "dead_letters"], 3).await;
    let config = format!(
        "[sink]\nkind = \"kafka\"\n[sink.kafka]\nbrokers = \"{}\"\nlinger_ms = 5\n\
         delivery_timeout_ms = 2000\nretry_after_secs = 2\n[sink.spool]\nenabled = false\n[admin]\ntoken = \"{TOKEN}\"\n",
        broker.bootstrap()
    );
    let slog = Slog::start(&config);
    register_scenario(&slog).await;
    let url = slog.url("/sa?project=zhibo");
    let runs = [
        (Sdk::Node, format!("kafka-node-{}", std::process::id())),
        (
            Sdk::Web("batch"),
            format!("kafka-web-{}", std::process::id()),
        ),
    ];
    let summaries: Vec<Value> = runs
        .iter()
        .map(|(sdk, run)| sensors::run(*sdk, &url, run))
        .collect();
    let bootstrap = broker.bootstrap();
    // Every record is durable before its SDK is answered, and the drivers finished: reading
    // each topic for a few seconds reads all of them.
    let (events, users) = tokio::task::spawn_blocking(move || {
        let read = |topic| consume(&bootstrap, topic, usize::MAX, Duration::from_secs(6));
        (read("events"), read("users"))
    })
    .await
    .unwrap();
    let events: Vec<Value> = events.into_iter().map(|c| c.value).collect();
    let users: Vec<Value> = users.into_iter().map(|c| c.value).collect();
    for ((sdk, run), summary) in runs.iter().zip(&summaries) {
        check_run(*sdk, run, summary, &events, &users);
    }

    // The broker goes away: the SDK is asked to resend, not told its data was bad.
    broker.stop();
    let data = base64::engine::general_purpose::STANDARD.encode(
        json!({"type": "track", "event": "$pageview", "time": 1_796_000_000_000_i64,
            "distinct_id": "d-outage", "lib": {"$lib": "Node"}})
        .to_string(),
    );
    let response = Client::new()
        .post(&url)
        .form(&[("data", data.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        slog.logs()
    );
    assert!(response.headers().contains_key(header::RETRY_AFTER));
}

/// A form body as the SDKs post it.
async fn post_form(slog: &Slog, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = Client::new()
        .post(slog.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

#[tokio::test]
async fn undecodable_data_is_a_400_and_refused_messages_are_dead_lettered_with_a_200() {
    let slog = Slog::start(&file_config());
    let pageview = json!({"type": "track", "event": "$pageview", "time": 1_796_000_000_000_i64,
        "distinct_id": "d-1", "properties": {"$lib": "js", "$url": "https://a.example/x"}});

    for (fields, code, field) in [
        (vec![("data", "%%% not base64")], "invalid_base64", "data"),
        (
            vec![("data", "eyJ0eXBlIjoidHJhY2sifQ=="), ("gzip", "1")],
            "invalid_gzip",
            "data",
        ),
        (
            vec![("data", "eyJ0eXBlIjoidHJhY2sifQ=="), ("gzip", "9")],
            "encrypted_payload",
            "gzip",
        ),
        (
            vec![("data", "eyJ0eXBlIjoidHJhY2sifQ=="), ("crc", "1")],
            "crc_mismatch",
            "crc",
        ),
        (vec![("gzip", "1")], "missing_field", "data"),
    ] {
        let (status, body) = post_form(&slog, "/sa?project=zhibo", &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let oversized = "A".repeat(2 * 1024 * 1024);
    let (status, body) = post_form(&slog, "/sa", &[("data", oversized.as_str())]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // A batch that decodes: the good message is accepted; an unsupported type, an
    // unregistered event (strict policy) and a malformed message are dead-lettered, and the
    // answer is still 200 so that the SDK does not keep them forever or resend them.
    let batch = json!([
        pageview,
        {"type": "item_set", "item_id": "i-1", "item_type": "course", "time": 1_796_000_000_000_i64},
        {"type": "track", "event": "neverRegistered", "distinct_id": "d-1", "time": 1_796_000_000_000_i64},
        {"type": "track", "distinct_id": "d-1"},
    ]);
    let (status, body) = post_form(
        &slog,
        "/sa.gif?project=zhibo",
        &[("data_list", &b64(&batch))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(1), Some(3)),
        "{body}"
    );
    let codes: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["error"]["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["unsupported_type", "unregistered_event", "missing_field"],
        "{body}"
    );
    let dead = slog.file_records("dead_letters");
    assert_eq!(dead.len(), 3, "{dead:?}");
    let unsupported = dead
        .iter()
        .find(|d| d["reason"]["code"] == "unsupported_type")
        .unwrap();
    assert_eq!(unsupported["wire"], "sensors");
    assert_eq!(
        unsupported["message"]["item_id"], "i-1",
        "kept as received: {unsupported}"
    );
    let unregistered = dead
        .iter()
        .find(|d| d["reason"]["code"] == "unregistered_event")
        .unwrap();
    assert_eq!(
        unregistered["event"]["eid"], "neverRegistered",
        "{unregistered}"
    );
    assert_eq!(unregistered["event"]["wire"], "sensors");

    // Image mode: the data in the query, a GIF in return.
    let response = Client::new()
        .get(slog.url(&format!(
            "/sa.gif?project=zhibo&data={}",
            urlencode(&b64(&pageview))
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/gif");
    assert!(response.bytes().await.unwrap().starts_with(b"GIF89a"));
    let pageviews = slog
        .file_records("events")
        .into_iter()
        .filter(|r| r["eid"] == "pageview")
        .count();
    assert_eq!(pageviews, 2);

    // A page on another origin may post (the ajax and batch modes need the CORS answer).
    let response = Client::new()
        .request(Method::OPTIONS, slog.url("/sa.gif"))
        .header(header::ORIGIN, "https://www.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert!(response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
