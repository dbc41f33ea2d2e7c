//! The report API in process: the app assembled as `slog serve` does (memory sink, embedded
//! registry), reports on over a temporary warehouse filled here through the store's own writer,
//! driven over HTTP. Every test runs on the embedded SQLite store and, when
//! `SLOG_TEST_CLICKHOUSE_URL` names a server (`scripts/test.sh` starts one), on a fresh
//! ClickHouse database too: the same rows must give the same answers on both. Expected numbers
//! are worked out by hand from the rows below, in the report time zone Asia/Shanghai (UTC+8,
//! no DST).
//!
//! The people: A browsed anonymously as `anon-a1` and logged in as `login-a2` (merged: one
//! person, profile city 北京); B is `b-10` (上海); C is `c-3f` (no profile); one purchase carries
//! no uuid at all.
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::NaiveDateTime;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use slog_router::config::Config;
use slog_router::server::{assemble, Service};
use slog_router::sink::memory::MemorySink;
use slog_router::warehouse::clickhouse::writer::{ClickHouseWarehouse, Consumed};
use slog_router::warehouse::rows::{EventRow, MergeRow, ProfileOp, ProfileRow, Row};
use slog_router::warehouse::sqlite_writer::SqliteWarehouse;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

const ADMIN: &str = "admin-secret";
const TOKEN: &str = "report-secret";

/// The warehouse a test app reads, written through the store's own loader code.
enum Warehouse {
    Sqlite(SqliteWarehouse),
    ClickHouse {
        writer: ClickHouseWarehouse,
        next_offset: AtomicI64,
    },
}

struct App {
    service: Service,
    warehouse: Warehouse,
    /// Which store, for failure messages.
    store: &'static str,
    _dir: tempfile::TempDir,
}

/// The time every fixture record was received: what the loader's watermark reports.
const RECEIVED: &str = "2019-04-27 15:00:00";

/// Epoch ms of a Shanghai wall-clock time: UTC minus 8 hours.
fn local(text: &str) -> i64 {
    let fmt = if text.len() > 19 {
        "%Y-%m-%d %H:%M:%S%.3f"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    NaiveDateTime::parse_from_str(text, fmt)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        - 8 * 3_600_000
}

/// The stores to test: SQLite, and ClickHouse when a server is named.
fn stores() -> Vec<Option<String>> {
    let mut stores = vec![None];
    if let Ok(url) = std::env::var("SLOG_TEST_CLICKHOUSE_URL") {
        if !url.is_empty() {
            stores.push(Some(url));
        }
    }
    stores
}

async fn app_with(clickhouse: Option<&str>, reports: &str, admin_token: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let warehouse_url = match clickhouse {
        None => format!("sqlite://{}", dir.path().join("warehouse.db").display()),
        Some(server) => format!(
            "{}/slog_t_{}",
            server.trim_end_matches('/'),
            uuid::Uuid::now_v7().simple()
        ),
    };
    let admin = if admin_token {
        format!("[admin]\ntoken = \"{ADMIN}\"\n")
    } else {
        String::new()
    };
    let text = format!(
        "[registry]\nurl = \"sqlite://{db}?mode=rwc\"\n\
         [plugins]\ndir = \"{dir}\"\nconfig = \"{dir}/plugins.toml\"\nwatch = false\n\
         {admin}[warehouse]\nurl = \"{warehouse_url}\"\n[reports]\nenabled = true\n{reports}\n",
        db = dir.path().join("registry.db").display(),
        dir = dir.path().display(),
    );
    let config = Config::from_toml_str(&text, Vec::new()).unwrap();
    let service = assemble(&config, Arc::new(MemorySink::new()), None)
        .await
        .unwrap();
    let (warehouse, store) = match clickhouse {
        None => (
            Warehouse::Sqlite(SqliteWarehouse::new(
                slog_router::warehouse::sqlite::open(&warehouse_url)
                    .await
                    .unwrap(),
            )),
            "sqlite",
        ),
        Some(_) => (
            Warehouse::ClickHouse {
                writer: ClickHouseWarehouse::new(
                    slog_router::warehouse::clickhouse::open(&warehouse_url)
                        .await
                        .unwrap(),
                ),
                next_offset: AtomicI64::new(0),
            },
            "clickhouse",
        ),
    };
    App {
        service,
        warehouse,
        store,
        _dir: dir,
    }
}

/// One app per store, each registered and filled with the same rows.
async fn apps() -> Vec<App> {
    let mut apps = Vec::new();
    for store in stores() {
        let app = app_with(store.as_deref(), &format!("token = \"{TOKEN}\""), true).await;
        app.register().await;
        app.fill().await;
        eprintln!("store: {}", app.store);
        apps.push(app);
    }
    apps
}

impl App {
    async fn send(&self, path: &str, bearer: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self
            .service
            .app
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn report(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self
            .send(path, Some(TOKEN), body.to_string().into_bytes())
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    async fn events(&self, body: Value) -> Value {
        self.report("/events/report", &body).await
    }

    async fn addictions(&self, body: Value) -> Value {
        self.report("/addictions/report", &body).await
    }

    /// buyCourse for zhibo and its properties, through the admin API.
    async fn register(&self) {
        let admin = |path: &'static str, body: Value| async move {
            let (status, answer) = self
                .send(path, Some(ADMIN), body.to_string().into_bytes())
                .await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
        };
        admin(
            "/admin/events",
            json!({"id": "buyCourse", "name": "购买课程", "project": "zhibo", "need_uuid": 1, "proposer": "li"}),
        )
        .await;
        admin(
            "/admin/event-properties",
            json!({"key": "course_name", "name": "课程名称", "value_type": 0, "proposer": "li"}),
        )
        .await;
        admin(
            "/admin/event-properties",
            json!({"key": "money", "name": "支付金额", "value_type": 3, "proposer": "li"}),
        )
        .await;
    }

    /// Loads `rows` as the store's loader would: one batch, received at `RECEIVED`.
    async fn load(&self, rows: Vec<Row>) {
        match &self.warehouse {
            Warehouse::Sqlite(w) => {
                let position = w.progress("events").await.unwrap().position + rows.len() as u64;
                w.apply("events", &rows, position, Some(local(RECEIVED)))
                    .await
                    .unwrap();
            }
            Warehouse::ClickHouse {
                writer,
                next_offset,
            } => {
                let batch: Vec<Consumed> = rows
                    .into_iter()
                    .map(|row| Consumed {
                        source: "events/0".into(),
                        offset: next_offset.fetch_add(1, Ordering::SeqCst),
                        row: Some(row),
                    })
                    .collect();
                writer.apply(&batch).await.unwrap();
            }
        }
    }

    async fn event(
        &self,
        id: &str,
        time: &str,
        project: &str,
        eid: &str,
        uuid: Option<&str>,
        props: Value,
    ) {
        self.load(vec![event_row(id, time, project, eid, uuid, props)])
            .await;
    }

    async fn buy(&self, id: &str, time: &str, uuid: Option<&str>, props: Value) {
        self.event(id, time, "zhibo", "buyCourse", uuid, props)
            .await;
    }

    async fn fill(&self) {
        // A: anonymous history, then the login it was merged into.
        self.buy(
            "e1",
            "2019-04-21 23:59:59.999",
            Some("anon-a1"),
            json!({"course_name": "超级外教", "money": 100}),
        )
        .await;
        self.buy(
            "e2",
            "2019-04-22 00:00:00.000",
            Some("login-a2"),
            json!({"course_name": "超级外教", "money": 200}),
        )
        .await;
        self.buy(
            "e3",
            "2019-04-22 23:59:59.999",
            Some("login-a2"),
            json!({"course_name": "新概念", "money": 50}),
        )
        .await;
        // B, with one purchase on each side of the range as well.
        self.buy(
            "e4",
            "2019-04-23 00:00:00.000",
            Some("b-10"),
            json!({"course_name": "新概念", "money": 80, "is_first_time": true}),
        )
        .await;
        self.buy(
            "e5",
            "2019-04-23 12:00:00",
            Some("b-10"),
            json!({"course_name": "新概念", "money": 80}),
        )
        .await;
        self.buy(
            "e6",
            "2019-04-20 23:59:59.999",
            Some("b-10"),
            json!({"course_name": "超级外教", "money": 1}),
        )
        .await;
        self.buy(
            "e7",
            "2019-04-28 00:00:00.000",
            Some("b-10"),
            json!({"course_name": "超级外教", "money": 1}),
        )
        .await;
        // C, without a course name; and a purchase nobody can be named for.
        self.buy(
            "e8",
            "2019-04-24 09:00:00",
            Some("c-3f"),
            json!({"money": 30, "is_first_time": false}),
        )
        .await;
        self.buy(
            "e9",
            "2019-04-25 09:00:00",
            None,
            json!({"course_name": "趣味阅读", "money": 10}),
        )
        .await;
        self.event(
            "p1",
            "2019-04-21 12:00:00",
            "zhibo",
            "pageview",
            Some("login-a2"),
            json!({}),
        )
        .await;
        self.event(
            "p2",
            "2019-04-21 12:00:00",
            "zhibo",
            "pageview",
            Some("b-10"),
            json!({}),
        )
        .await;
        self.event(
            "o1",
            "2019-04-22 12:00:00",
            "other",
            "buyCourse",
            Some("x-00"),
            json!({"course_name": "新概念"}),
        )
        .await;
        let mut rows = Vec::new();
        for (uuid, props) in [
            ("login-a2", json!({"city": "北京"})),
            ("anon-a1", json!({"city": "广州"})),
            ("b-10", json!({"city": "上海"})),
        ] {
            rows.push(Row::Profile(ProfileRow {
                op: ProfileOp::Update,
                uuid: uuid.into(),
                project: "zhibo".into(),
                time: 0,
                received_at: local(RECEIVED),
                props: props.as_object().unwrap().clone(),
            }));
        }
        rows.push(Row::Merge(MergeRow {
            from_uuid: "anon-a1".into(),
            to_uuid: "login-a2".into(),
            project: "zhibo".into(),
            time: 0,
            received_at: local(RECEIVED),
        }));
        self.load(rows).await;
    }
}

fn event_row(
    id: &str,
    time: &str,
    project: &str,
    eid: &str,
    uuid: Option<&str>,
    props: Value,
) -> Row {
    Row::Event(EventRow {
        event_id: id.into(),
        time: local(time),
        received_at: local(RECEIVED),
        project: project.into(),
        eid: eid.into(),
        uuid: uuid.map(str::to_owned),
        props: props.to_string(),
    })
}

fn week() -> Value {
    json!({"from_date": "2019-04-21", "to_date": "2019-04-27"})
}

/// `week()` with `extra` merged in.
fn with(extra: Value) -> Value {
    let mut body = week();
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// The row whose by_values are `key`.
fn row(answer: &Value, key: Value) -> &Value {
    answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["by_values"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {answer}"))
}

#[tokio::test]
async fn the_plans_sales_per_course_example_counts_persons_after_merges() {
    for app in apps().await {
        let answer = app
            .events(json!({
                "measures": [{"event_name": "buyCourse", "aggregator": "uniq_count"}],
                "from_date": "2019-04-21", "to_date": "2019-04-27",
                "detail_and_rollup": true,
                "by_fields": ["event.buyCourse.course_name"],
                "limit": 100, "use_cache": true
            }))
            .await;
        let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "by_fields",
                "rows",
                "num_rows",
                "total_rows",
                "report_update_time",
                "data_update_time",
                "data_sufficient_update_time",
                "truncated"
            ]
        );
        assert_eq!(answer["by_fields"], json!(["event.buyCourse.course_name"]));
        // A bought 超级外教 anonymously and after logging in: one person. The purchase without a uuid
        // is nobody; C's purchase without a course name is the null group.
        assert_eq!(row(&answer, json!(["超级外教"]))["values"], json!([1]));
        assert_eq!(row(&answer, json!(["新概念"]))["values"], json!([2]));
        assert_eq!(row(&answer, json!(["趣味阅读"]))["values"], json!([0]));
        assert_eq!(row(&answer, json!([null]))["values"], json!([1]));
        assert_eq!(answer["rows"][0]["by_values"], json!(["新概念"]));
        assert_eq!(answer["num_rows"], 4);
        assert_eq!(answer["total_rows"], 4);
        assert_eq!(answer["truncated"], false);
        // The newest event loaded (B's, outside the range) and the loader's watermark.
        assert_eq!(answer["data_update_time"], "2019-04-28 00:00:00.000");
        assert_eq!(
            answer["data_sufficient_update_time"],
            "2019-04-27 15:00:00.000"
        );
        let report_time = answer["report_update_time"].as_str().unwrap();
        assert_eq!(
            report_time.len(),
            "2019-04-28 13:51:08.356".len(),
            "{report_time}"
        );
    }
}

#[tokio::test]
async fn every_aggregator_over_the_range() {
    for app in apps().await {
        let measure = |aggregator: &str| json!({"event_name": "buyCourse", "aggregator": aggregator, "field": "event.buyCourse.money"});
        let answer = app
            .events(with(json!({"measures": [
                measure("general"), measure("unique"), measure("average"), measure("sum"),
                measure("avg"), measure("max"), measure("min"),
                {"event_name": "$Anything", "aggregator": "general"}
            ]})))
            .await;
        // In range: A 3 purchases (100, 200, 50), B 2 (80, 80), C 1 (30), nobody 1 (10); 2 pageviews.
        let values = &answer["rows"][0]["values"];
        assert_eq!(answer["rows"].as_array().unwrap().len(), 1, "{answer}");
        assert_eq!(answer["rows"][0]["by_values"], json!([]));
        assert_eq!(values[0], 7);
        assert_eq!(values[1], 3);
        assert_eq!(values[2], 2.0); // 6 purchases of persons / 3 persons
        assert_eq!(values[3], 550);
        assert!(
            (values[4].as_f64().unwrap() - 550.0 / 7.0).abs() < 1e-9,
            "{values}"
        );
        assert_eq!(values[5], 200);
        assert_eq!(values[6], 10);
        assert_eq!(values[7], 9);
    }
}

#[tokio::test]
async fn user_properties_come_from_the_merged_persons_profile() {
    for app in apps().await {
        let answer = app
            .events(with(json!({
                "measures": [{"event_name": "buyCourse", "aggregator": "unique"},
                             {"event_name": "buyCourse", "aggregator": "general"}],
                "by_fields": ["user.city"]
            })))
            .await;
        // A's anonymous purchase counts under the login's city, not the anonymous profile's.
        assert_eq!(row(&answer, json!(["北京"]))["values"], json!([1, 3]));
        assert_eq!(row(&answer, json!(["上海"]))["values"], json!([1, 2]));
        assert_eq!(row(&answer, json!([null]))["values"], json!([1, 2]));
        assert_eq!(answer["total_rows"], 3);
    }
}

#[tokio::test]
async fn filters_with_and_or_and_typed_functions() {
    for app in apps().await {
        let general = json!([{"event_name": "buyCourse", "aggregator": "general"},
                         {"event_name": "buyCourse", "aggregator": "unique"}]);
        let count = |filter: Value| {
            let body = with(json!({"measures": general.clone(), "filter": filter}));
            let app = &app;
            async move { app.events(body).await["rows"][0]["values"].clone() }
        };
        let and = json!({"relation": "and", "conditions": [
            {"field": "event.buyCourse.money", "function": "greater", "params": [60]},
            {"field": "event.buyCourse.course_name", "function": "equal", "params": ["新概念", "超级外教"]}
        ]});
        assert_eq!(count(and).await, json!([4, 2]));
        let or = json!({"relation": "or", "conditions": [
            {"field": "event.buyCourse.course_name", "function": "notSet"},
            {"field": "event.buyCourse.course_name", "function": "contain", "params": ["阅读"]}
        ]});
        assert_eq!(count(or).await, json!([2, 1]));
        let between = json!({"conditions": [
            {"field": "event.$Anything.money", "function": "between", "params": ["50", "100"]}
        ]});
        assert_eq!(count(between).await, json!([4, 2]));
        let not_equal = json!({"conditions": [
            {"field": "event.buyCourse.course_name", "function": "notEqual", "params": ["新概念"]},
            {"field": "event.buyCourse.money", "function": "less", "params": [150]}
        ]});
        assert_eq!(count(not_equal).await, json!([2, 1]));
        let is_true = json!({"conditions": [{"field": "event.buyCourse.is_first_time", "function": "isTrue"}]});
        assert_eq!(count(is_true).await, json!([1, 1]));
        let is_false = json!({"conditions": [{"field": "event.buyCourse.is_first_time", "function": "isFalse"}]});
        assert_eq!(count(is_false).await, json!([1, 1]));
        let not_contain = json!({"conditions": [{"field": "event.buyCourse.course_name", "function": "notContain", "params": ["外教"]}]});
        assert_eq!(count(not_contain).await, json!([4, 2]));
        let user = json!({"conditions": [{"field": "user.city", "function": "isSet"}]});
        assert_eq!(count(user).await, json!([5, 2]));
    }
}

#[tokio::test]
async fn days_are_cut_at_local_midnight_and_the_rollup_is_an_exact_distinct() {
    for app in apps().await {
        let answer = app
            .events(with(json!({
                "measures": [{"event_name": "buyCourse", "aggregator": "general"},
                             {"event_name": "buyCourse", "aggregator": "unique"}],
                "unit": "day", "detail_and_rollup": true
            })))
            .await;
        let series: Vec<String> = (21..=27).map(|d| format!("2019-04-{d} 00:00:00")).collect();
        assert_eq!(answer["series"], json!(series));
        // 23:59:59.999 and 00:00:00.000 local fall on either side of each day.
        assert_eq!(
            answer["rows"][0]["values"],
            json!([[1, 1], [2, 1], [2, 1], [1, 1], [1, 0], [0, 0], [0, 0]])
        );
        // A bought on two days but is one person over the range: 3, not the days' sum of 4.
        let rollup = &answer["rollup_result"];
        assert_eq!(rollup["series"], json!(["2019-04-21 00:00:00"]));
        assert_eq!(rollup["rows"][0]["values"], json!([[7, 3]]));
        assert_eq!(answer["num_rows"], 1);
    }
}

#[tokio::test]
async fn weeks_start_on_monday_at_local_midnight() {
    for app in apps().await {
        let answer = app
            .events(with(json!({
                "measures": [{"event_name": "buyCourse", "aggregator": "general"}],
                "unit": "week", "by_fields": ["event.buyCourse.course_name"]
            })))
            .await;
        // 2019-04-21 is a Sunday: its week began on Monday the 15th; the next starts on the 22nd,
        // one millisecond after A's anonymous purchase.
        assert_eq!(
            answer["series"],
            json!(["2019-04-15 00:00:00", "2019-04-22 00:00:00"])
        );
        assert_eq!(
            row(&answer, json!(["超级外教"]))["values"],
            json!([[1], [1]])
        );
        assert_eq!(row(&answer, json!(["新概念"]))["values"], json!([[0], [3]]));
        assert_eq!(row(&answer, json!([null]))["values"], json!([[0], [1]]));
        assert!(answer.get("rollup_result").is_none());
    }
}

#[tokio::test]
async fn limit_keeps_the_largest_groups_and_says_it_truncated() {
    for app in apps().await {
        let answer = app
            .events(with(json!({
                "measures": [{"event_name": "buyCourse", "aggregator": "general"}],
                "by_fields": ["event.buyCourse.course_name"], "limit": 2
            })))
            .await;
        // general: 新概念 3, 超级外教 2, null 1, 趣味阅读 1.
        assert_eq!(
            answer["rows"][0],
            json!({"values": [3], "by_values": ["新概念"]})
        );
        assert_eq!(
            answer["rows"][1],
            json!({"values": [2], "by_values": ["超级外教"]})
        );
        assert_eq!(answer["num_rows"], 2);
        assert_eq!(answer["total_rows"], 4);
        assert_eq!(answer["truncated"], true);
    }
}

#[tokio::test]
async fn the_plans_distribution_example_buckets_people_per_course() {
    for app in apps().await {
        let answer = app
            .addictions(json!({
                "event_name": "buyCourse", "from_date": "2019-04-21", "to_date": "2019-04-27",
                "by_field": "event.buyCourse.course_name", "sampling_factor": 64, "unit": "day",
                "measure_type": "times", "result_bucket_param": [1, 2, 3, 4], "use_cache": true
            }))
            .await;
        let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "by_field",
                "rows",
                "report_update_time",
                "data_update_time",
                "data_sufficient_update_time",
                "truncated",
                "sampling_factor"
            ]
        );
        let cell = |people: i64, percent: f64, start: f64, end: Option<f64>| {
            let mut c = json!({"people": people, "percent": percent, "bucket_start": start});
            if let Some(end) = end {
                c["bucket_end"] = json!(end);
            }
            c
        };
        // 新概念: A once, B twice. 超级外教: A twice (anonymous + login). No course: C once.
        // 趣味阅读 was bought by nobody identifiable: no row.
        assert_eq!(
            answer["rows"],
            json!([
                {"by_value": "新概念", "total_people": 2, "cells": [
                    cell(1, 50.0, 1.0, Some(2.0)), cell(1, 50.0, 2.0, Some(3.0)),
                    cell(0, 0.0, 3.0, Some(4.0)), cell(0, 0.0, 4.0, None)]},
                {"by_value": "超级外教", "total_people": 1, "cells": [
                    cell(0, 0.0, 1.0, Some(2.0)), cell(1, 100.0, 2.0, Some(3.0)),
                    cell(0, 0.0, 3.0, Some(4.0)), cell(0, 0.0, 4.0, None)]},
                {"total_people": 1, "cells": [
                    cell(1, 100.0, 1.0, Some(2.0)), cell(0, 0.0, 2.0, Some(3.0)),
                    cell(0, 0.0, 3.0, Some(4.0)), cell(0, 0.0, 4.0, None)]}
            ])
        );
        assert_eq!(answer["sampling_factor"], 64);
        assert_eq!(answer["truncated"], false);
        assert_eq!(answer["by_field"], "event.buyCourse.course_name");
    }
}

#[tokio::test]
async fn distribution_by_days_with_an_event_and_default_buckets() {
    for app in apps().await {
        let periods = app
            .addictions(with(
                json!({"event_name": "buyCourse", "measure_type": "period",
                                "unit": "day", "result_bucket_param": [1, 2, 3]}),
            ))
            .await;
        // Days with a purchase: A 2 (21st and 22nd), B 1, C 1.
        let people: Vec<Value> = periods["rows"][0]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["people"].clone())
            .collect();
        assert_eq!(people, [json!(2), json!(1), json!(0)]);
        assert_eq!(periods["rows"][0]["total_people"], 3);
        assert!(periods["rows"][0].get("by_value").is_none());
        assert!(periods.get("by_field").is_none());
        let times = app
            .addictions(with(json!({"event_name": "buyCourse"})))
            .await;
        // Purchases: A 3, B 2, C 1; the default cells are 1, 2, 3, 4, 5, [6,10), [10,20), [20,50), 50+.
        let cells = times["rows"][0]["cells"].as_array().unwrap();
        let starts: Vec<f64> = cells
            .iter()
            .map(|c| c["bucket_start"].as_f64().unwrap())
            .collect();
        assert_eq!(starts, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 50.0]);
        assert_eq!(cells[0]["people"], 1);
        assert_eq!(cells[1]["people"], 1);
        assert_eq!(cells[2]["people"], 1);
        assert_eq!(cells[2]["percent"], 33.33);
        assert!(cells[8].get("bucket_end").is_none());
    }
}

#[tokio::test]
async fn rollup_date_false_gives_one_distribution_per_day() {
    for app in apps().await {
        let answer = app
            .addictions(with(json!({"event_name": "buyCourse", "unit": "day",
            "measure_type": "times", "result_bucket_param": [1, 2, 3], "rollup_date": false})))
            .await;
        // Per local day: the 21st A once (anonymous), the 22nd A twice, the 23rd B twice, the 24th
        // C once; the 25th's purchase names nobody; the 20th and 28th are outside the range.
        let per_day: Vec<(String, i64, Vec<i64>)> = answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["total_people"] != 0)
            .map(|row| {
                let day = row["by_date"].as_str().expect("by_date").to_owned();
                let cells = row["cells"].as_array().unwrap();
                let people = cells
                    .iter()
                    .map(|c| c["people"].as_i64().unwrap())
                    .collect();
                (
                    day[..10].to_owned(),
                    row["total_people"].as_i64().unwrap(),
                    people,
                )
            })
            .collect();
        assert_eq!(
            per_day,
            [
                ("2019-04-21".to_owned(), 1, vec![1, 0, 0]),
                ("2019-04-22".to_owned(), 1, vec![0, 1, 0]),
                ("2019-04-23".to_owned(), 1, vec![0, 1, 0]),
                ("2019-04-24".to_owned(), 1, vec![1, 0, 0]),
            ],
            "{answer}"
        );
    }
}

/// The documented sample bucket: the last two characters of the person's uuid as hex, mod 64.
fn bucket(person: &str) -> u32 {
    let digits: Vec<u32> = person
        .chars()
        .rev()
        .take(2)
        .map(|c| c.to_digit(16).unwrap())
        .collect();
    (digits[0] + 16 * digits[1]) % 64
}

#[tokio::test]
async fn sampling_keeps_persons_by_the_hash_of_their_uuid() {
    for app in apps().await {
        assert_eq!(
            (bucket("login-a2"), bucket("b-10"), bucket("c-3f")),
            (34, 16, 63)
        );
        let measures = json!([{"event_name": "buyCourse", "aggregator": "general"},
                          {"event_name": "buyCourse", "aggregator": "unique"}]);
        for (factor, expected) in [
            (17, json!([2, 1])),
            (35, json!([5, 2])),
            (63, json!([5, 2])),
            (64, json!([7, 3])),
        ] {
            let answer = app
                .events(with(
                    json!({"measures": measures.clone(), "sampling_factor": factor}),
                ))
                .await;
            assert_eq!(
                answer["rows"][0]["values"], expected,
                "sampling_factor {factor}"
            );
        }
        let answer = app
            .addictions(with(
                json!({"event_name": "buyCourse", "sampling_factor": 17}),
            ))
            .await;
        assert_eq!(answer["rows"][0]["total_people"], 1);
        assert_eq!(answer["sampling_factor"], 17);
    }
}

#[tokio::test]
async fn the_project_parameter_and_the_cache() {
    for app in apps().await {
        let body = with(
            json!({"measures": [{"event_name": "$Anything", "aggregator": "general"}], "use_cache": true}),
        );
        let other = app.report("/events/report?project=other", &body).await;
        assert_eq!(other["rows"][0]["values"], json!([1]));
        let first = app.events(body.clone()).await;
        assert_eq!(first["rows"][0]["values"], json!([9]));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = app.events(body.clone()).await;
        assert_eq!(again["report_update_time"], first["report_update_time"]);
        // New data loaded: the cached answer is stale.
        app.buy("e10", "2019-04-26 10:00:00", Some("b-10"), json!({}))
            .await;
        let fresh = app.events(body).await;
        assert_eq!(fresh["rows"][0]["values"], json!([10]));
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_the_rule() {
    for app in apps().await {
        let general = json!([{"event_name": "buyCourse", "aggregator": "general"}]);
        let cases = [
            (
                with(json!({"measures": [{"event_name": "noSuch", "aggregator": "general"}]})),
                "unregistered_event",
                "measures[0].event_name",
            ),
            (
                with(json!({"measures": general, "by_fields": ["event.buyCourse.colour"]})),
                "unknown_property",
                "by_fields[0]",
            ),
            (
                with(json!({"measures": general, "by_fields": ["course_name"]})),
                "invalid_report",
                "by_fields[0]",
            ),
            (
                json!({"measures": general, "from_date": "2019-4-21", "to_date": "2019-04-27"}),
                "invalid_report",
                "from_date",
            ),
            (
                with(json!({"measures": [{"event_name": "buyCourse", "aggregator": "median"}]})),
                "invalid_report",
                "measures[0].aggregator",
            ),
            (
                with(json!({"measures": [{"event_name": "buyCourse", "aggregator": "sum"}]})),
                "invalid_report",
                "measures[0].field",
            ),
            (
                with(
                    json!({"measures": [{"event_name": "buyCourse", "aggregator": "sum", "field": "event.buyCourse.course_name"}]}),
                ),
                "invalid_report",
                "measures[0].field",
            ),
            (
                with(
                    json!({"measures": general, "filter": {"conditions": [{"field": "event.buyCourse.money", "function": "like", "params": [1]}]}}),
                ),
                "invalid_report",
                "filter.conditions[0].function",
            ),
            (
                with(
                    json!({"measures": general, "filter": {"conditions": [{"field": "event.buyCourse.course_name", "function": "greater", "params": [1]}]}}),
                ),
                "invalid_report",
                "filter.conditions[0].function",
            ),
            (
                json!({"measures": general, "from_date": "2019-04-27", "to_date": "2019-04-21"}),
                "invalid_report",
                "to_date",
            ),
            (
                json!({"measures": general, "from_date": "2019-01-01", "to_date": "2020-01-02"}),
                "invalid_report",
                "to_date",
            ),
            (
                with(json!({"measures": general, "sampling_factor": 0})),
                "invalid_report",
                "sampling_factor",
            ),
            (
                with(json!({"measures": general, "sampling_factor": 65})),
                "invalid_report",
                "sampling_factor",
            ),
            (
                with(json!({"measures": general, "unit": "year"})),
                "invalid_report",
                "unit",
            ),
            (
                json!({"from_date": "2019-04-21", "to_date": "2019-04-27"}),
                "invalid_report",
                "measures",
            ),
        ];
        for (body, code, field) in cases {
            let (status, answer) = app
                .send("/events/report", Some(TOKEN), body.to_string().into_bytes())
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
            assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        }
        let addictions = [
            (
                with(json!({"event_name": "buyCourse", "result_bucket_param": [3, 2]})),
                "result_bucket_param",
            ),
            (
                with(json!({"event_name": "buyCourse", "measure_type": "hours"})),
                "measure_type",
            ),
            (with(json!({"event_name": "$Anything"})), "event_name"),
        ];
        for (body, field) in addictions {
            let (status, answer) = app
                .send(
                    "/addictions/report",
                    Some(TOKEN),
                    body.to_string().into_bytes(),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        }
        let (status, answer) = app
            .send("/events/report", Some(TOKEN), b"{not json".to_vec())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["code"], "invalid_json");
    }
}

#[tokio::test]
async fn reports_need_a_token_and_are_off_without_one() {
    for app in apps().await {
        let body =
            with(json!({"measures": [{"event_name": "$Anything", "aggregator": "general"}]}))
                .to_string();
        let (status, answer) = app
            .send("/events/report", None, body.clone().into_bytes())
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer["error"]["code"], "unauthorized");
        let (status, _) = app
            .send(
                "/addictions/report",
                Some("wrong"),
                body.clone().into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app
            .send(
                &format!("/events/report?token={TOKEN}"),
                None,
                body.clone().into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .send("/events/report", Some(ADMIN), body.clone().into_bytes())
            .await;
        assert_eq!(status, StatusCode::OK);
        let off = app_with(None, "", false).await;
        let (status, answer) = off
            .send("/events/report", Some(TOKEN), body.into_bytes())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer["error"]["code"], "reports_disabled");
    }
}
