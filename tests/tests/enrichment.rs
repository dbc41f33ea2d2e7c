//! Enrichment end to end (tracking plan §4 collection rules, §3.3.4 first_referrer): the real binary, a
//! generated GeoLite2-City database with known rows (`slog_tests::mmdb`), real HTTP headers.
#![cfg(feature = "e2e")]
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::mmdb::write_test_city_db;
use std::path::Path;
use std::time::{Duration, Instant};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

fn config(geoip: &Path, extra: &str) -> String {
    format!(
        r#"
[enrich]
trusted_proxies = ["127.0.0.1/32"]
geoip_path = "{}"
geoip_check_secs = 1
{extra}
[sink]
kind = "file"
"#,
        geoip.display()
    )
}

async fn post(slog: &Slog, body: &Value, forwarded_for: Option<&str>) -> StatusCode {
    let mut request = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, CHROME)
        .body(body.to_string());
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    status
}

fn web_pageview(ps: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0", "ps": ps,
           "uidentity": {"deviceUUID": "d-web-1"}})
}

#[tokio::test]
async fn a_bare_web_pageview_comes_out_enriched_and_a_first_visit_yields_a_profile_insert() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.mmdb");
    write_test_city_db(&db).unwrap();
    let slog = Slog::start(&config(&db, ""));

    let from_baidu = "https://www.baidu.com/s?wd=slog";
    let event = web_pageview(
        json!({"ct": 100, "url": "https://www.example.com/course/1?from=ad",
                                    "referrer": from_baidu, "first_referrer": from_baidu}),
    );
    post(&slog, &event, Some("180.12.43.42")).await;

    let events = slog.file_records("events");
    assert_eq!(events.len(), 1);
    let ps = &events[0]["ps"];
    assert_eq!(
        ps["ip"], "180.12.43.42",
        "the forwarded client address, not the proxy's"
    );
    assert_eq!(
        (&ps["country"], &ps["province"], &ps["city"]),
        (&json!("中国"), &json!("北京市"), &json!("北京"))
    );
    assert_eq!(
        (&ps["os"], &ps["os_version"]),
        (&json!("Windows 10"), &json!("NT 10.0"))
    );
    assert_eq!(
        (&ps["browser"], &ps["browser_version"]),
        (&json!("Chrome"), &json!("120.0.0.0"))
    );
    assert_eq!(ps["referrer_host"], "www.baidu.com");
    assert_eq!(ps["url_path"], "/course/1");
    assert_eq!(
        (&ps["lib"], &ps["lib_version"]),
        (&json!("js"), &json!("1.1.0"))
    );

    let users = slog.file_records("users");
    assert_eq!(users.len(), 1, "the first visit yields one profile_insert");
    let profile = &users[0];
    assert_eq!(profile["type"], "profile_insert");
    assert_eq!(profile["stype"], 102);
    // The same person as the pageview, uuid included (filled by the identity stage).
    assert_eq!(profile["uidentity"], events[0]["uidentity"]);
    assert_eq!(profile["uidentity"]["deviceUUID"], "d-web-1");
    assert_eq!(
        profile["ps"],
        json!({"first_referrer": from_baidu, "first_referrer_host": "www.baidu.com",
                                     "first_visit_time": events[0]["time"]})
    );

    // A later page of the same visit: referrer is now the site itself, no second profile message.
    let later = web_pageview(json!({"ct": 100, "url": "https://www.example.com/course/2",
                                    "referrer": "https://www.example.com/course/1", "first_referrer": from_baidu}));
    post(&slog, &later, Some("180.12.43.42")).await;
    assert_eq!(slog.file_records("users").len(), 1);
}

#[tokio::test]
async fn client_sent_values_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.mmdb");
    write_test_city_db(&db).unwrap();
    let slog = Slog::start(&config(&db, ""));
    let event = web_pageview(
        json!({"ct": 100, "ip": "81.2.69.160", "country": "美国", "os": "HarmonyOS",
                                    "browser": "WeChat", "url": "/x", "url_path": "/custom", "lib": "mini"}),
    );
    post(&slog, &event, Some("180.12.43.42")).await;
    let ps = slog.file_records("events")[0]["ps"].clone();
    assert_eq!(ps["ip"], "81.2.69.160");
    assert_eq!(ps["country"], "美国");
    assert_eq!(
        (&ps["province"], &ps["city"]),
        (&json!("英格兰"), &json!("伦敦")),
        "missing parts come from the sent ip"
    );
    assert_eq!(ps["os"], "HarmonyOS");
    assert_eq!(ps["browser"], "WeChat");
    assert_eq!(
        ps["browser_version"], "120.0.0.0",
        "only what was missing is filled"
    );
    assert_eq!(ps["url_path"], "/custom");
    assert_eq!(
        (&ps["lib"], &ps["lib_version"]),
        (&json!("mini"), &json!("1.1.0"))
    );
}

#[tokio::test]
async fn forwarded_headers_from_untrusted_peers_are_ignored_and_servers_get_no_device_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.mmdb");
    write_test_city_db(&db).unwrap();
    let slog = Slog::start(&config(&db, "").replace(
        r#"trusted_proxies = ["127.0.0.1/32"]"#,
        "trusted_proxies = []",
    ));
    post(
        &slog,
        &web_pageview(json!({"ct": 100})),
        Some("180.12.43.42"),
    )
    .await;
    let server_side = json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"ct": 1},
                             "uidentity": {"userid": "u-1"}});
    post(&slog, &server_side, Some("180.12.43.42")).await;
    let events = slog.file_records("events");
    assert_eq!(
        events[0]["ps"]["ip"], "127.0.0.1",
        "a forged X-Forwarded-For is not believed"
    );
    assert!(
        events[0]["ps"].get("country").is_none(),
        "loopback is in no GeoIP database"
    );
    for key in ["ip", "country", "os", "browser"] {
        assert!(
            events[1]["ps"].get(key).is_none(),
            "ct 1 (server SDK) got {key}"
        );
    }
}

#[tokio::test]
async fn a_geoip_file_that_appears_later_is_picked_up_without_a_restart_in_the_configured_locale() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.mmdb");
    let slog = Slog::start(&config(&db, r#"geoip_locale = "en""#));
    post(&slog, &web_pageview(json!({"ct": 100})), Some("114.80.1.1")).await;
    assert!(slog.file_records("events")[0]["ps"]
        .get("country")
        .is_none());
    assert!(
        slog.logs().contains("GeoIP database not found"),
        "{}",
        slog.logs()
    );

    // Operators replace the file atomically: write beside it, then rename.
    let staged = dir.path().join("city.mmdb.tmp");
    write_test_city_db(&staged).unwrap();
    std::fs::rename(&staged, &db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        post(&slog, &web_pageview(json!({"ct": 100})), Some("114.80.1.1")).await;
        let last = slog.file_records("events").pop().unwrap();
        if last["ps"].get("country").is_some() {
            assert_eq!(
                (&last["ps"]["country"], &last["ps"]["city"]),
                (&json!("China"), &json!("Shanghai"))
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new database was never loaded:\n{}",
            slog.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
