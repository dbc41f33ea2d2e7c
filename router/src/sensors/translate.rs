//! One Sensors message → one slog [`Event`], which then takes the same way as a native one
//! (validation, enrichment, identity, plugins, routing).
//!
//! | Sensors `type` | slog |
//! |---|---|
//! | `track` | stype 100, `eid` = `event` without `$` (`$pageview` → `pageview`) |
//! | `track_signup` | stype 100, `eid` = `SignUp`, linking `original_id` with the login id |
//! | `track_id_bind` | stype 100, `eid` = `BindID`, linking the identities it names |
//! | `profile_set` / `_set_once` / `_unset` / `_append` / `_increment` / `_delete` | stype 101 / 102 / 103 / 104 / 105 / 106 |
//! | anything else (`item_set`, `item_delete`, `track_id_unbind`, ...) | refused: `unsupported_type` |
//!
//! The project is the URL's `?project=`, else the message's `project` (or `$project`
//! property), else `[sensors] default_project`. `time` is the event time (a history import in
//! slog's terms, bounded the same way); when the SDK's clock at sending (`_flush_time`) is off
//! from slog's by more than `clock_correction_threshold_ms`, the event time is moved by that
//! difference and the SDK's own time is kept as `client_time`. `_track_id` becomes
//! `client_event_id`; `lib`, `_flush_time`, `token` and the SDK's other bookkeeping are not stored.
use super::config::SensorsConfig;
use super::identities::{self, Subject};
use super::properties;
use crate::error::{Code, Rejection};
use crate::event::{Event, Wire};
use crate::pipeline::normalize::normalize;
use serde_json::{Map, Value};

/// What a message is translated with besides itself.
pub struct Context<'a> {
    pub config: &'a SensorsConfig,
    /// The project named by the request's URL.
    pub url_project: Option<&'a str>,
    /// When slog received the request, epoch milliseconds.
    pub received_at: i64,
}

/// The Sensors types slog takes, for the refusal of any other.
const SUPPORTED_TYPES: &str = "track, track_signup, track_id_bind, profile_set, \
    profile_set_once, profile_unset, profile_append, profile_increment, profile_delete";

pub fn to_event(raw: &Value, context: &Context<'_>) -> Result<Event, Rejection> {
    let Value::Object(message) = raw else {
        return Err(Rejection::request(
            Code::InvalidType,
            "a message must be a JSON object",
        ));
    };
    let kind = text(message, "type")?.ok_or_else(|| {
        Rejection::field(
            Code::MissingField,
            "type",
            "type is required (track, profile_set, ...)",
        )
    })?;
    let (stype, eid) = match kind {
        "track" => {
            let event = text(message, "event")?.ok_or_else(|| {
                Rejection::field(
                    Code::MissingField,
                    "event",
                    "a track message needs its event name",
                )
            })?;
            (100, Some(properties::slog_name(event).to_owned()))
        }
        "track_signup" => (100, Some("SignUp".to_owned())),
        "track_id_bind" => (100, Some("BindID".to_owned())),
        "profile_set" => (101, None),
        "profile_set_once" => (102, None),
        "profile_unset" => (103, None),
        "profile_append" => (104, None),
        "profile_increment" => (105, None),
        "profile_delete" => (106, None),
        other => {
            return Err(Rejection::field(
                Code::UnsupportedType,
                "type",
                format!("type `{other}` is not one slog takes; it takes {SUPPORTED_TYPES}"),
            ))
        }
    };
    let empty = Map::new();
    let sent_properties = match message.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(Rejection::field(
                Code::InvalidType,
                "properties",
                "properties must be an object",
            ))
        }
    };
    let lib_object = message.get("lib").and_then(Value::as_object);
    let lib = sent_properties
        .get("$lib")
        .or_else(|| lib_object?.get("$lib"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let subject = Subject {
        message,
        properties: sent_properties,
        signup: kind == "track_signup",
        web: properties::client_type(lib) == 100,
    };
    let uidentity = identities::uidentity(&subject, context.config)?;

    let mut ps = if stype == 106 {
        // profile_delete removes the whole profile; whatever properties came with it name nothing.
        Map::new()
    } else {
        properties::rename(sent_properties)
    };
    if stype == 100 {
        properties::fill_client(&mut ps, lib_object);
    }

    let mut native = Map::new();
    native.insert(
        "project".into(),
        project(message, sent_properties, context).into(),
    );
    native.insert("stype".into(), stype.into());
    if let Some(eid) = eid {
        native.insert("eid".into(), eid.into());
    }
    let sent_time = integer(message, "time")?;
    let corrected = sent_time.map(|t| corrected_time(t, message, context));
    if let Some(time) = corrected {
        native.insert("use_server_time".into(), false.into());
        native.insert("time".into(), time.into());
    }
    native.insert("ps".into(), Value::Object(ps));
    native.insert("uidentity".into(), Value::Object(uidentity));

    let mut event = normalize(Value::Object(native), context.received_at)?;
    event.wire = Some(Wire::Sensors);
    event.client_event_id = match message.get("_track_id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if corrected != sent_time {
        event.client_time = sent_time;
    }
    Ok(event)
}

fn project(
    message: &Map<String, Value>,
    props: &Map<String, Value>,
    context: &Context<'_>,
) -> String {
    fn named(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }
    context
        .url_project
        .filter(|p| !p.trim().is_empty())
        .or_else(|| named(message.get("project")))
        .or_else(|| named(props.get("$project")))
        .unwrap_or(&context.config.default_project)
        .to_owned()
}

/// The event time: the SDK's `time`, moved by the SDK clock's error when `_flush_time` shows
/// one larger than the threshold.
fn corrected_time(time: i64, message: &Map<String, Value>, context: &Context<'_>) -> i64 {
    let threshold = context.config.clock_correction_threshold_ms;
    let Some(flushed) = message.get("_flush_time").and_then(Value::as_i64) else {
        return time;
    };
    let error = context.received_at.saturating_sub(flushed);
    if threshold > 0 && error.saturating_abs() > threshold {
        time.saturating_add(error)
    } else {
        time
    }
}

fn text<'m>(message: &'m Map<String, Value>, field: &str) -> Result<Option<&'m str>, Rejection> {
    match message.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(Rejection::field(
            Code::InvalidType,
            field,
            format!("{field} must be a non-empty string"),
        )),
    }
}

fn integer(message: &Map<String, Value>, field: &str) -> Result<Option<i64>, Rejection> {
    match message.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            Rejection::field(
                Code::InvalidType,
                field,
                format!("{field} must be epoch milliseconds (an integer), got {v}"),
            )
        }),
    }
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
