//! The event model: one struct that every pipeline stage reads and writes.
//!
//! An event is parsed once from the SDK's JSON (see `pipeline::normalize`) and serialised once, at
//! routing time, into the output record whose shape is documented in the README ("Output record").
//! That shape is the contract with every consumer of the topics: change it only additively.
//! The types serialised into output records live here too (`kind`: the message type; `person`:
//! identities, how the uuid was found, merges), so that every other module depends on this one.
mod kind;
mod person;

pub use kind::MessageKind;
pub use person::{Identity, Merge, UuidSource};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Where the event's `time` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// `use_server_time` was true (the default): the receive time is the event time.
    Server,
    /// `use_server_time` was false (history import): the client's `time` is the event time.
    Client,
}

/// The wire format an event arrived in, when it was not slog's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// A Sensors Analytics SDK's message (`/sa`, `/sa.gif`), mapped onto slog's model.
    Sensors,
}

/// One accepted event, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Server-assigned, time-ordered (UUIDv7) id; unique per accepted event.
    pub event_id: Uuid,
    /// When slog received the request, epoch milliseconds.
    pub received_at: i64,
    /// The event time, epoch milliseconds (see `time_source`).
    pub time: i64,
    pub time_source: TimeSource,
    /// The `time` the client sent, kept when the server time won so clock skew stays visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_time: Option<i64>,
    /// Serialised as two fields, `stype` (the wire number) and `type` (its name).
    #[serde(flatten, serialize_with = "kind::stype_and_type")]
    pub kind: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eid: Option<String>,
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Event (or profile) properties, in the order the client sent them.
    pub ps: Map<String, Value>,
    /// The user's identities (uuid, mobile, deviceUUID, ...), in the order the client sent them;
    /// a uuid slog filled in comes last.
    pub uidentity: Map<String, Value>,
    /// How `uidentity.uuid` was obtained; absent when the event neither carried nor needed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid_source: Option<UuidSource>,
    /// The plugin that emitted this virtual event (tracking plan §5.1); absent for events sent by clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_by: Option<String>,
    /// The wire format the event arrived in; absent for slog's own (`POST /slog/event`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire: Option<Wire>,
    /// The SDK's own id of the message (Sensors' `_track_id`): the same on every resend of it,
    /// so consumers can drop an SDK's duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_event_id: Option<String>,
}

impl Event {
    /// The Kafka partition key: the uuid when present, else the first identity value, so that one
    /// user's events stay in order on one partition. `None` when the event carries no identity.
    pub fn partition_key(&self) -> Option<String> {
        let scalar = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        self.uidentity
            .get("uuid")
            .and_then(scalar)
            .or_else(|| self.uidentity.values().find_map(scalar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_with_identity(uidentity: Value) -> Event {
        Event {
            event_id: Uuid::now_v7(),
            received_at: 1,
            time: 1,
            time_source: TimeSource::Server,
            client_time: None,
            kind: MessageKind::Track,
            eid: Some("pageview".into()),
            project: "zhibo".into(),
            sid: None,
            ver: None,
            ps: Map::new(),
            uidentity: uidentity.as_object().unwrap().clone(),
            uuid_source: None,
            derived_by: None,
            wire: None,
            client_event_id: None,
        }
    }

    #[test]
    fn partition_key_prefers_uuid_over_earlier_identities() {
        let ev = event_with_identity(json!({"mobile": "138", "uuid": "u-1"}));
        assert_eq!(ev.partition_key().as_deref(), Some("u-1"));
    }

    #[test]
    fn partition_key_falls_back_to_first_identity_in_client_order() {
        let ev = event_with_identity(json!({"deviceUUID": "d-9", "mobile": "138"}));
        assert_eq!(ev.partition_key().as_deref(), Some("d-9"));
    }

    #[test]
    fn partition_key_skips_empty_values_and_renders_numbers() {
        let ev = event_with_identity(json!({"uuid": "", "userid": 42}));
        assert_eq!(ev.partition_key().as_deref(), Some("42"));
        assert_eq!(event_with_identity(json!({})).partition_key(), None);
    }

    #[test]
    fn the_kind_is_written_as_stype_and_type() {
        let mut ev = event_with_identity(json!({}));
        ev.kind = MessageKind::ProfileAppend;
        let out = serde_json::to_value(&ev).unwrap();
        assert_eq!(out["stype"], 104);
        assert_eq!(out["type"], "profile_append");
    }
}
