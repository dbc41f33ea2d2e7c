//! Normalisation: one SDK message (a JSON object in the tracking plan's §3.1 format) into an [`Event`].
//!
//! This is the only place that knows the wire format. Every rule here answers with a
//! [`Rejection`] naming the field, so an SDK author can fix the call from the response alone.
//! The rules (also in the README, "Request format"):
//! - `project` is required, a non-empty string of at most 64 characters (the registry's column width).
//! - `stype` is required, an integer: 100 track, 101..=106 profile_*; other values in 100..=199 are
//!   reserved (`unsupported_stype`), anything else is `invalid_value`.
//! - `eid` is required for track (non-empty, at most 64 characters), optional for profile messages.
//! - `use_server_time` defaults to true: the receive time is the event time and a sent `time` is kept
//!   as `client_time`. When false, `time` (epoch ms) is required and must lie between 2000-01-01 and
//!   one day after the receive time (catches seconds sent as milliseconds, and broken clocks).
//! - `ps` and `uidentity` are objects when present. profile_increment's `ps` values are numbers;
//!   profile_delete has no `ps` (it deletes the whole profile). Identity values are strings or integers; an
//!   integer becomes its decimal text (`42` and `"42"` are one identity), and an empty or null
//!   identity is no identity: it is dropped, the event is not refused for it.
//! - `project`, `eid` and the keys of `ps` and `uidentity` hold no control characters (a NUL, a
//!   newline), and no key is empty: names end up as registry rows, columns and metric labels.
//! - `sid` and `ver` are strings; `r` (the SDK's cache buster) is any scalar and is dropped.
//! - Any other top-level key is refused (`unknown_field`) rather than silently dropped.
use crate::error::{Code, Rejection};
use crate::event::{Event, MessageKind, TimeSource};
use crate::identity::keys::integer_text;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Width of the registry's id/project columns (tracking plan §3.2: varchar(64)).
const MAX_NAME_CHARS: usize = 64;
/// 2000-01-01T00:00:00Z in epoch milliseconds: anything earlier is not a real event time.
const EARLIEST_EVENT_TIME_MS: i64 = 946_684_800_000;
/// How far ahead of the server's clock a client's time may be.
const MAX_CLOCK_AHEAD_MS: i64 = 24 * 60 * 60 * 1000;

const KNOWN_FIELDS: [&str; 10] = [
    "time",
    "use_server_time",
    "stype",
    "eid",
    "sid",
    "ver",
    "r",
    "project",
    "ps",
    "uidentity",
];

/// Turns one decoded JSON message into an event received at `received_at` (epoch ms).
pub fn normalize(message: Value, received_at: i64) -> Result<Event, Rejection> {
    let Value::Object(mut obj) = message else {
        return Err(Rejection::request(
            Code::InvalidType,
            format!(
                "an event must be a JSON object, got {}",
                type_name(&message)
            ),
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(Rejection::field(
            Code::UnknownField,
            unknown,
            format!(
                "unknown top-level field; allowed: {}. Event properties go in `ps`",
                KNOWN_FIELDS.join(", ")
            ),
        ));
    }

    let project = take_name(&mut obj, "project")?
        .ok_or_else(|| Rejection::field(Code::MissingField, "project", "project is required"))?;
    let stype = take_i64(&mut obj, "stype")?
        .ok_or_else(|| Rejection::field(Code::MissingField, "stype", "stype is required"))?;
    let kind = kind_of(stype)?;
    let eid = take_name(&mut obj, "eid")?;
    if kind == MessageKind::Track && eid.is_none() {
        return Err(Rejection::field(
            Code::MissingField,
            "eid",
            "eid (the event name) is required for track messages (stype 100)",
        ));
    }

    let use_server_time = match obj.remove("use_server_time") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(wrong_type("use_server_time", "a boolean", &other)),
    };
    let sent_time = take_i64(&mut obj, "time")?;
    let (time, time_source, client_time) = if use_server_time {
        (received_at, TimeSource::Server, sent_time)
    } else {
        let t = sent_time.ok_or_else(|| {
            Rejection::field(
                Code::MissingField,
                "time",
                "time (epoch milliseconds) is required when use_server_time is false",
            )
        })?;
        check_client_time(t, received_at)?;
        (t, TimeSource::Client, None)
    };

    let sid = take_string(&mut obj, "sid")?;
    let ver = take_string(&mut obj, "ver")?;
    match obj.remove("r") {
        None | Some(Value::Null | Value::Number(_) | Value::String(_)) => {}
        Some(other) => return Err(wrong_type("r", "a number or string", &other)),
    }
    let ps = take_object(&mut obj, "ps")?;
    check_keys("ps", &ps)?;
    check_profile_operands(kind, &ps)?;
    let mut uidentity = take_object(&mut obj, "uidentity")?;
    check_keys("uidentity", &uidentity)?;
    canonical_identities(&mut uidentity)?;

    Ok(Event {
        event_id: Uuid::now_v7(),
        received_at,
        time,
        time_source,
        client_time,
        kind,
        eid,
        project,
        sid,
        ver,
        ps,
        uidentity,
        uuid_source: None,
        derived_by: None,
        wire: None,
        client_event_id: None,
    })
}

fn kind_of(stype: i64) -> Result<MessageKind, Rejection> {
    MessageKind::from_stype(stype).ok_or_else(|| {
        if (100..=199).contains(&stype) {
            Rejection::field(
                Code::UnsupportedStype,
                "stype",
                format!("stype {stype} is reserved and not supported yet; supported: 100 track, 101 profile_update, 102 profile_insert, 103 profile_unset, 104 profile_append, 105 profile_increment, 106 profile_delete"),
            )
        } else {
            Rejection::field(
                Code::InvalidValue,
                "stype",
                format!("stype must be in 100..=199, got {stype}"),
            )
        }
    })
}

/// The operands the two operations with fixed shapes need: profile_increment adds numbers, and
/// profile_delete deletes the whole profile, so it names no property.
fn check_profile_operands(kind: MessageKind, ps: &Map<String, Value>) -> Result<(), Rejection> {
    match kind {
        MessageKind::ProfileIncrement => match ps.iter().find(|(_, v)| !v.is_number()) {
            Some((key, value)) => Err(Rejection::field(
                Code::InvalidType,
                &format!("ps.{key}"),
                format!(
                    "profile_increment adds numbers to numeric properties, got {}",
                    type_name(value)
                ),
            )),
            None => Ok(()),
        },
        MessageKind::ProfileDelete if !ps.is_empty() => Err(Rejection::field(
            Code::InvalidValue,
            "ps",
            "profile_delete deletes the whole profile and takes no properties; use \
             profile_unset (103) to remove some",
        )),
        _ => Ok(()),
    }
}

fn check_client_time(t: i64, received_at: i64) -> Result<(), Rejection> {
    if t < EARLIEST_EVENT_TIME_MS {
        return Err(Rejection::field(
            Code::InvalidValue,
            "time",
            format!("time must be epoch milliseconds after 2000-01-01, got {t} (seconds instead of milliseconds?)"),
        ));
    }
    if t > received_at + MAX_CLOCK_AHEAD_MS {
        return Err(Rejection::field(
            Code::InvalidValue,
            "time",
            format!("time {t} is more than one day ahead of the server clock ({received_at})"),
        ));
    }
    Ok(())
}

/// Identity values as the identity store and every consumer compare them: text. An integer is
/// its decimal text; an empty or null value carries no identity and is dropped, whatever the
/// SDK meant by it. A fraction, or an integer too large to have been parsed exactly, is refused:
/// linking on a rounded id would join two people.
fn canonical_identities(uidentity: &mut Map<String, Value>) -> Result<(), Rejection> {
    let mut refused = None;
    uidentity.retain(|key, value| {
        if refused.is_some() {
            return true;
        }
        match value {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            Value::Number(n) => match integer_text(n) {
                Some(text) => {
                    *value = Value::String(text);
                    true
                }
                None => {
                    refused = Some(Rejection::field(
                        Code::InvalidValue,
                        &format!("uidentity.{key}"),
                        format!(
                            "identity {value} is not an exact integer (a fraction, or beyond \
                             2^53 where JSON numbers round): send long ids as strings"
                        ),
                    ));
                    true
                }
            },
            other => {
                refused = Some(Rejection::field(
                    Code::InvalidValue,
                    &format!("uidentity.{key}"),
                    format!(
                        "identity values must be strings or integers, got {}",
                        type_name(other)
                    ),
                ));
                true
            }
        }
    });
    refused.map_or(Ok(()), Err)
}

/// Property and identity names become registry rows, column names and metric labels: an empty
/// name or one with a control character (a NUL, a newline) is refused rather than stored.
fn check_keys(field: &str, map: &Map<String, Value>) -> Result<(), Rejection> {
    for key in map.keys() {
        if key.trim().is_empty() {
            return Err(Rejection::field(
                Code::InvalidValue,
                field,
                format!("{field} holds a key that is empty or only spaces"),
            ));
        }
        if let Some(c) = key.chars().find(|c| c.is_control()) {
            return Err(Rejection::field(
                Code::InvalidValue,
                &format!("{field}.{}", key.escape_debug()),
                format!(
                    "names in {field} must not hold control characters, found U+{:04X}",
                    c as u32
                ),
            ));
        }
    }
    Ok(())
}

fn take_i64(obj: &mut Map<String, Value>, field: &str) -> Result<Option<i64>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            Rejection::field(
                Code::InvalidType,
                field,
                format!("{field} must be an integer, got {n}"),
            )
        }),
        Some(other) => Err(wrong_type(field, "an integer", &other)),
    }
}

fn take_string(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, "a string", &other)),
    }
}

/// A string naming something in the registry: non-empty and at most [`MAX_NAME_CHARS`] characters.
fn take_name(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, Rejection> {
    let Some(s) = take_string(obj, field)? else {
        return Ok(None);
    };
    if s.trim().is_empty() {
        return Err(Rejection::field(
            Code::InvalidValue,
            field,
            format!("{field} must not be empty"),
        ));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Rejection::field(
            Code::InvalidValue,
            field,
            format!(
                "{field} must not hold control characters, found U+{:04X}",
                c as u32
            ),
        ));
    }
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(Rejection::field(
            Code::InvalidValue,
            field,
            format!("{field} must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(Some(s))
}

fn take_object(obj: &mut Map<String, Value>, field: &str) -> Result<Map<String, Value>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(wrong_type(field, "an object", &other)),
    }
}

fn wrong_type(field: &str, expected: &str, got: &Value) -> Rejection {
    Rejection::field(
        Code::InvalidType,
        field,
        format!("{field} must be {expected}, got {}", type_name(got)),
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000_000;

    /// The tracking plan's §3.1 example with its comments and trailing comma removed.
    fn seed_example() -> Value {
        json!({
            "time": 1434556935000_i64, "use_server_time": true, "stype": 100, "eid": "ViewViedo",
            "sid": "12345", "ver": "js1.1.0", "r": 13212, "project": "zhibo",
            "ps": {"url": "a/b/c/d", "ip": "180.12.43.42", "teacher": "abc", "start_time": 1434556935000_i64},
            "uidentity": {"uuid": "123123123", "mobile": "1234566778"}
        })
    }

    fn rejection(message: Value) -> Rejection {
        normalize(message, NOW).unwrap_err()
    }

    fn with(mut base: Value, key: &str, value: Value) -> Value {
        base[key] = value;
        base
    }

    fn without(mut base: Value, key: &str) -> Value {
        base.as_object_mut().unwrap().remove(key);
        base
    }

    #[test]
    fn seed_example_normalises_with_server_time_and_keeps_client_time() {
        let ev = normalize(seed_example(), NOW).unwrap();
        assert_eq!(ev.kind, MessageKind::Track);
        assert_eq!(ev.eid.as_deref(), Some("ViewViedo"));
        assert_eq!(ev.project, "zhibo");
        assert_eq!(ev.time, NOW);
        assert_eq!(ev.time_source, TimeSource::Server);
        assert_eq!(ev.client_time, Some(1434556935000));
        assert_eq!(ev.ps["teacher"], "abc");
        let keys: Vec<&String> = ev.ps.keys().collect();
        assert_eq!(
            keys,
            ["url", "ip", "teacher", "start_time"],
            "client order kept"
        );
        assert_eq!(ev.uidentity["uuid"], "123123123");
        assert_eq!(ev.event_id.get_version_num(), 7);
    }

    #[test]
    fn use_server_time_false_uses_the_client_time() {
        let ev = normalize(with(seed_example(), "use_server_time", json!(false)), NOW).unwrap();
        assert_eq!(ev.time, 1434556935000);
        assert_eq!(ev.time_source, TimeSource::Client);
        assert_eq!(ev.client_time, None);
    }

    #[test]
    fn use_server_time_defaults_to_true() {
        let ev = normalize(without(seed_example(), "use_server_time"), NOW).unwrap();
        assert_eq!(ev.time, NOW);
    }

    #[test]
    fn history_import_without_time_is_refused_naming_time() {
        let msg = without(
            with(seed_example(), "use_server_time", json!(false)),
            "time",
        );
        let r = rejection(msg);
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::MissingField, Some("time"))
        );
    }

    #[test]
    fn client_time_in_seconds_or_far_future_is_refused() {
        let import = with(seed_example(), "use_server_time", json!(false));
        let r = rejection(with(import.clone(), "time", json!(1434556935)));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidValue, Some("time"))
        );
        assert!(r.message.contains("seconds"), "{}", r.message);
        let r = rejection(with(import, "time", json!(NOW + 2 * MAX_CLOCK_AHEAD_MS)));
        assert_eq!(r.code, Code::InvalidValue);
    }

    #[test]
    fn control_characters_in_names_and_empty_keys_are_refused() {
        for (field, value) in [("project", "zhi\0bo"), ("eid", "View\nViedo")] {
            let r = rejection(with(seed_example(), field, json!(value)));
            assert_eq!(
                (r.code, r.field.as_deref()),
                (Code::InvalidValue, Some(field))
            );
            assert!(r.message.contains("control"), "{}", r.message);
        }
        let r = rejection(with(seed_example(), "ps", json!({"a\u{1b}b": 1})));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidValue, Some("ps.a\\u{1b}b"))
        );
        let r = rejection(with(seed_example(), "uidentity", json!({" ": "x"})));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidValue, Some("uidentity"))
        );
        // Chinese names and ordinary punctuation are names like any other.
        normalize(
            with(seed_example(), "ps", json!({"课程-名称 (v2)": "数学"})),
            NOW,
        )
        .unwrap();
    }

    #[test]
    fn project_and_stype_are_required() {
        let r = rejection(without(seed_example(), "project"));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::MissingField, Some("project"))
        );
        let r = rejection(without(seed_example(), "stype"));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::MissingField, Some("stype"))
        );
        let r = rejection(with(seed_example(), "project", json!("  ")));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidValue, Some("project"))
        );
    }

    #[test]
    fn eid_is_required_for_track_only() {
        let r = rejection(without(seed_example(), "eid"));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::MissingField, Some("eid"))
        );
        let profile = without(with(seed_example(), "stype", json!(101)), "eid");
        let ev = normalize(profile, NOW).unwrap();
        assert_eq!(ev.kind, MessageKind::ProfileUpdate);
        assert_eq!(ev.eid, None);
    }

    #[test]
    fn reserved_and_out_of_range_stypes_get_distinct_codes() {
        let r = rejection(with(seed_example(), "stype", json!(150)));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::UnsupportedStype, Some("stype"))
        );
        let r = rejection(with(seed_example(), "stype", json!(200)));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidValue, Some("stype"))
        );
    }

    #[test]
    fn wrong_types_name_the_field_and_the_expected_type() {
        for (field, value, expected) in [
            ("stype", json!("100"), "an integer"),
            ("stype", json!(100.5), "an integer"),
            ("time", json!("yesterday"), "an integer"),
            ("use_server_time", json!("yes"), "a boolean"),
            ("eid", json!(7), "a string"),
            ("sid", json!(12345), "a string"),
            ("ps", json!([1, 2]), "an object"),
            ("uidentity", json!("u"), "an object"),
            ("r", json!({}), "a number or string"),
        ] {
            let r = rejection(with(seed_example(), field, value));
            assert_eq!(r.code, Code::InvalidType, "{field}");
            assert_eq!(r.field.as_deref(), Some(field));
            assert!(r.message.contains(expected), "{field}: {}", r.message);
        }
    }

    #[test]
    fn identity_values_must_be_strings_or_integers() {
        let r = rejection(with(
            seed_example(),
            "uidentity",
            json!({"mobile": {"a": 1}}),
        ));
        assert_eq!(r.field.as_deref(), Some("uidentity.mobile"));
        let r = rejection(with(seed_example(), "uidentity", json!({"userid": 1.5})));
        assert_eq!(r.field.as_deref(), Some("uidentity.userid"));
        assert!(
            r.message.contains("send long ids as strings"),
            "{}",
            r.message
        );
    }

    #[test]
    fn integer_identities_become_their_text_and_empty_ones_are_dropped() {
        let ev = normalize(
            with(
                seed_example(),
                "uidentity",
                json!({"userid": 48672329, "uvId": "", "imei": null, "idfa": "  ", "mobile": "138"}),
            ),
            NOW,
        )
        .expect("empty and null identities do not refuse the event");
        assert_eq!(
            Value::Object(ev.uidentity),
            json!({"userid": "48672329", "mobile": "138"})
        );
    }

    #[test]
    fn unknown_top_level_fields_are_refused_not_dropped() {
        let r = rejection(with(seed_example(), "url", json!("/x")));
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::UnknownField, Some("url"))
        );
    }

    #[test]
    fn a_non_object_message_is_refused() {
        let r = rejection(json!("pageview"));
        assert_eq!(r.code, Code::InvalidType);
    }
}
