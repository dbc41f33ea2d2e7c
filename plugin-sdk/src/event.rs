//! The event a hook receives, with getters for the common questions.
//!
//! Properties cross the boundary as one JSON text and are parsed on first use only: a hook that
//! looks at the event name alone (most of them, most of the time) never pays for the parse.
use serde_json::{Map, Value};
use std::cell::OnceCell;

/// One event as slog hands it to a plugin.
#[derive(Debug, Clone)]
pub struct Event {
    /// slog's UUIDv7 for this event.
    pub event_id: String,
    pub project: String,
    /// 100 track, 101..=106 profile messages.
    pub stype: i64,
    /// The event name (track messages).
    pub eid: Option<String>,
    /// The event time, epoch ms: a plugin's only clock.
    pub time: i64,
    /// The user's identities in the client's order (`uuid` once slog resolved it).
    pub identities: Vec<(String, String)>,
    props_json: String,
    props: OnceCell<Map<String, Value>>,
    props_changed: bool,
}

impl Event {
    /// An event from its parts; `props_json` is a JSON object (anything else reads as empty).
    pub fn from_parts(
        event_id: String,
        project: String,
        stype: i64,
        eid: Option<String>,
        time: i64,
        props_json: String,
        identities: Vec<(String, String)>,
    ) -> Self {
        Event {
            event_id,
            project,
            stype,
            eid,
            time,
            identities,
            props_json,
            props: OnceCell::new(),
            props_changed: false,
        }
    }

    /// A track event, for plugin unit tests: `Event::track("pageview", json!({"is_first_time": true}))`.
    pub fn track(eid: &str, props: Value) -> Self {
        Self::from_parts(
            String::new(),
            "test".into(),
            100,
            Some(eid.into()),
            0,
            props.to_string(),
            Vec::new(),
        )
    }

    /// The same event with an identity added (builder style, for tests).
    pub fn with_identity(mut self, key: &str, value: &str) -> Self {
        self.identities.push((key.into(), value.into()));
        self
    }

    /// The same event at `time` (epoch ms).
    pub fn at(mut self, time: i64) -> Self {
        self.time = time;
        self
    }

    /// The event name, if any.
    pub fn eid(&self) -> Option<&str> {
        self.eid.as_deref()
    }

    /// Whether this is a track event named `eid`.
    pub fn is(&self, eid: &str) -> bool {
        self.eid() == Some(eid)
    }

    /// All properties.
    pub fn props(&self) -> &Map<String, Value> {
        self.props
            .get_or_init(|| match serde_json::from_str(&self.props_json) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            })
    }

    /// The properties for editing (in `transform`); slog takes the edited set.
    pub fn props_mut(&mut self) -> &mut Map<String, Value> {
        self.props();
        self.props_changed = true;
        self.props.get_mut().expect("initialised just above")
    }

    /// The edited properties as JSON, when `props_mut` was used.
    pub fn changed_props(&self) -> Option<String> {
        self.props_changed
            .then(|| Value::Object(self.props().clone()).to_string())
    }

    pub fn prop(&self, key: &str) -> Option<&Value> {
        self.props().get(key)
    }

    /// A property that is a non-empty string.
    pub fn prop_str(&self, key: &str) -> Option<&str> {
        self.prop(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A property that is a number, or a string holding one (SDKs send both).
    pub fn prop_f64(&self, key: &str) -> Option<f64> {
        match self.prop(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A property that is a boolean: `true`/`false`, `"true"`/`"false"` or `1`/`0`.
    pub fn prop_bool(&self, key: &str) -> Option<bool> {
        match self.prop(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            Value::Number(n) if n.as_i64() == Some(1) => Some(true),
            Value::Number(n) if n.as_i64() == Some(0) => Some(false),
            _ => None,
        }
    }

    /// An identity's value.
    pub fn identity(&self, key: &str) -> Option<&str> {
        self.identities
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Who the event is about: the uuid when slog resolved it, else the first identity.
    pub fn user_key(&self) -> Option<&str> {
        self.identity("uuid")
            .or_else(|| self.identities.first().map(|(_, v)| v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn getters_read_typed_values_and_tolerate_strings() {
        let e = Event::track(
            "buyCourse",
            json!({"money": "199.5", "course_name": "", "first": 1, "n": 3}),
        );
        assert!(e.is("buyCourse"));
        assert_eq!(e.prop_f64("money"), Some(199.5));
        assert_eq!(e.prop_str("course_name"), None);
        assert_eq!(e.prop_bool("first"), Some(true));
        assert_eq!(e.prop_bool("n"), None);
        assert_eq!(e.prop("missing"), None);
    }

    #[test]
    fn props_are_reported_changed_only_after_editing() {
        let mut e = Event::track("pageview", json!({"a": 1}));
        assert_eq!(e.changed_props(), None);
        e.props_mut().insert("b".into(), json!(2));
        assert_eq!(e.changed_props().as_deref(), Some(r#"{"a":1,"b":2}"#));
    }

    #[test]
    fn user_key_prefers_uuid() {
        let e = Event::track("x", json!({}))
            .with_identity("deviceUUID", "d")
            .with_identity("uuid", "u");
        assert_eq!(e.user_key(), Some("u"));
        assert_eq!(Event::track("x", json!({})).user_key(), None);
    }
}
