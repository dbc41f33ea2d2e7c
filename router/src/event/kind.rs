//! The message type of an event: its `stype` number on the wire and its name in output records.
use serde::{Serialize, Serializer};

/// The message types (tracking plan §3.1 "事件类型"). 100..=199 is the stype range; values in it that are
/// not listed here are reserved for future profile operations and refused until they exist.
/// 105 and 106 fill two of the places the plan leaves for more profile operations (the ones the
/// Sensors Analytics SDKs send besides the plan's four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Track,
    ProfileUpdate,
    ProfileInsert,
    ProfileUnset,
    ProfileAppend,
    /// 105: each numeric property is increased by the given amount (missing counts as 0).
    ProfileIncrement,
    /// 106: the whole profile is deleted.
    ProfileDelete,
}

impl MessageKind {
    /// The stype values this build understands.
    pub fn from_stype(stype: i64) -> Option<Self> {
        match stype {
            100 => Some(MessageKind::Track),
            101 => Some(MessageKind::ProfileUpdate),
            102 => Some(MessageKind::ProfileInsert),
            103 => Some(MessageKind::ProfileUnset),
            104 => Some(MessageKind::ProfileAppend),
            105 => Some(MessageKind::ProfileIncrement),
            106 => Some(MessageKind::ProfileDelete),
            _ => None,
        }
    }

    pub fn stype(self) -> i64 {
        match self {
            MessageKind::Track => 100,
            MessageKind::ProfileUpdate => 101,
            MessageKind::ProfileInsert => 102,
            MessageKind::ProfileUnset => 103,
            MessageKind::ProfileAppend => 104,
            MessageKind::ProfileIncrement => 105,
            MessageKind::ProfileDelete => 106,
        }
    }

    /// Profile messages describe a user rather than something the user did; they go to the users topic.
    pub fn is_profile(self) -> bool {
        self != MessageKind::Track
    }
}

/// Writes `kind` as the output record's `stype` and `type` fields (the event flattens it).
pub(super) fn stype_and_type<S: Serializer>(kind: &MessageKind, out: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Fields {
        stype: i64,
        #[serde(rename = "type")]
        kind: MessageKind,
    }
    Fields {
        stype: kind.stype(),
        kind: *kind,
    }
    .serialize(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stype_round_trips_and_profile_kinds_are_profiles() {
        for stype in 100..=106 {
            let kind = MessageKind::from_stype(stype).unwrap();
            assert_eq!(kind.stype(), stype);
            assert_eq!(kind.is_profile(), stype != 100);
        }
        assert_eq!(MessageKind::from_stype(107), None);
    }
}
