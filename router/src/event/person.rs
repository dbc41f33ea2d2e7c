//! Who an event is about, as the output records say it: an identity (key and value), how the
//! event's uuid was obtained, and the merge of two uuids found to be one person.
use serde::{Deserialize, Serialize};

/// One identity of a person.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Identity {
    pub key: String,
    pub value: String,
}

impl Identity {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Identity {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// How an event's uuid was obtained (the output record's `uuid_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UuidSource {
    /// The client sent it.
    Client,
    /// Found from one of the event's other identities.
    Lookup,
    /// None of the identities was known: a new person.
    New,
    /// The event needed a uuid but has none: no usable identity, or the store was unreachable.
    Unresolved,
}

impl UuidSource {
    /// The name in output records and metric labels: its serde name.
    pub fn as_str(self) -> &'static str {
        serde_variant::to_variant_name(&self).expect("a unit variant always has a name")
    }
}

/// Two uuids found to be one person: the warehouse re-attributes `from`'s history to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merge {
    /// The `event_id` of the merge's record: chosen when the merge is committed, so that every
    /// re-send of the record (the merge outbox) carries the same one.
    pub event_id: uuid::Uuid,
    pub from_uuid: String,
    pub to_uuid: String,
    /// The identity whose sighting revealed it.
    pub trigger: Identity,
    /// Every identity that moved from `from_uuid` to `to_uuid`.
    pub moved: Vec<Identity>,
}
