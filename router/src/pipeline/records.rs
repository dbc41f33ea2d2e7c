//! Output records (tracking plan §3.1 "目标数据库"): which topic an event goes to, under which key,
//! as what bytes. Also owns the `[routing]` section of slog.toml, the topic names.
//!
//! track → the track topic (`events`), profile_* → the profile topic (`users`). The key is the
//! event's partition key (uuid, else first identity) so one user's events stay ordered. The event is
//! serialised here, once; sinks only move bytes. Well-formed events the registry refused go to
//! the dead-letter topic as `{"rejected_at", "reason": {code, field, message}, "event": <record>}`;
//! a message of another wire format that could not be mapped onto an event, as
//! `{"rejected_at", "reason", "wire", "message": <as received>}`.
use crate::error::Rejection;
use crate::event::{Event, Identity, Merge, Wire};
use crate::invalid_config::InvalidConfig;
use crate::sink::Record;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[routing]` section: the topic of each kind of record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Topic for track events (stype 100).
    pub track_topic: String,
    /// Topic for profile_* messages (stype 101..=106).
    pub profile_topic: String,
    /// Topic for well-formed events the registry refused, with the reason.
    pub dead_letter_topic: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            track_topic: "events".into(),
            profile_topic: "users".into(),
            dead_letter_topic: "dead_letters".into(),
        }
    }
}

impl RoutingConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.track_topic.trim().is_empty() || self.profile_topic.trim().is_empty() {
            return Err(InvalidConfig::new(
                "routing.track_topic and routing.profile_topic must not be empty",
            ));
        }
        let dlq = &self.dead_letter_topic;
        if dlq.trim().is_empty() || dlq == &self.track_topic || dlq == &self.profile_topic {
            return Err(InvalidConfig::new(
                "routing.dead_letter_topic must be set and differ from the other topics",
            ));
        }
        Ok(())
    }
}

/// Initial buffer of an output record: room for a ~1 KB web event and what slog adds to it.
const RECORD_CAPACITY: usize = 2048;

#[derive(Debug, Clone)]
/// Turns events into the records the sink writes: topic, partition key, serialised bytes.
pub struct RecordBuilder {
    track_topic: Arc<str>,
    profile_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
}

#[derive(Serialize)]
struct DeadLetter<'a> {
    rejected_at: i64,
    reason: &'a Rejection,
    event: &'a Event,
}

/// A message of another wire format that never became an event, as it was received.
#[derive(Serialize)]
struct RawDeadLetter<'a> {
    rejected_at: i64,
    reason: &'a Rejection,
    wire: Wire,
    message: &'a serde_json::Value,
}

/// The identity-merge message (README "Unified identity"): `from_uuid`'s history is `to_uuid`'s.
#[derive(Serialize)]
struct IdentityMerge<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event_id: uuid::Uuid,
    received_at: i64,
    time: i64,
    project: &'a str,
    from_uuid: &'a str,
    to_uuid: &'a str,
    trigger: &'a Identity,
    moved: &'a [Identity],
}

impl RecordBuilder {
    pub fn new(config: &RoutingConfig) -> Self {
        RecordBuilder {
            track_topic: config.track_topic.as_str().into(),
            profile_topic: config.profile_topic.as_str().into(),
            dead_letter_topic: config.dead_letter_topic.as_str().into(),
        }
    }

    /// Every topic these records may go to (the sinks prepare these at start-up).
    pub fn topics(&self) -> Vec<Arc<str>> {
        vec![
            self.track_topic.clone(),
            self.profile_topic.clone(),
            self.dead_letter_topic.clone(),
        ]
    }

    /// The record of `event` on its topic (track or profile).
    pub fn record(&self, event: &Event) -> Record {
        let topic = if event.kind.is_profile() {
            self.profile_topic.clone()
        } else {
            self.track_topic.clone()
        };
        // Sized for a typical web event up front: `to_vec` starts at 128 bytes and regrows
        // (copying) four times on the way to a ~1.2 KB record.
        let mut payload = Vec::with_capacity(RECORD_CAPACITY);
        // Serialising a struct of strings, numbers and JSON maps cannot fail.
        serde_json::to_writer(&mut payload, event).expect("an Event always serialises");
        Record {
            topic,
            key: event.partition_key(),
            payload,
        }
    }

    /// The users-topic record announcing `merge`, revealed by `event`; keyed by the surviving
    /// uuid so it lands on that person's partition.
    pub fn identity_merge(&self, event: &Event, merge: &Merge) -> Record {
        self.merge_record(&event.project, event.received_at, event.time, merge)
    }

    /// The record of `merge`, revealed by an event of `project` received at `received_at` with
    /// its own `time`: what [`RecordBuilder::identity_merge`] builds, from the merge outbox.
    pub fn merge_record(
        &self,
        project: &str,
        received_at: i64,
        time: i64,
        merge: &Merge,
    ) -> Record {
        let message = IdentityMerge {
            kind: "identity_merge",
            event_id: merge.event_id,
            received_at,
            time,
            project,
            from_uuid: &merge.from_uuid,
            to_uuid: &merge.to_uuid,
            trigger: &merge.trigger,
            moved: &merge.moved,
        };
        Record {
            topic: self.profile_topic.clone(),
            key: Some(merge.to_uuid.clone()),
            payload: serde_json::to_vec(&message).expect("a merge always serialises"),
        }
    }

    /// The dead-letter record of a `wire` message slog could not map onto an event, refused for
    /// `reason` in a request received at `received_at`: `{"rejected_at", "reason", "wire", "message": <as received>}`, without a key.
    pub fn raw_dead_letter(
        &self,
        message: &serde_json::Value,
        wire: Wire,
        reason: &Rejection,
        received_at: i64,
    ) -> Record {
        let letter = RawDeadLetter {
            rejected_at: received_at,
            reason,
            wire,
            message,
        };
        Record {
            topic: self.dead_letter_topic.clone(),
            key: None,
            payload: serde_json::to_vec(&letter).expect("a dead letter always serialises"),
        }
    }

    /// The dead-letter record of `event`, refused for `reason`; keyed like the event itself.
    pub fn dead_letter(&self, event: &Event, reason: &Rejection) -> Record {
        let letter = DeadLetter {
            rejected_at: event.received_at,
            reason,
            event,
        };
        Record {
            topic: self.dead_letter_topic.clone(),
            key: event.partition_key(),
            payload: serde_json::to_vec(&letter).expect("a dead letter always serialises"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::normalize::normalize;
    use serde_json::{json, Value};

    fn builder() -> RecordBuilder {
        RecordBuilder::new(&RoutingConfig {
            track_topic: "ev".into(),
            profile_topic: "us".into(),
            dead_letter_topic: "dl".into(),
        })
    }

    #[test]
    fn track_goes_to_the_track_topic_and_profiles_to_the_profile_topic() {
        let msg = |stype| json!({"project": "p", "stype": stype, "eid": "pageview", "uidentity": {"uuid": "u1"}});
        assert_eq!(
            &*builder().record(&normalize(msg(100), 1).unwrap()).topic,
            "ev"
        );
        for stype in 101..=106 {
            assert_eq!(
                &*builder().record(&normalize(msg(stype), 1).unwrap()).topic,
                "us"
            );
        }
    }

    #[test]
    fn dead_letters_carry_the_reason_and_the_whole_event() {
        let ev = normalize(
            json!({"project": "p", "stype": 100, "eid": "x", "uidentity": {"uuid": "u"}}),
            7,
        )
        .unwrap();
        let reason = Rejection::field(
            crate::error::Code::UnregisteredEvent,
            "eid",
            "not registered",
        );
        let record = builder().dead_letter(&ev, &reason);
        assert_eq!(&*record.topic, "dl");
        assert_eq!(record.key.as_deref(), Some("u"));
        let out: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(out["reason"]["code"], "unregistered_event");
        assert_eq!(out["reason"]["field"], "eid");
        assert_eq!(out["event"]["event_id"], ev.event_id.to_string());
        assert_eq!(out["rejected_at"], 7);
    }

    #[test]
    fn the_payload_is_the_documented_output_record() {
        let ev = normalize(
            json!({"project": "zhibo", "stype": 100, "eid": "pageview", "ver": "js1.1.0",
                   "ps": {"url": "/a"}, "uidentity": {"mobile": "138"}}),
            1_764_000_000_000,
        )
        .unwrap();
        let record = builder().record(&ev);
        assert_eq!(record.key.as_deref(), Some("138"));
        let out: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(
            out,
            json!({
                "event_id": ev.event_id.to_string(), "received_at": 1_764_000_000_000_i64,
                "time": 1_764_000_000_000_i64, "time_source": "server", "stype": 100,
                "type": "track", "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
                "ps": {"url": "/a"}, "uidentity": {"mobile": "138"}
            })
        );
    }
}
