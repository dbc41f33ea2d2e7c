//! The mapping of each Sensors message type, on messages as the SDKs write them.
use super::*;
use crate::event::MessageKind;
use serde_json::json;

const NOW: i64 = 1_796_000_000_000;

fn translate(raw: Value) -> Result<Event, Rejection> {
    translate_for(raw, Some("zhibo"))
}

fn translate_for(raw: Value, url_project: Option<&str>) -> Result<Event, Rejection> {
    let config = SensorsConfig::default();
    to_event(
        &raw,
        &Context {
            config: &config,
            url_project,
            received_at: NOW,
        },
    )
}

/// A `$pageview` as sa-sdk-javascript sends it (trimmed).
fn web_pageview() -> Value {
    json!({
        "identities": {"$identity_cookie_id": "c-1", "$identity_anonymous_id": "anon-1"},
        "distinct_id": "anon-1", "anonymous_id": "anon-1",
        "lib": {"$lib": "js", "$lib_method": "code", "$lib_version": "1.27.11"},
        "properties": {"$timezone_offset": -480, "$screen_height": 1080, "$lib": "js",
            "$lib_version": "1.27.11", "$url": "https://www.example.com/course/1?from=ad",
            "$title": "课程", "$is_first_day": true, "$referrer": "https://www.baidu.com/s?wd=x"},
        "type": "track", "event": "$pageview", "time": NOW - 5, "_track_id": 123456789,
        "_flush_time": NOW - 2
    })
}

#[test]
fn a_web_pageview_becomes_slog_pageview() {
    let event = translate(web_pageview()).unwrap();
    assert_eq!(event.kind, MessageKind::Track);
    assert_eq!(event.eid.as_deref(), Some("pageview"));
    assert_eq!(event.project, "zhibo");
    assert_eq!(event.time, NOW - 5);
    assert_eq!(event.client_time, None);
    assert_eq!(event.wire, Some(Wire::Sensors));
    assert_eq!(event.client_event_id.as_deref(), Some("123456789"));
    assert_eq!(
        Value::Object(event.ps),
        json!({"timezone_offset": -480, "screen_height": 1080, "lib": "js",
            "lib_version": "1.27.11", "url": "https://www.example.com/course/1?from=ad",
            "title": "课程", "is_first_day": true, "referrer": "https://www.baidu.com/s?wd=x",
            "ct": 100})
    );
    assert_eq!(
        Value::Object(event.uidentity),
        json!({"browserId": "c-1", "deviceUUID": "anon-1"})
    );
}

#[test]
fn a_server_event_gets_lib_from_its_lib_object_and_the_server_client_type() {
    let node = json!({"_track_id": 1620254923_i64, "type": "track", "event": "buyCourse",
        "time": NOW, "distinct_id": "anon-1",
        "properties": {"course_name": "高等数学", "money": 199},
        "lib": {"$lib": "Node", "$lib_version": "1.2.6", "$lib_method": "code",
            "$lib_detail": "Object##<anonymous>##/srv/app.js##38,4"}});
    let event = translate(node).unwrap();
    assert_eq!(event.eid.as_deref(), Some("buyCourse"));
    assert_eq!(
        Value::Object(event.ps),
        json!({"course_name": "高等数学", "money": 199, "lib": "Node", "lib_version": "1.2.6", "ct": 1})
    );
    assert_eq!(
        Value::Object(event.uidentity),
        json!({"deviceUUID": "anon-1"})
    );
}

#[test]
fn a_signup_is_a_signup_event_linking_the_anonymous_id() {
    let signup = json!({"type": "track_signup", "event": "$SignUp", "time": NOW,
        "distinct_id": "user-1", "original_id": "anon-1", "properties": {"$lib": "python"}});
    let event = translate(signup).unwrap();
    assert_eq!(event.eid.as_deref(), Some("SignUp"));
    assert_eq!(
        Value::Object(event.uidentity),
        json!({"userid": "user-1", "deviceUUID": "anon-1"})
    );
}

#[test]
fn each_profile_type_has_its_stype() {
    for (kind, stype, properties, ps) in [
        (
            "profile_set",
            101,
            json!({"name": "张三", "$is_login_id": true}),
            json!({"name": "张三"}),
        ),
        (
            "profile_set_once",
            102,
            json!({"$first_visit_time": "2026-12-01 10:00:00.000"}),
            json!({"first_visit_time": "2026-12-01 10:00:00.000"}),
        ),
        (
            "profile_unset",
            103,
            json!({"city": true}),
            json!({"city": true}),
        ),
        (
            "profile_append",
            104,
            json!({"tags": ["直播"]}),
            json!({"tags": ["直播"]}),
        ),
        (
            "profile_increment",
            105,
            json!({"login_count": 2}),
            json!({"login_count": 2}),
        ),
        (
            "profile_delete",
            106,
            json!({"$is_login_id": true}),
            json!({}),
        ),
    ] {
        let message = json!({"type": kind, "time": NOW, "distinct_id": "user-1",
            "properties": properties, "lib": {"$lib": "python"}});
        let event = translate(message).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(event.kind.stype(), stype, "{kind}");
        assert!(event.kind.is_profile());
        assert_eq!(Value::Object(event.ps), ps, "{kind}");
        assert_eq!(event.eid, None);
        // `$is_login_id` says the distinct id is a login id.
        let expected_key = if kind == "profile_set" || kind == "profile_delete" {
            "userid"
        } else {
            "deviceUUID"
        };
        assert!(
            event.uidentity.contains_key(expected_key),
            "{kind}: {:?}",
            event.uidentity
        );
    }
}

#[test]
fn unsupported_and_malformed_messages_are_refused_naming_the_field() {
    for (message, code, field) in [
        (
            json!({"type": "item_set", "item_id": "1"}),
            Code::UnsupportedType,
            Some("type"),
        ),
        (
            json!({"type": "track_id_unbind"}),
            Code::UnsupportedType,
            Some("type"),
        ),
        (json!({"event": "x"}), Code::MissingField, Some("type")),
        (
            json!({"type": "track", "time": NOW}),
            Code::MissingField,
            Some("event"),
        ),
        (
            json!({"type": "track", "event": "x", "properties": [1]}),
            Code::InvalidType,
            Some("properties"),
        ),
        (
            json!({"type": "track", "event": "x", "time": "yesterday"}),
            Code::InvalidType,
            Some("time"),
        ),
        (
            json!({"type": "track", "event": "x", "time": 1_500_000}),
            Code::InvalidValue,
            Some("time"),
        ),
        (
            json!({"type": "profile_increment", "properties": {"n": "1"}}),
            Code::InvalidType,
            Some("ps.n"),
        ),
        (json!("text"), Code::InvalidType, None),
    ] {
        let r = translate(message.clone()).unwrap_err();
        assert_eq!((r.code, r.field.as_deref()), (code, field), "{message}");
    }
}

#[test]
fn the_project_comes_from_the_url_then_the_message_then_the_default() {
    let mut message = web_pageview();
    assert_eq!(
        translate_for(message.clone(), None).unwrap().project,
        "default"
    );
    message["properties"]["$project"] = json!("fromprop");
    assert_eq!(
        translate_for(message.clone(), None).unwrap().project,
        "fromprop"
    );
    message["project"] = json!("frommessage");
    assert_eq!(
        translate_for(message.clone(), None).unwrap().project,
        "frommessage"
    );
    let event = translate_for(message, Some("fromurl")).unwrap();
    assert_eq!(event.project, "fromurl");
    assert!(!event.ps.contains_key("project"), "{:?}", event.ps);
}

#[test]
fn a_client_clock_that_is_off_is_corrected_by_the_flush_time() {
    // The phone's clock is two hours behind: it stamped the event 10 s before it sent it.
    let behind = 2 * 60 * 60 * 1000;
    let mut message = web_pageview();
    message["time"] = json!(NOW - behind - 10_000);
    message["_flush_time"] = json!(NOW - behind);
    let event = translate(message).unwrap();
    assert_eq!(event.time, NOW - 10_000);
    assert_eq!(event.client_time, Some(NOW - behind - 10_000));
    // A clock a few seconds off is left alone.
    let event = translate(web_pageview()).unwrap();
    assert_eq!(event.time, NOW - 5);
}
