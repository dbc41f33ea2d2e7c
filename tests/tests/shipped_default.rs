//! The embedded default exactly as shipped (config/slog.toml and config/plugins.toml, the
//! strict registry policy, the example plugins built into plugins/dist): slog starts without an
//! error, and each enabled example plugin does its job on the quick start's own events.
#![cfg(feature = "e2e")]
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, post_event, register_buy_course};
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
    register_buy_course(&slog, TOKEN, &[("course_name", 0), ("money", 3)]).await;
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

/// The quick start's reports: the tracking plan's two example requests (§4) on the shipped
/// default, answered from the warehouse the server loads as it writes, with a person who bought
/// anonymously and then logged in counted once.
#[tokio::test]
async fn the_plans_two_reports_count_people_after_merges() {
    let slog = start();
    register_buy_course(
        &slog,
        TOKEN,
        &[
            ("course_name", 0),
            ("course_type", 0),
            ("course_difficulty", 0),
            ("money", 3),
        ],
    )
    .await;
    let buy = |course: &str, identities: Value| {
        json!({"stype": 100, "eid": "buyCourse", "project": "zhibo",
               "ps": {"course_name": course, "course_type": "英语", "course_difficulty": "初级",
                      "money": 199}, "uidentity": identities})
    };
    // u-1 is known from the app; a browser buys anonymously, then logs in as u-1 (a merge) and
    // buys again. u-2 buys another course twice.
    for event in [
        buy("超级外教", json!({"userid": "u-2"})),
        buy("超级外教", json!({"userid": "u-2"})),
        json!({"stype": 100, "eid": "pageview", "project": "zhibo",
               "ps": {"ct": 200, "url": "app://home"}, "uidentity": {"deviceUUID": "d-app", "userid": "u-1"}}),
        buy("新概念", json!({"browserId": "b-1"})),
        buy("新概念", json!({"browserId": "b-1", "userid": "u-1"})),
    ] {
        accepted(&slog, event).await;
    }
    let merges = slog
        .file_records("users")
        .into_iter()
        .filter(|r| r["type"] == "identity_merge")
        .count();
    assert_eq!(merges, 1, "the login merges the browser's person");

    // Events are dated by the server clock; a two-day range holds them whatever the hour.
    let today = chrono_today_in_shanghai();
    let range = json!({"from_date": today.0, "to_date": today.1});
    let mut events_request = json!({
        "measures": [{"event_name": "buyCourse", "aggregator": "uniq_count"},
                     {"event_name": "buyCourse", "aggregator": "general"}],
        "detail_and_rollup": true, "by_fields": ["event.buyCourse.course_name"],
        "limit": 100, "use_cache": true});
    merge_into(&mut events_request, &range);
    let client = reqwest::Client::new();
    let report = |path: &'static str, body: Value| {
        let request = client
            .post(slog.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send();
        async move { slog_tests::http::answer(request.await.expect("report request")).await }
    };
    // The loader follows the files within moments: wait until it has all four purchases and
    // the users file's merge (loaded after the events file, so a report can come between).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answer = loop {
        let (status, body) = report("/events/report", events_request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let sum = |i: usize| -> i64 {
            body["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["values"][i].as_i64().unwrap())
                .sum()
        };
        if (sum(0), sum(1)) == (2, 4) || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(answer["by_fields"], json!(["event.buyCourse.course_name"]));
    assert_eq!(answer["num_rows"], 2, "{answer}");
    assert_eq!(answer["total_rows"], 2);
    assert_eq!(answer["truncated"], false);
    for key in [
        "report_update_time",
        "data_update_time",
        "data_sufficient_update_time",
    ] {
        assert!(answer[key].is_string(), "{key} in {answer}");
    }
    let row = |course: &str| {
        answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["by_values"] == json!([course]))
            .unwrap_or_else(|| panic!("no row for {course} in {answer}"))
            .clone()
    };
    // Two purchases each; 新概念's two came from one person under two uuids.
    assert_eq!(row("超级外教")["values"], json!([1, 2]));
    assert_eq!(row("新概念")["values"], json!([1, 2]));

    let mut distribution = json!({
        "event_name": "buyCourse", "by_field": "event.buyCourse.course_name",
        "sampling_factor": 64, "unit": "day", "measure_type": "times",
        "result_bucket_param": [1, 2, 3], "use_cache": true});
    merge_into(&mut distribution, &range);
    let (status, body) = report("/addictions/report", distribution).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sampling_factor"], 64);
    for row in body["rows"].as_array().unwrap() {
        assert_eq!(row["total_people"], 1, "{body}");
        let cells = row["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 3, "{body}");
        // Each buyer bought twice: one person in [2, 3), none in [1, 2) or [3, ∞).
        assert_eq!(cells[0]["people"], 0);
        assert_eq!(cells[1]["people"], 1);
        assert_eq!(cells[1]["percent"], 100.0);
        assert_eq!(cells[1]["bucket_start"], 2.0);
        assert_eq!(cells[1]["bucket_end"], 3.0);
        assert_eq!(cells[2]["people"], 0);
        assert!(
            cells[2].get("bucket_end").is_none(),
            "the last cell is open"
        );
    }

    // Without the token, the reports are refused.
    let (status, _) = slog_tests::http::answer(
        client
            .post(slog.url("/events/report"))
            .json(&events_request)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Yesterday and today in Asia/Shanghai (UTC+8, no daylight saving), as `YYYY-MM-DD`.
fn chrono_today_in_shanghai() -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = |secs: i64| {
        let days = (secs + 8 * 3600).div_euclid(86_400);
        civil_date(days)
    };
    (day(now - 86_400), day(now))
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn merge_into(target: &mut Value, extra: &Value) {
    for (key, value) in extra.as_object().unwrap() {
        target[key] = value.clone();
    }
}
