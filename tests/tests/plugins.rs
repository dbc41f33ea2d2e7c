//! End to end with WebAssembly plugins: the real binary loading the example plugins built by
//! scripts/build-plugins.sh, the file sink, reloads while serving, and the isolation plugins.
#![cfg(feature = "e2e")]
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::{slog_bin, Slog};
use slog_tests::http::{admin_request, metrics, post_event as post};
use slog_tests::plugins::{dist, PluginSlog, ADMIN_TOKEN, ISOLATION_PLUGINS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn admin(slog: &Slog, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
    admin_request(slog, ADMIN_TOKEN, method, path, None).await
}

fn track(eid: &str, ps: Value, uidentity: Value) -> Value {
    json!({"stype": 100, "eid": eid, "project": "zhibo", "ps": ps, "uidentity": uidentity})
}

fn by_eid<'a>(records: &'a [Value], eid: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["eid"] == eid).collect()
}

/// Polls `check` every 50 ms for up to 10 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

const EXAMPLES: &str = r#"
[[plugin]]
name = "course-check"
file = "course_check.wasm"
policy = "fail_closed"
events = ["buyCourse"]

[[plugin]]
name = "identity-rules"
file = "identity_rules.wasm"

[[plugin]]
name = "newuser"
file = "newuser.wasm"
events = ["AppStart", "pageview"]

[[plugin]]
name = "session"
file = "session.wasm"
[plugin.settings]
timeout_secs = 1
"#;

const EXAMPLE_FILES: [&str; 4] = [
    "course_check.wasm",
    "identity_rules.wasm",
    "newuser.wasm",
    "session.wasm",
];

#[tokio::test]
async fn course_check_refuses_a_buy_course_without_a_positive_money() {
    let s = PluginSlog::start(&EXAMPLE_FILES, EXAMPLES, "");
    let good = track(
        "buyCourse",
        json!({"course_name": "新概念", "money": 199}),
        json!({"userid": "u-1"}),
    );
    let (status, _) = post(&s.slog, &good).await;
    assert_eq!(status, StatusCode::OK);

    let free = track(
        "buyCourse",
        json!({"course_name": "新概念", "money": 0}),
        json!({"userid": "u-1"}),
    );
    let (status, body) = post(&s.slog, &free).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "plugin_rejected");
    assert_eq!(body["error"]["field"], "ps.money");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("course-check"),
        "{body}"
    );

    let letters = s.slog.file_records("dead_letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["reason"]["code"], "plugin_rejected");
    assert_eq!(letters[0]["event"]["ps"]["money"], 0);
    assert_eq!(by_eid(&s.slog.file_records("events"), "buyCourse").len(), 1);
}

#[tokio::test]
async fn newuser_emits_a_virtual_event_and_identity_rules_links_the_order() {
    let s = PluginSlog::start(&EXAMPLE_FILES, EXAMPLES, "");
    let first = track(
        "pageview",
        json!({"is_first_time": true}),
        json!({"deviceUUID": "d-1"}),
    );
    assert_eq!(post(&s.slog, &first).await.0, StatusCode::OK);
    let again = track(
        "pageview",
        json!({"is_first_time": false}),
        json!({"deviceUUID": "d-1"}),
    );
    assert_eq!(post(&s.slog, &again).await.0, StatusCode::OK);
    let order = track(
        "payOrder",
        json!({"orderDetailId": "od-7"}),
        json!({"userid": "u-9"}),
    );
    assert_eq!(post(&s.slog, &order).await.0, StatusCode::OK);

    let events = s.slog.file_records("events");
    let new_users = by_eid(&events, "newUser");
    assert_eq!(new_users.len(), 1, "{events:#?}");
    let source = by_eid(&events, "pageview")[0];
    assert_eq!(new_users[0]["derived_by"], "newuser");
    // The virtual event is the same person's: same identities, uuid included.
    assert_eq!(new_users[0]["uidentity"], source["uidentity"]);
    assert!(new_users[0]["uidentity"]["uuid"].is_string());
    assert_eq!(new_users[0]["time"], source["time"]);
    assert_ne!(new_users[0]["event_id"], source["event_id"]);
    assert_eq!(new_users[0]["ps"]["source_eid"], "pageview");
    assert!(source.get("derived_by").is_none());

    let paid = by_eid(&events, "payOrder")[0];
    assert_eq!(paid["uidentity"]["userid"], "u-9");
    assert_eq!(paid["uidentity"]["orderDetailId"], "od-7");
    let payer = paid["uidentity"]["uuid"].as_str().expect("payer's uuid");

    // The proposed link is in the user center: a later event that only knows the order (a
    // refund callback, say) is attributed to the payer.
    let refund = track("payOrder", json!({}), json!({"orderDetailId": "od-7"}));
    assert_eq!(post(&s.slog, &refund).await.0, StatusCode::OK);
    let events = s.slog.file_records("events");
    let refund = events.last().expect("the refund event");
    assert_eq!(refund["uidentity"]["uuid"], payer);
    assert_eq!(refund["uuid_source"], "lookup");
}

#[tokio::test]
async fn transform_edits_properties_for_the_projects_it_is_set_up_for() {
    let toml = r#"
[[plugin]]
name = "stamp"
file = "stamp.wasm"
projects = ["zhibo"]
[plugin.settings]
key = "channel"
value = "app"
"#;
    let s = PluginSlog::start(&["stamp.wasm"], toml, "");
    let bare = track("pageview", json!({"a": 1}), json!({}));
    assert_eq!(post(&s.slog, &bare).await.0, StatusCode::OK);
    let sent = track("pageview", json!({"channel": "web"}), json!({}));
    assert_eq!(post(&s.slog, &sent).await.0, StatusCode::OK);
    let mut elsewhere = bare.clone();
    elsewhere["project"] = json!("other");
    assert_eq!(post(&s.slog, &elsewhere).await.0, StatusCode::OK);

    let events = s.slog.file_records("events");
    assert_eq!(events[0]["ps"], json!({"a": 1, "channel": "app"}));
    assert_eq!(events[1]["ps"], json!({"channel": "web"}));
    assert_eq!(events[2]["ps"], json!({"a": 1}));
}

#[tokio::test]
async fn sessions_get_ids_and_a_quiet_user_gets_a_summary() {
    let s = PluginSlog::start(&EXAMPLE_FILES, EXAMPLES, "session_sweep_ms = 100");
    for eid in ["pageview", "click", "pageview"] {
        let e = track(eid, json!({}), json!({"userid": "u-5"}));
        assert_eq!(post(&s.slog, &e).await.0, StatusCode::OK);
    }
    let other = track("pageview", json!({}), json!({"userid": "u-6"}));
    assert_eq!(post(&s.slog, &other).await.0, StatusCode::OK);

    // timeout_secs = 1: both sessions close about a second after their last event.
    eventually("two session summaries", async || {
        by_eid(&s.slog.file_records("events"), "sessionSummary").len() == 2
    })
    .await;
    let events = s.slog.file_records("events");
    let of_u5: Vec<_> = events
        .iter()
        .filter(|r| r["uidentity"]["userid"] == "u-5" && r["derived_by"].is_null())
        .collect();
    assert_eq!(of_u5.len(), 3);
    let session_id = &of_u5[0]["ps"]["session_id"];
    assert_eq!(session_id, &of_u5[0]["event_id"]);
    assert!(of_u5.iter().all(|r| &r["ps"]["session_id"] == session_id));

    let summary = by_eid(&events, "sessionSummary")
        .into_iter()
        .find(|r| r["uidentity"]["userid"] == "u-5")
        .expect("u-5's summary");
    assert_eq!(summary["derived_by"], "session");
    assert_eq!(&summary["ps"]["session_id"], session_id);
    assert_eq!(summary["ps"]["pages"], 2);
    assert_eq!(summary["ps"]["events"], 3);
}

#[tokio::test]
async fn runaway_plugins_cost_only_their_event() {
    let s = PluginSlog::start(
        &["loop_forever.wasm", "trap.wasm", "memory_hog.wasm"],
        ISOLATION_PLUGINS,
        "call_timeout_ms = 500\nmax_memory_bytes = 8388608",
    );
    let ok = track("pageview", json!({}), json!({"userid": "u-1"}));
    for _ in 0..2 {
        // fail_open: the endless loop is interrupted and the event passes untouched.
        let started = Instant::now();
        let (status, _) = post(&s.slog, &track("spin", json!({"a": 1}), json!({}))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(5));

        // fail_closed: a trap dead-letters the event with the reason.
        let (status, body) = post(&s.slog, &track("boom", json!({}), json!({}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "plugin_failed");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("trap"),
            "{body}"
        );

        let (status, body) = post(&s.slog, &track("hog", json!({}), json!({}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "plugin_failed");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("memory"),
            "{body}"
        );

        // The trap plugin's fresh instance still serves the events it spares.
        assert_eq!(post(&s.slog, &ok).await.0, StatusCode::OK);
    }
    let events = s.slog.file_records("events");
    assert_eq!(by_eid(&events, "spin")[0]["ps"], json!({"a": 1}));
    assert_eq!(by_eid(&events, "pageview").len(), 2);
    let letters = s.slog.file_records("dead_letters");
    assert_eq!(letters.len(), 4);
    assert!(letters
        .iter()
        .all(|l| l["reason"]["code"] == "plugin_failed"));

    let (status, plugins) = admin(&s.slog, reqwest::Method::GET, "/admin/plugins").await;
    assert_eq!(status, StatusCode::OK);
    for plugin in plugins["plugins"].as_array().unwrap() {
        assert_eq!(plugin["failures"], 2, "{plugin}");
        assert_eq!(plugin["status"], "active");
        assert!(plugin["last_error"].is_string());
    }
    let m = metrics(&s.slog).await;
    for kind in ["timeout", "trap", "memory"] {
        assert!(
            m.lines()
                .any(|l| l.starts_with("slog_plugin_failures_total")
                    && l.contains(&format!("kind=\"{kind}\""))),
            "no {kind} failure in metrics:\n{m}"
        );
    }
    assert_eq!(
        reqwest::get(s.slog.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_bad_reload_keeps_the_chain_in_force_and_says_why() {
    let s = PluginSlog::start(&EXAMPLE_FILES, EXAMPLES, "watch = false");
    let free = track(
        "buyCourse",
        json!({"course_name": "x", "money": -1}),
        json!({}),
    );
    let enforced = async || post(&s.slog, &free).await.1["error"]["code"] == "plugin_rejected";
    assert!(enforced().await);

    let unauthorised = Client::new()
        .get(s.slog.url("/admin/plugins"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
    let (_, before) = admin(&s.slog, reqwest::Method::GET, "/admin/plugins").await;
    let version = before["chain_version"].as_u64().unwrap();
    let hashes: Vec<_> = before["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha256"].as_str().unwrap().len())
        .collect();
    assert_eq!(hashes, [64, 64, 64, 64]);
    assert_eq!(before["plugins"][0]["name"], "course-check");
    assert_eq!(before["plugins"][0]["hooks"], json!(["validate"]));
    assert_eq!(
        before["plugins"][0]["reads"],
        json!(["course_name", "money"])
    );
    assert_eq!(before["plugins"][0]["policy"], "fail_closed");
    assert_eq!(before["plugins"][0]["version"], "0.1.0");

    // A broken TOML.
    s.write_plugins_toml("[[plugin]\nname = ");
    let (status, body) = admin(&s.slog, reqwest::Method::POST, "/admin/plugins/reload").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "plugin_reload_failed");
    assert!(enforced().await);

    // Settings the plugin's init refuses.
    s.write_plugins_toml(&EXAMPLES.replace("timeout_secs = 1", "timeout_secs = \"soon\""));
    let (status, body) = admin(&s.slog, reqwest::Method::POST, "/admin/plugins/reload").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "session");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout_secs"),
        "{body}"
    );

    // A file that is not a component (say, half copied).
    s.write_plugins_toml(EXAMPLES);
    std::fs::write(s.plugins_dir().join("course_check.wasm"), b"\0asm garbage").unwrap();
    let (status, body) = admin(&s.slog, reqwest::Method::POST, "/admin/plugins/reload").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "course-check");
    assert!(enforced().await);

    let (_, after) = admin(&s.slog, reqwest::Method::GET, "/admin/plugins").await;
    assert_eq!(after["chain_version"].as_u64().unwrap(), version);
    assert_eq!(after["last_reload"]["ok"], false);
    assert_eq!(after["last_reload"]["plugin"], "course-check");
    assert_eq!(after["plugins"][0]["status"], "failing");

    // Repaired: the reload succeeds.
    std::fs::copy(
        dist().join("course_check.wasm"),
        s.plugins_dir().join("course_check.wasm"),
    )
    .unwrap();
    let (status, body) = admin(&s.slog, reqwest::Method::POST, "/admin/plugins/reload").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["last_reload"]["ok"], true);
    assert!(metrics(&s.slog)
        .await
        .contains("slog_plugin_reloads_total{result=\"error\"} 3"));
}

#[tokio::test]
async fn a_plugin_switched_on_in_plugins_toml_applies_without_a_restart() {
    let s = PluginSlog::start(&["course_check.wasm"], "", "");
    let free = track(
        "buyCourse",
        json!({"course_name": "x", "money": 0}),
        json!({}),
    );
    assert_eq!(post(&s.slog, &free).await.0, StatusCode::OK);
    s.write_plugins_toml(
        "[[plugin]]\nname = \"course-check\"\nfile = \"course_check.wasm\"\npolicy = \"fail_closed\"\n",
    );
    eventually("the watcher to load course-check", async || {
        post(&s.slog, &free).await.0 == StatusCode::BAD_REQUEST
    })
    .await;
    // Dropping a new .wasm in is picked up too: a plugin that refuses everything it sees.
    std::fs::copy(dist().join("trap.wasm"), s.plugins_dir().join("trap.wasm")).unwrap();
    s.write_plugins_toml(
        "[[plugin]]\nname = \"boom\"\nfile = \"trap.wasm\"\npolicy = \"fail_closed\"\n",
    );
    let pageview = track("pageview", json!({}), json!({}));
    eventually("the watcher to load the trap plugin", async || {
        post(&s.slog, &pageview).await.1["error"]["code"] == "plugin_failed"
    })
    .await;
}

/// 50 reloads in a row under a steady load lose no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_reloads_under_load_fail_no_request() {
    // A generous call deadline: on a busy 2-core machine a preempted call can pass 50 ms of wall
    // time (the deadline is wall time), and this test is about reloads, not deadlines.
    let s = Arc::new(PluginSlog::start(
        &EXAMPLE_FILES,
        EXAMPLES,
        "call_timeout_ms = 2000",
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for client in 0..4 {
        let (s, stop, sent) = (s.clone(), stop.clone(), sent.clone());
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let user = format!("u-{client}-{n}");
                let batch = json!([
                    track(
                        "pageview",
                        json!({"is_first_time": true}),
                        json!({"userid": user})
                    ),
                    track(
                        "buyCourse",
                        json!({"course_name": "c", "money": 1}),
                        json!({"userid": user})
                    ),
                ]);
                let (status, body) = post(&s.slog, &batch).await;
                if status != StatusCode::OK || body["accepted"] != 2 {
                    failures.push(body);
                }
                sent.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            failures
        }));
    }
    let mut versions = Vec::new();
    for i in 0..50 {
        // Each reload really changes the chain: newuser's settings alternate.
        let eid = if i % 2 == 0 { "newUser" } else { "firstVisit" };
        let toml = EXAMPLES.replace(
            "events = [\"AppStart\", \"pageview\"]",
            &format!("events = [\"AppStart\", \"pageview\"]\n[plugin.settings]\neid = \"{eid}\""),
        );
        s.write_plugins_toml(&toml);
        let (status, body) = admin(&s.slog, reqwest::Method::POST, "/admin/plugins/reload").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        versions.push(body["chain_version"].as_u64().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for task in load {
        failures.extend(task.await.unwrap());
    }
    assert!(failures.is_empty(), "failed requests: {failures:#?}");
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");

    let requests = sent.load(Ordering::Relaxed) as usize;
    assert!(requests > 50, "only {requests} requests during the reloads");
    let events = s.slog.file_records("events");
    assert_eq!(by_eid(&events, "pageview").len(), requests);
    assert_eq!(by_eid(&events, "buyCourse").len(), requests);
    let virtual_events = by_eid(&events, "newUser").len() + by_eid(&events, "firstVisit").len();
    let plugin_failures: Vec<String> = s
        .slog
        .logs()
        .lines()
        .filter(|l| l.contains("plugin call failed"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        virtual_events, requests,
        "one virtual event per first pageview; plugin failures: {plugin_failures:#?}"
    );
}

#[test]
fn plugin_check_accepts_a_component_and_explains_a_refusal() {
    let ok = std::process::Command::new(slog_bin())
        .args(["plugin", "check"])
        .arg(dist().join("session.wasm"))
        .args(["--settings", r#"{"timeout_secs": 60}"#])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains("hooks   session"), "{out}");

    let refused = std::process::Command::new(slog_bin())
        .args(["plugin", "check"])
        .arg(dist().join("session.wasm"))
        .args(["--settings", r#"{"timeout_secs": 0}"#])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("init refused its settings"), "{err}");

    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), "not wasm").unwrap();
    let refused = std::process::Command::new(slog_bin())
        .args(["plugin", "check"])
        .arg(junk.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a valid slog plugin component"));
}
