//! The metadata registry end to end: events are checked against the registered event names and
//! property keys (tracking plan §3.2/§3.3), the admin API changes the registry, and every running instance
//! enforces a change within moments.
//!
//! Each scenario runs against both backends: the embedded SQLite file, and MariaDB with the Redis
//! snapshot cache (scripts/test.sh starts both and exports `SLOG_TEST_MYSQL_URL` and
//! `SLOG_TEST_REDIS_URL`). Every test gets its own database and its own Redis key prefix.
#![cfg(feature = "e2e")]
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::backend::{Backend, Databases};
use slog_tests::harness::{mysql_execute, Slog};
use slog_tests::http::{admin_request, answer, post_event};
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "t0ken";

/// How long a change may take to show (generous: the tests assert behaviour, not speed).
const DEADLINE: Duration = Duration::from_secs(10);

/// One registry database (and Redis prefix) that one or more slog instances share.
struct Registry {
    db: Databases,
}

impl Registry {
    async fn new(backend: Backend) -> Registry {
        Registry {
            db: Databases::new(backend).await,
        }
    }

    /// The slog config: this registry, the test policies, the file sink, the admin API on.
    fn config(&self) -> String {
        format!(
            "{}[admin]\ntoken = \"{TOKEN}\"\n",
            self.config_without_admin()
        )
    }

    /// The same config with no admin token: the admin API is off.
    fn config_without_admin(&self) -> String {
        format!(
            "[registry]\n\
             {keys}\
             refresh_interval_ms = 200\n\
             default_policy = \"strict\"\n\
             project_policies = {{ lenient_proj = \"lenient\", auto_proj = \"register\" }}\n\
             [sink]\n\
             kind = \"file\"\n",
            keys = self.db.registry_keys(),
        )
    }

    fn start(&self) -> Slog {
        Slog::start(&self.config())
    }
}

/// An admin API request with the right token.
async fn admin(
    slog: &Slog,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    admin_request(slog, TOKEN, method, path, body).await
}

async fn admin_get(slog: &Slog, path: &str) -> (StatusCode, Value) {
    admin(slog, Method::GET, path, None).await
}

/// Asserts a refusal: `status` and `{"error":{"code","field","message"}}`.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str, field: Option<&str>) {
    let (got_status, body) = got;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message explains the refusal: {body}"
    );
}

/// Asserts one accepted event and returns its event_id.
fn assert_accepted(got: &(StatusCode, Value)) -> String {
    let (status, body) = got;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    body["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("event_id in {body}"))
        .to_owned()
}

/// The `(code, field)` pairs of the `warnings` of an answer.
fn warnings(body: &Value) -> Vec<(String, String)> {
    body["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("warnings in {body}"))
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap_or_default().to_owned(),
                w["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Calls `attempt` until it returns `Ok` or `timeout` passes (then panics with the last `Err`,
/// which describes what was seen). Returns the value and how long it took.
async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut attempt: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => return (value, start.elapsed()),
            Err(last) if start.elapsed() >= timeout => {
                panic!("{what}: not within {timeout:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits for `event` to be accepted by `slog` (a registry change may take a moment to apply).
async fn poll_accepted(slog: &Slog, event: &Value, timeout: Duration) -> (String, Duration) {
    poll("event accepted", timeout, move || async move {
        match post_event(slog, event).await {
            (StatusCode::OK, body) => Ok(body["event_id"].as_str().unwrap_or_default().to_owned()),
            (status, body) => Err(format!("{status} {body} for {event}")),
        }
    })
    .await
}

/// Waits for `event` to be refused with `code`.
async fn poll_refused(slog: &Slog, event: &Value, code: &str, timeout: Duration) -> Duration {
    poll("event refused", timeout, move || async move {
        match post_event(slog, event).await {
            (StatusCode::BAD_REQUEST, body) if body["error"]["code"] == code => Ok(()),
            (status, body) => Err(format!("{status} {body} for {event}")),
        }
    })
    .await
    .1
}

/// Waits for a dead letter matching `matches` in `data/dead_letters.jsonl`.
async fn poll_dead_letter(slog: &Slog, matches: impl Fn(&Value) -> bool) -> Value {
    let matches = &matches;
    poll("dead letter", DEADLINE, move || async move {
        let letters = slog.file_records("dead_letters");
        letters
            .iter()
            .find(|l| matches(l))
            .cloned()
            .ok_or_else(|| format!("dead letters: {letters:?}"))
    })
    .await
    .0
}

/// Waits for the admin API to show `path` (e.g. a row registered in the background).
async fn poll_admin_row(slog: &Slog, path: &str) -> Value {
    poll(path, DEADLINE, move || async move {
        match admin_get(slog, path).await {
            (StatusCode::OK, row) => Ok(row),
            (status, body) => Err(format!("{status} {body}")),
        }
    })
    .await
    .0
}

/// A registered property row, as the admin API returns it.
fn assert_property_row(row: &Value, key: &str, value_type: i64, proposer: &str) {
    assert_eq!(row["key"], key, "{row}");
    assert_eq!(row["value_type"], value_type, "{row}");
    assert_eq!(row["proposer"], proposer, "{row}");
    assert_eq!(row["is_reserve"], 0, "{row}");
    assert!(row["name"].is_string(), "{row}");
    assert!(row["create_time"].is_i64(), "{row}");
}

/// The tracking plan §4 pageview example (with its business fields).
fn plan_pageview() -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo",
           "ps": {"ct": 100, "url": "https://www.example.com/course/1", "title": "新概念英语",
                  "url_path": "/course/1", "referrer": "https://www.example.com/",
                  "course_name": "新概念", "course_type": "英语", "course_difficulty": "初级"},
           "uidentity": {"deviceUUID": "d-seed-1"}})
}

/// The tracking plan §4 buyCourse example.
fn buy_course(project: &str, money: Value) -> Value {
    json!({"stype": 100, "eid": "buyCourse", "project": project,
           "ps": {"course_name": "新概念", "course_type": "英语", "course_difficulty": "初级",
                  "money": money},
           "uidentity": {"userid": "u1"}})
}

// ---------------------------------------------------------------------------------------------

async fn plan_examples_pass_only_after_registration(backend: Backend) {
    let registry = Registry::new(backend).await;
    let slog = registry.start();

    // Before registration: the business fields and the business event are refused.
    let refused = post_event(&slog, &plan_pageview()).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "unknown_property", None);
    let field = refused.1["error"]["field"].as_str().unwrap_or_default();
    assert!(
        ["ps.course_name", "ps.course_type", "ps.course_difficulty"].contains(&field),
        "names an unregistered course_* key: {}",
        refused.1
    );
    let letter = poll_dead_letter(&slog, |l| l["event"]["eid"] == "pageview").await;
    assert_eq!(letter["reason"]["code"], "unknown_property", "{letter}");
    assert_eq!(letter["reason"]["field"], field, "{letter}");
    assert!(letter["reason"]["message"].is_string(), "{letter}");
    assert!(letter["rejected_at"].is_i64(), "{letter}");
    assert_eq!(letter["event"]["project"], "zhibo", "{letter}");
    assert_eq!(letter["event"]["ps"]["course_name"], "新概念", "{letter}");
    assert_eq!(
        letter["event"]["uidentity"]["deviceUUID"], "d-seed-1",
        "{letter}"
    );
    assert!(letter["event"]["event_id"].is_string(), "{letter}");

    let refused = post_event(&slog, &buy_course("zhibo", json!(199))).await;
    assert_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "unregistered_event",
        Some("eid"),
    );
    let letter = poll_dead_letter(&slog, |l| l["event"]["eid"] == "buyCourse").await;
    assert_eq!(letter["reason"]["code"], "unregistered_event", "{letter}");
    assert_eq!(letter["reason"]["field"], "eid", "{letter}");
    assert_eq!(letter["event"]["ps"]["money"], 199, "{letter}");
    assert!(
        slog.file_records("events").is_empty(),
        "refused events are not stored as events"
    );

    // Registration through the admin API.
    let before = now_secs();
    let (status, row) = admin(
        &slog,
        Method::POST,
        "/admin/events",
        Some(json!({"id": "buyCourse", "name": "购买课程", "project": "zhibo", "proposer": "li"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["id"], "buyCourse");
    assert_eq!(row["name"], "购买课程");
    assert_eq!(row["project"], "zhibo");
    assert_eq!(row["is_reserve"], 0);
    assert_eq!(row["need_uuid"], 1, "need_uuid defaults to 1");
    assert_eq!(row["proposer"], "li");
    let created = row["create_time"].as_i64().expect("create_time in seconds");
    assert!(
        (before - 5..=now_secs() + 5).contains(&created),
        "create_time is now in epoch seconds: {row}"
    );
    for (key, name, value_type) in [
        ("course_name", "课程名称", 0),
        ("course_type", "课程类型", 0),
        ("course_difficulty", "课程难度", 0),
        ("money", "金额", 3),
    ] {
        let (status, row) = admin(
            &slog,
            Method::POST,
            "/admin/event-properties",
            Some(json!({"key": key, "name": name, "value_type": value_type, "proposer": "li"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {row}");
        assert_property_row(&row, key, value_type, "li");
        assert_eq!(row["name"], name);
    }

    // Now both of the tracking plan's examples pass on the instance that took the writes.
    let timeout = Duration::from_secs(2);
    let (pageview_id, _) = poll_accepted(&slog, &plan_pageview(), timeout).await;
    let (buy_id, _) = poll_accepted(&slog, &buy_course("zhibo", json!(199)), timeout).await;
    let events = slog.file_records("events");
    let stored = |id: &str| {
        events
            .iter()
            .find(|e| e["event_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {events:?}"))
    };
    assert_eq!(stored(&pageview_id)["ps"]["course_type"], "英语");
    assert_eq!(stored(&buy_id)["eid"], "buyCourse");
    assert_eq!(stored(&buy_id)["ps"]["money"], 199);

    // The registered type is enforced, and the event is registered for zhibo only.
    let refused = post_event(&slog, &buy_course("zhibo", json!("abc"))).await;
    assert_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "type_mismatch",
        Some("ps.money"),
    );
    let refused = post_event(&slog, &buy_course("other", json!(199))).await;
    assert_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "unregistered_event",
        Some("eid"),
    );
}

#[tokio::test]
async fn plan_examples_pass_only_after_registration_sqlite() {
    plan_examples_pass_only_after_registration(Backend::Sqlite).await;
}

#[tokio::test]
async fn plan_examples_pass_only_after_registration_mysql_redis() {
    plan_examples_pass_only_after_registration(Backend::MySqlRedis).await;
}

// ---------------------------------------------------------------------------------------------

async fn a_second_instance_enforces_changes_within_a_second(backend: Backend) {
    let registry = Registry::new(backend).await;
    let a = registry.start();
    let b = registry.start();
    let signup = json!({"stype": 100, "eid": "signupDone", "project": "zhibo",
                        "ps": {"url": "https://www.example.com/signup"},
                        "uidentity": {"userid": "u-2"}});
    assert_error(
        &post_event(&b, &signup).await,
        StatusCode::BAD_REQUEST,
        "unregistered_event",
        Some("eid"),
    );

    let (status, row) = admin(
        &a,
        Method::POST,
        "/admin/events",
        Some(json!({"id": "signupDone", "name": "注册完成", "project": "zhibo", "proposer": "li"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let (_, delay) = poll_accepted(&b, &signup, DEADLINE).await;
    eprintln!("{backend:?}: instance B accepted signupDone {delay:?} after A registered it");
    let (status, row) = admin_get(&b, "/admin/events/signupDone").await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["project"], "zhibo");

    let (status, body) = admin(&a, Method::DELETE, "/admin/events/signupDone", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let delay = poll_refused(&b, &signup, "unregistered_event", DEADLINE).await;
    eprintln!("{backend:?}: instance B refused signupDone {delay:?} after A deleted it");
    assert_error(
        &post_event(&b, &signup).await,
        StatusCode::BAD_REQUEST,
        "unregistered_event",
        Some("eid"),
    );
}

#[tokio::test]
async fn a_second_instance_enforces_changes_within_a_second_sqlite() {
    a_second_instance_enforces_changes_within_a_second(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_second_instance_enforces_changes_within_a_second_mysql_redis() {
    a_second_instance_enforces_changes_within_a_second(Backend::MySqlRedis).await;
}

// ---------------------------------------------------------------------------------------------

async fn admin_api_rules(backend: Backend) {
    let registry = Registry::new(backend).await;
    let slog = registry.start();

    // Authorization.
    let no_token = Client::new()
        .get(slog.url("/admin/events"))
        .send()
        .await
        .unwrap();
    assert_error(
        &answer(no_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    let wrong_token = Client::new()
        .post(slog.url("/admin/event-properties"))
        .bearer_auth("not-the-token")
        .json(&json!({"key": "sneaky", "name": "x", "value_type": 0, "proposer": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(
        &answer(wrong_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    assert_eq!(
        admin_get(&slog, "/admin/event-properties/sneaky").await.0,
        StatusCode::NOT_FOUND,
        "a refused write changes nothing"
    );
    let disabled = Slog::start(&registry.config_without_admin());
    assert_error(
        &admin_get(&disabled, "/admin/events").await,
        StatusCode::NOT_FOUND,
        "admin_disabled",
        None,
    );
    drop(disabled);

    // Readiness reports the registry.
    let (status, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["sink"], "file", "{ready}");
    assert_eq!(ready["registry"]["status"], "ok", "{ready}");
    let version = ready["registry"]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("registry version in {ready}"));

    // The presets.
    let (status, all) = admin_get(&slog, "/admin/events").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let all = all.as_array().expect("a JSON array of rows");
    // The tracking plan's 7 and the 11 the Sensors SDKs send on their own.
    assert_eq!(all.len(), 18, "the 18 preset events: {all:?}");
    assert!(all
        .iter()
        .all(|r| r["is_reserve"] == 1 && r["project"].is_null() && r["proposer"] == "system"));
    let pageview = all
        .iter()
        .find(|r| r["id"] == "pageview")
        .expect("pageview preset");
    assert_eq!(pageview["need_uuid"], 1);
    assert_eq!(pageview["create_time"], 1556409600);

    // Event names: invalid, missing fields, duplicates.
    let post_event_row = |body: Value| admin(&slog, Method::POST, "/admin/events", Some(body));
    for id in ["buy-course", "1abc", "time"] {
        let got = post_event_row(json!({"id": id, "name": "x", "proposer": "li"})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_value", Some("id"));
    }
    let got = post_event_row(json!({"id": "courseDone", "proposer": "li"})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "missing_field", Some("name"));
    let got = post_event_row(json!({"id": "courseDone", "name": "完成课程"})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "missing_field",
        Some("proposer"),
    );

    let (status, row) = post_event_row(json!({"id": "courseDone", "name": "完成课程",
        "project": "zhibo", "need_uuid": 0, "proposer": "li"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row["need_uuid"], 0, "{row}");
    assert_eq!(row["is_reserve"], 0, "{row}");
    let (status, row) = post_event_row(json!({"id": "shareClick", "name": "分享",
        "project": null, "proposer": "li"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert!(row["project"].is_null(), "a common event: {row}");
    let (status, row) = post_event_row(json!({"id": "otherThing", "name": "其他",
        "project": "other", "proposer": "li"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let got = post_event_row(json!({"id": "courseDone", "name": "again", "proposer": "li"})).await;
    assert_error(&got, StatusCode::CONFLICT, "already_exists", None);
    let got = post_event_row(json!({"id": "pageview", "name": "again", "proposer": "li"})).await;
    assert_error(&got, StatusCode::CONFLICT, "already_exists", None);

    // Each admin write bumps the registry version /readyz reports.
    poll("registry version bumped", DEADLINE, || async {
        let (_, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
        match ready["registry"]["version"].as_i64() {
            Some(v) if v > version => Ok(()),
            _ => Err(ready.to_string()),
        }
    })
    .await;

    // Listing by project.
    let (status, zhibo) = admin_get(&slog, "/admin/events?project=zhibo").await;
    assert_eq!(status, StatusCode::OK, "{zhibo}");
    let zhibo = zhibo.as_array().expect("a JSON array of rows");
    assert!(zhibo.iter().any(|r| r["id"] == "courseDone"), "{zhibo:?}");
    assert!(
        zhibo
            .iter()
            .all(|r| r["project"] == "zhibo" || r["project"].is_null()),
        "only zhibo's events (and at most the common ones): {zhibo:?}"
    );
    assert!(!zhibo.iter().any(|r| r["id"] == "otherThing"), "{zhibo:?}");
    let (_, all) = admin_get(&slog, "/admin/events").await;
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(21),
        "18 presets and 3 registered: {all}"
    );

    // Get, update, delete.
    assert_error(
        &admin_get(&slog, "/admin/events/noSuchEvent").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, row) = admin(
        &slog,
        Method::PUT,
        "/admin/events/courseDone",
        Some(json!({"name": "课程完成", "project": "zhibo", "need_uuid": 1, "proposer": "wang"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["name"], "课程完成", "{row}");
    let (status, row) = admin_get(&slog, "/admin/events/courseDone").await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(
        (
            &row["id"],
            &row["name"],
            &row["project"],
            &row["need_uuid"],
            &row["proposer"]
        ),
        (
            &json!("courseDone"),
            &json!("课程完成"),
            &json!("zhibo"),
            &json!(1),
            &json!("wang")
        ),
        "{row}"
    );
    assert_error(
        &admin(&slog, Method::DELETE, "/admin/events/pageview", None).await,
        StatusCode::CONFLICT,
        "preset_protected",
        None,
    );
    assert_eq!(
        admin_get(&slog, "/admin/events/pageview").await.0,
        StatusCode::OK
    );
    assert_error(
        &admin(&slog, Method::DELETE, "/admin/events/noSuchEvent", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, body) = admin(&slog, Method::DELETE, "/admin/events/courseDone", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_error(
        &admin_get(&slog, "/admin/events/courseDone").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );

    // The three property kinds follow the same rules. (kind, a preset key, its value_type)
    for (kind, preset, preset_type) in [
        ("event-properties", "ct", 3),
        ("identity-properties", "mobile", 0),
        ("profile-properties", "sex", 3),
    ] {
        let base = format!("/admin/{kind}");
        let (status, rows) = admin_get(&slog, &base).await;
        assert_eq!(status, StatusCode::OK, "{rows}");
        let preset_row = rows
            .as_array()
            .expect("a JSON array of rows")
            .iter()
            .find(|r| r["key"] == preset)
            .unwrap_or_else(|| panic!("{preset} in {base}: {rows}"))
            .clone();
        assert_eq!(preset_row["value_type"], preset_type, "{preset_row}");
        assert_eq!(preset_row["is_reserve"], 1, "{preset_row}");

        let post = |body: Value| admin(&slog, Method::POST, &base, Some(body));
        let got = post(json!({"key": "bad_type", "name": "x", "value_type": 7, "proposer": "li"}));
        assert_error(
            &got.await,
            StatusCode::BAD_REQUEST,
            "invalid_value",
            Some("value_type"),
        );
        let got = post(json!({"key": "bad-key", "name": "x", "value_type": 0, "proposer": "li"}));
        assert_error(
            &got.await,
            StatusCode::BAD_REQUEST,
            "invalid_value",
            Some("key"),
        );
        let got = post(json!({"key": "test_key", "value_type": 0, "proposer": "li"}));
        assert_error(
            &got.await,
            StatusCode::BAD_REQUEST,
            "missing_field",
            Some("name"),
        );
        let (status, row) =
            post(json!({"key": "test_key", "name": "测试", "value_type": 3, "proposer": "li"}))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {row}");
        assert_property_row(&row, "test_key", 3, "li");
        let got =
            post(json!({"key": "test_key", "name": "again", "value_type": 3, "proposer": "li"}));
        assert_error(&got.await, StatusCode::CONFLICT, "already_exists", None);
        let got = post(json!({"key": preset, "name": "again", "value_type": 0, "proposer": "li"}));
        assert_error(&got.await, StatusCode::CONFLICT, "already_exists", None);

        let item = format!("{base}/test_key");
        let (status, row) = admin(
            &slog,
            Method::PUT,
            &item,
            Some(json!({"name": "测试2", "value_type": 0, "proposer": "wang"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{kind}: {row}");
        let (status, row) = admin_get(&slog, &item).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {row}");
        assert_eq!(row["name"], "测试2", "{row}");
        assert_property_row(&row, "test_key", 0, "wang");

        let preset_item = format!("{base}/{preset}");
        let retype = json!({"name": preset_row["name"], "value_type": (preset_type + 1) % 5,
                            "proposer": "li"});
        assert_error(
            &admin(&slog, Method::PUT, &preset_item, Some(retype)).await,
            StatusCode::CONFLICT,
            "preset_protected",
            None,
        );
        assert_error(
            &admin(&slog, Method::DELETE, &preset_item, None).await,
            StatusCode::CONFLICT,
            "preset_protected",
            None,
        );
        let (status, row) = admin_get(&slog, &preset_item).await;
        assert_eq!(status, StatusCode::OK, "{row}");
        assert_eq!(
            row["value_type"], preset_type,
            "the preset is unchanged: {row}"
        );

        assert_error(
            &admin_get(&slog, &format!("{base}/no_such_key")).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        );
        let (status, body) = admin(&slog, Method::DELETE, &item, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{kind}: {body}");
        assert_error(
            &admin_get(&slog, &item).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        );
    }
}

#[tokio::test]
async fn admin_api_rules_sqlite() {
    admin_api_rules(Backend::Sqlite).await;
}

#[tokio::test]
async fn admin_api_rules_mysql_redis() {
    admin_api_rules(Backend::MySqlRedis).await;
}

// ---------------------------------------------------------------------------------------------

async fn policies_lenient_and_register(backend: Backend) {
    let registry = Registry::new(backend).await;
    let slog = registry.start();

    // Strict (the default): unknown keys are refused, for events and for profiles.
    let strict = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                        "ps": {"url": "https://www.example.com/", "hobby": "chess"},
                        "uidentity": {"deviceUUID": "d-1"}});
    assert_error(
        &post_event(&slog, &strict).await,
        StatusCode::BAD_REQUEST,
        "unknown_property",
        Some("ps.hobby"),
    );
    let strict = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                        "ps": {"url": "https://www.example.com/"},
                        "uidentity": {"deviceUUID": "d-1", "fooId": "x"}});
    assert_error(
        &post_event(&slog, &strict).await,
        StatusCode::BAD_REQUEST,
        "unknown_property",
        Some("uidentity.fooId"),
    );
    let with_uuid = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                           "ps": {"url": "https://www.example.com/", "wifi": true,
                                  "screen_width": 1920},
                           "uidentity": {"uuid": "u-123", "browserId": "b-1"}});
    assert_accepted(&post_event(&slog, &with_uuid).await);
    let profile = json!({"stype": 101, "project": "zhibo",
                         "ps": {"city": "北京", "sex": 1, "name": "Li"},
                         "uidentity": {"userid": "u-1"}});
    assert_accepted(&post_event(&slog, &profile).await);
    let profile_with_event_key = json!({"stype": 102, "project": "zhibo",
                                        "ps": {"name": "Li", "url": "https://www.example.com/"},
                                        "uidentity": {"userid": "u-1"}});
    assert_error(
        &post_event(&slog, &profile_with_event_key).await,
        StatusCode::BAD_REQUEST,
        "unknown_property",
        Some("ps.url"),
    );
    assert_error(
        &post_event(
            &slog,
            &json!({"stype": 101, "project": "zhibo", "ps": {"sex": "male"},
                    "uidentity": {"userid": "u-1"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "type_mismatch",
        Some("ps.sex"),
    );

    // Lenient: unknown names pass with warnings; a wrong type is still refused.
    let lenient = json!({"stype": 100, "eid": "pageview", "project": "lenient_proj",
                         "ps": {"url": "https://www.example.com/", "hobby": "chess"},
                         "uidentity": {"deviceUUID": "d-2", "fooId": "x"}});
    let got = post_event(&slog, &lenient).await;
    let event_id = assert_accepted(&got);
    let warned = warnings(&got.1);
    assert!(
        warned.contains(&("unknown_property".into(), "ps.hobby".into())),
        "{}",
        got.1
    );
    assert!(
        warned.contains(&("unknown_property".into(), "uidentity.fooId".into())),
        "{}",
        got.1
    );
    for w in got.1["warnings"].as_array().unwrap() {
        assert!(w["message"].as_str().is_some_and(|m| !m.is_empty()), "{w}");
    }
    let events = slog.file_records("events");
    let stored = events
        .iter()
        .find(|e| e["event_id"] == event_id)
        .unwrap_or_else(|| panic!("{event_id} not in {events:?}"));
    assert_eq!(stored["ps"]["hobby"], "chess");

    let unknown_event = json!({"stype": 100, "eid": "lenientThing", "project": "lenient_proj",
                               "ps": {"url": "https://www.example.com/"},
                               "uidentity": {"deviceUUID": "d-2"}});
    let got = post_event(&slog, &unknown_event).await;
    assert_accepted(&got);
    assert!(
        warnings(&got.1).contains(&("unregistered_event".into(), "eid".into())),
        "{}",
        got.1
    );
    let known = json!({"stype": 100, "eid": "pageview", "project": "lenient_proj",
                       "ps": {"url": "https://www.example.com/"},
                       "uidentity": {"deviceUUID": "d-2"}});
    let got = post_event(&slog, &known).await;
    assert_accepted(&got);
    assert!(
        got.1["warnings"].as_array().is_none_or(Vec::is_empty),
        "no warnings for a fully registered event: {}",
        got.1
    );
    let mismatch = json!({"stype": 100, "eid": "pageview", "project": "lenient_proj",
                          "ps": {"ct": "abc"}, "uidentity": {"deviceUUID": "d-2"}});
    assert_error(
        &post_event(&slog, &mismatch).await,
        StatusCode::BAD_REQUEST,
        "type_mismatch",
        Some("ps.ct"),
    );
    assert_eq!(
        admin_get(&slog, "/admin/event-properties/hobby").await.0,
        StatusCode::NOT_FOUND,
        "lenient does not register"
    );

    // Register: unknown names pass and get registered with their inferred type.
    let auto = json!({"stype": 100, "eid": "autoThing", "project": "auto_proj",
                      "ps": {"auto_s": "x", "auto_i": 5, "auto_f": 1.5, "auto_b": true,
                             "url": "https://www.example.com/"},
                      "uidentity": {"deviceUUID": "d-3"}});
    assert_accepted(&post_event(&slog, &auto).await);
    for (key, value_type) in [("auto_s", 0), ("auto_i", 3), ("auto_f", 4), ("auto_b", 2)] {
        let row = poll_admin_row(&slog, &format!("/admin/event-properties/{key}")).await;
        assert_property_row(&row, key, value_type, "auto");
    }
    let row = poll_admin_row(&slog, "/admin/events/autoThing").await;
    assert_eq!(row["id"], "autoThing", "{row}");
    assert_eq!(row["project"], "auto_proj", "{row}");
    assert_eq!(row["proposer"], "auto", "{row}");
    assert_eq!(row["is_reserve"], 0, "{row}");

    let mismatch = json!({"stype": 100, "eid": "pageview", "project": "auto_proj",
                          "ps": {"ct": "abc"}, "uidentity": {"deviceUUID": "d-3"}});
    assert_error(
        &post_event(&slog, &mismatch).await,
        StatusCode::BAD_REQUEST,
        "type_mismatch",
        Some("ps.ct"),
    );
    // Once registered, an auto-registered key's type is enforced too.
    let mismatch = json!({"stype": 100, "eid": "autoThing", "project": "auto_proj",
                          "ps": {"auto_i": "five"}, "uidentity": {"deviceUUID": "d-3"}});
    poll_refused(&slog, &mismatch, "type_mismatch", DEADLINE).await;
    assert_error(
        &post_event(&slog, &mismatch).await,
        StatusCode::BAD_REQUEST,
        "type_mismatch",
        Some("ps.auto_i"),
    );
    assert_eq!(
        admin_get(&slog, "/admin/event-properties/auto_i").await.1["value_type"],
        3,
        "the registered type stays"
    );
}

#[tokio::test]
async fn policies_lenient_and_register_sqlite() {
    policies_lenient_and_register(Backend::Sqlite).await;
}

#[tokio::test]
async fn policies_lenient_and_register_mysql_redis() {
    policies_lenient_and_register(Backend::MySqlRedis).await;
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stale_database_keeps_the_last_snapshot_mysql_redis() {
    let registry = Registry::new(Backend::MySqlRedis).await;
    let slog = registry.start();
    let (status, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["registry"]["status"], "ok", "{ready}");

    mysql_execute(&registry.db.url, "DROP TABLE registry_version").await;
    let (ready, _) = poll("registry reported stale", DEADLINE, || async {
        let (status, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
        if status != StatusCode::OK {
            panic!("a stale registry keeps the instance ready, got {status}: {ready}");
        }
        if ready["registry"]["status"] == "stale" {
            Ok(ready)
        } else {
            Err(ready.to_string())
        }
    })
    .await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(
        ready["registry"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "the error is reported: {ready}"
    );

    // The last snapshot still decides.
    let pageview = json!({"stype": 100, "eid": "pageview", "project": "zhibo",
                          "ps": {"url": "https://www.example.com/", "ct": 100},
                          "uidentity": {"deviceUUID": "d-stale"}});
    assert_accepted(&post_event(&slog, &pageview).await);
    let unknown = json!({"stype": 100, "eid": "neverRegistered", "project": "zhibo",
                         "uidentity": {"deviceUUID": "d-stale"}});
    assert_error(
        &post_event(&slog, &unknown).await,
        StatusCode::BAD_REQUEST,
        "unregistered_event",
        Some("eid"),
    );
}

/// Redis down at start-up: slog validates from MariaDB, says so in /readyz, and notices when a
/// real Redis comes up on the configured port.
#[tokio::test]
async fn a_redis_outage_is_reported_and_validation_goes_on_mysql_redis() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut registry = Registry::new(Backend::MySqlRedis).await;
    registry.db.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    let slog = registry.start();

    let (status, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        ready["registry"]["status"], "ok",
        "the database is fine: {ready}"
    );
    let redis = ready["registry"]["redis"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(redis.starts_with("unavailable"), "{ready}");

    let created = admin(
        &slog,
        Method::POST,
        "/admin/events",
        Some(json!({"id": "noCache", "name": "x", "project": "zhibo", "proposer": "t"})),
    )
    .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let event = json!({"stype": 100, "eid": "noCache", "project": "zhibo"});
    poll_accepted(&slog, &event, DEADLINE).await;

    let mut server = std::process::Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (scripts/test.sh installs it)");
    let (_, took) = poll("redis reported back", DEADLINE, || async {
        let (_, ready) = answer(reqwest::get(slog.url("/readyz")).await.unwrap()).await;
        match ready["registry"]["redis"].as_str() {
            Some("ok") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eprintln!("redis reported back {took:?} after it started");
    let _ = server.kill();
    let _ = server.wait();
}
