//! The embedded default exactly as shipped (config/slog.toml and config/plugins.toml, the
//! strict registry policy, the example plugins built into plugins/dist): slog starts without an
//! error, and each enabled example plugin does its job on the quick start's own events.
#![cfg(feature = "e2e")]
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, post_event};
use slog_tests::plugins::dist;
use std::path::Path;

const TOKEN: &str = "change-me";

/// config/slog.toml as shipped, with its two relative plugin paths made absolute (the test runs
/// slog in a directory of its own).
fn shipped_config() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("config/slog.toml")).expect("config/slog.toml");
    let plugins_toml = root.join("config/plugins.toml");
    let replaced = text
        .replace(
            "dir = \"plugins/dist\"",
            &format!("dir = \"{}\"", dist().display()),
        )
        .replace(
            "config = \"config/plugins.toml\"",
            &format!("config = \"{}\"", plugins_toml.display()),
        );
    assert_ne!(
        replaced, text,
        "the shipped config names plugins/dist and config/plugins.toml"
    );
    replaced
}

fn start() -> Slog {
    Slog::start_with_env(&shipped_config(), &[("SLOG_ADMIN_TOKEN", TOKEN)])
}

fn records(slog: &Slog, topic: &str, eid: &str) -> Vec<Value> {
    slog.file_records(topic)
        .into_iter()
        .filter(|r| r["eid"] == eid)
        .collect()
}

async fn accepted(slog: &Slog, event: Value) {
    let (status, body) = post_event(slog, &event).await;
    assert_eq!(status, StatusCode::OK, "{body} for {event}");
}

#[tokio::test]
async fn the_shipped_default_starts_with_its_plugins_and_no_error() {
    let slog = start();
    // Give the plugins time to load (they load before the first request is served, but the log
    // line may follow the listening line).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = slog.logs();
    assert!(
        !logs.lines().any(|l| l.contains("ERROR")),
        "an error in the log of the shipped default:\n{logs}"
    );
    let (status, plugins) = admin_request(&slog, TOKEN, Method::GET, "/admin/plugins", None).await;
    assert_eq!(status, StatusCode::OK, "{plugins}");
    let text = plugins.to_string();
    for name in ["course-check", "identity-rules", "newuser"] {
        assert!(text.contains(name), "{name} in {plugins}");
    }
}

#[tokio::test]
async fn newuser_turns_a_first_pageview_into_the_virtual_event() {
    let slog = start();
    accepted(
        &slog,
        json!({"stype": 100, "eid": "pageview", "project": "zhibo",
               "ps": {"ct": 100, "url": "https://www.example.com/", "is_first_time": true},
               "uidentity": {"deviceUUID": "d-1"}}),
    )
    .await;
    accepted(
        &slog,
        json!({"stype": 100, "eid": "AppStart", "project": "zhibo",
               "ps": {"ct": 200, "is_first_time": false}, "uidentity": {"deviceUUID": "d-2"}}),
    )
    .await;
    let virtual_events = records(&slog, "events", "newUser");
    assert_eq!(
        virtual_events.len(),
        1,
        "only the first-time pageview: {virtual_events:?}"
    );
    assert_eq!(virtual_events[0]["derived_by"], "newuser");
    assert_eq!(virtual_events[0]["ps"]["source_eid"], "pageview");
}

#[tokio::test]
async fn identity_rules_links_an_order_to_its_buyer_and_course_check_refuses_a_bad_price() {
    let slog = start();
    let admin = |method: Method, path: &'static str, body: Value| {
        admin_request(&slog, TOKEN, method, path, Some(body))
    };
    let (status, body) = admin(
        Method::POST,
        "/admin/events",
        json!(
        {"id": "buyCourse", "name": "购买课程", "project": "zhibo", "proposer": "li"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (key, value_type) in [("course_name", 0), ("money", 3)] {
        let (status, body) = admin(
            Method::POST,
            "/admin/event-properties",
            json!(
            {"key": key, "name": key, "value_type": value_type, "proposer": "li"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let buy = |money: i64| {
        json!({"stype": 100, "eid": "buyCourse", "project": "zhibo",
               "ps": {"course_name": "新概念", "money": money, "orderDetailId": "od-1"},
               "uidentity": {"userid": "u-42"}})
    };
    let (status, body) = post_event(&slog, &buy(-5)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "plugin_rejected", "{body}");
    accepted(&slog, buy(199)).await;
    let bought = records(&slog, "events", "buyCourse");
    assert_eq!(bought.len(), 1);
    assert_eq!(
        bought[0]["uidentity"]["orderDetailId"], "od-1",
        "{}",
        bought[0]
    );
    // The order now finds the buyer.
    accepted(
        &slog,
        json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"url": "/paid"},
               "uidentity": {"orderDetailId": "od-1"}}),
    )
    .await;
    let pages = records(&slog, "events", "pageview");
    assert_eq!(
        pages[0]["uidentity"]["uuid"],
        bought[0]["uidentity"]["uuid"]
    );
}
