//! What the loader takes from one output record (a line of the file sink, a Kafka message):
//! a track event, a profile operation, an identity merge, or nothing it stores.
//!
//! The record shape is the one documented in the README ("Output record"); only the fields the
//! report queries read are kept. A record the loader cannot read is an error naming the reason,
//! so it can be counted and logged rather than silently dropped.
//!
//! An event's properties are kept as the record's own JSON text: they are stored as they came,
//! so parsing them into a tree only to write them out again would be work per event for nothing.
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One record, as the warehouse stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Event(EventRow),
    Profile(ProfileRow),
    Merge(MergeRow),
    /// A record the warehouse has no table for (a profile without a uuid: it names no person).
    Skipped(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub event_id: String,
    pub time: i64,
    pub received_at: i64,
    pub project: String,
    pub eid: String,
    pub uuid: Option<String>,
    /// The event's properties (`ps`), a JSON object as text.
    pub props: String,
}

/// The profile operations of the tracking plan (§3.1, stype 101..=104) and the two slog adds
/// (105, 106).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileOp {
    /// 101: each property is set to the given value.
    Update,
    /// 102: each property is set only when the profile does not have it yet.
    Insert,
    /// 103: each named property is removed.
    Unset,
    /// 104: each value is appended to the property's list.
    Append,
    /// 105: each number is added to the property (a missing property counts as 0; a property
    /// holding something other than a number is left as it is).
    Increment,
    /// 106: every property is removed.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub op: ProfileOp,
    pub uuid: String,
    pub project: String,
    pub time: i64,
    pub received_at: i64,
    pub props: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MergeRow {
    pub from_uuid: String,
    pub to_uuid: String,
    pub project: String,
    pub time: i64,
    pub received_at: i64,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("field `{0}` is missing or has the wrong type")]
    Field(&'static str),
    #[error("unknown record type `{0}`")]
    UnknownType(String),
}

/// The fields of an output record the warehouse reads; the others are skipped unparsed.
#[derive(Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: Option<Value>,
    project: Option<Value>,
    time: Option<Value>,
    received_at: Option<Value>,
    event_id: Option<Value>,
    eid: Option<Value>,
    from_uuid: Option<Value>,
    to_uuid: Option<Value>,
    ps: Option<Box<RawValue>>,
    uidentity: Option<Value>,
}

impl Row {
    /// Reads one output record.
    pub fn parse(bytes: &[u8]) -> Result<Row, RowError> {
        let record: Record =
            serde_json::from_slice(bytes).map_err(|e| RowError::NotJson(e.to_string()))?;
        let kind = text(&record.kind, "type")?;
        let project = text(&record.project, "project")?;
        let time = integer(&record.time, "time")?;
        let received_at = integer(&record.received_at, "received_at")?;
        let op = match kind.as_str() {
            "track" => {
                return Ok(Row::Event(EventRow {
                    event_id: text(&record.event_id, "event_id")?,
                    time,
                    received_at,
                    project,
                    eid: text(&record.eid, "eid")?,
                    uuid: uuid_of(&record),
                    props: object_text(record.ps),
                }))
            }
            "identity_merge" => {
                return Ok(Row::Merge(MergeRow {
                    from_uuid: text(&record.from_uuid, "from_uuid")?,
                    to_uuid: text(&record.to_uuid, "to_uuid")?,
                    project,
                    time,
                    received_at,
                }))
            }
            "profile_update" => ProfileOp::Update,
            "profile_insert" => ProfileOp::Insert,
            "profile_unset" => ProfileOp::Unset,
            "profile_append" => ProfileOp::Append,
            "profile_increment" => ProfileOp::Increment,
            "profile_delete" => ProfileOp::Delete,
            other => return Err(RowError::UnknownType(other.to_owned())),
        };
        let Some(uuid) = uuid_of(&record) else {
            return Ok(Row::Skipped(
                "a profile message without a uuid names no person",
            ));
        };
        Ok(Row::Profile(ProfileRow {
            op,
            uuid,
            project,
            time,
            received_at,
            props: record
                .ps
                .and_then(|ps| serde_json::from_str(ps.get()).ok())
                .unwrap_or_default(),
        }))
    }

    /// When slog received the record (epoch ms): what the loader's watermark follows.
    pub fn received_at(&self) -> Option<i64> {
        match self {
            Row::Event(e) => Some(e.received_at),
            Row::Profile(p) => Some(p.received_at),
            Row::Merge(m) => Some(m.received_at),
            Row::Skipped(_) => None,
        }
    }
}

impl ProfileOp {
    /// Applies this operation's `props` to the profile `current`.
    pub fn apply(self, current: &mut Map<String, Value>, props: &Map<String, Value>) {
        if self == ProfileOp::Delete {
            current.clear();
            return;
        }
        for (key, value) in props {
            match self {
                ProfileOp::Update => {
                    current.insert(key.clone(), value.clone());
                }
                ProfileOp::Insert => {
                    current.entry(key.clone()).or_insert_with(|| value.clone());
                }
                ProfileOp::Unset => {
                    current.remove(key);
                }
                ProfileOp::Append => {
                    let slot = current
                        .entry(key.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    // A scalar already there becomes the first element of the list.
                    if !slot.is_array() {
                        let first = slot.take();
                        *slot = Value::Array(if first.is_null() { vec![] } else { vec![first] });
                    }
                    let list = slot.as_array_mut().expect("made a list above");
                    match value {
                        Value::Array(items) => list.extend(items.iter().cloned()),
                        other => list.push(other.clone()),
                    }
                }
                ProfileOp::Increment => {
                    let slot = current.entry(key.clone()).or_insert(Value::from(0));
                    if let Some(sum) = add(slot, value) {
                        *slot = sum;
                    }
                }
                ProfileOp::Delete => unreachable!("handled before the loop"),
            }
        }
    }
}

/// `a + b` for two numbers: exact for integers (while they fit in an i64), a double otherwise;
/// `None` when either is not a number.
fn add(a: &Value, b: &Value) -> Option<Value> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        if let Some(sum) = x.checked_add(y) {
            return Some(Value::from(sum));
        }
    }
    let sum = a.as_f64()? + b.as_f64()?;
    serde_json::Number::from_f64(sum).map(Value::Number)
}

fn text(field: &Option<Value>, key: &'static str) -> Result<String, RowError> {
    field
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(RowError::Field(key))
}

fn integer(field: &Option<Value>, key: &'static str) -> Result<i64, RowError> {
    field
        .as_ref()
        .and_then(Value::as_i64)
        .ok_or(RowError::Field(key))
}

fn uuid_of(record: &Record) -> Option<String> {
    record
        .uidentity
        .as_ref()
        .and_then(|ids| ids.get("uuid"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

/// `ps` as JSON text when it is an object, else an empty object.
fn object_text(ps: Option<Box<RawValue>>) -> String {
    match ps {
        Some(raw) if raw.get().starts_with('{') => String::from(Box::<str>::from(raw)),
        _ => "{}".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Row, RowError> {
        Row::parse(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn a_track_record_keeps_its_person_and_properties() {
        let row = parse(
            json!({"event_id": "e1", "received_at": 5, "time": 4, "stype": 100,
            "type": "track", "eid": "buyCourse", "project": "zhibo",
            "ps": {"money": 199}, "uidentity": {"userid": "u", "uuid": "P"}}),
        )
        .unwrap();
        let Row::Event(e) = row else {
            panic!("{row:?}")
        };
        assert_eq!((e.time, e.received_at, e.eid.as_str()), (4, 5, "buyCourse"));
        assert_eq!(e.uuid.as_deref(), Some("P"));
        let props: Value = serde_json::from_str(&e.props).unwrap();
        assert_eq!(props["money"], 199);
    }

    #[test]
    fn merges_and_profiles_are_read_and_a_profile_without_uuid_is_skipped() {
        let merge = parse(
            json!({"type": "identity_merge", "event_id": "m", "received_at": 2,
            "time": 2, "project": "p", "from_uuid": "A", "to_uuid": "B",
            "trigger": {"key": "userid", "value": "u"}, "moved": []}),
        )
        .unwrap();
        assert!(matches!(merge, Row::Merge(ref m) if m.from_uuid == "A" && m.to_uuid == "B"));
        let profile = parse(
            json!({"type": "profile_append", "stype": 104, "event_id": "x",
            "received_at": 1, "time": 1, "project": "p", "ps": {"tags": "a"},
            "uidentity": {"uuid": "B"}}),
        )
        .unwrap();
        assert!(matches!(profile, Row::Profile(ref p) if p.op == ProfileOp::Append));
        let anonymous = parse(json!({"type": "profile_update", "event_id": "y",
            "received_at": 1, "time": 1, "project": "p", "ps": {}, "uidentity": {}}))
        .unwrap();
        assert!(matches!(anonymous, Row::Skipped(_)));
    }

    #[test]
    fn unreadable_records_say_why() {
        assert!(matches!(
            Row::parse(b"{\"type\":"),
            Err(RowError::NotJson(_))
        ));
        assert_eq!(
            parse(json!({"type": "track", "project": "p", "time": 1, "received_at": 1})),
            Err(RowError::Field("event_id"))
        );
        assert_eq!(
            parse(json!({"type": "hologram", "project": "p", "time": 1, "received_at": 1})),
            Err(RowError::UnknownType("hologram".into()))
        );
    }

    #[test]
    fn profile_operations_follow_the_tracking_plan() {
        let mut profile = serde_json::from_value(json!({"name": "Li", "city": "BJ"})).unwrap();
        let props = |v: Value| v.as_object().unwrap().clone();
        ProfileOp::Update.apply(&mut profile, &props(json!({"name": "Wang"})));
        ProfileOp::Insert.apply(&mut profile, &props(json!({"name": "Zhao", "age": 3})));
        ProfileOp::Unset.apply(&mut profile, &props(json!({"city": null})));
        ProfileOp::Append.apply(&mut profile, &props(json!({"tags": "a"})));
        ProfileOp::Append.apply(
            &mut profile,
            &props(json!({"tags": ["b", "c"], "name": "x"})),
        );
        assert_eq!(
            Value::Object(profile.clone()),
            json!({"name": ["Wang", "x"], "age": 3, "tags": ["a", "b", "c"]})
        );
        ProfileOp::Increment.apply(
            &mut profile,
            &props(json!({"age": 2, "visits": 1, "score": 0.5, "tags": 1})),
        );
        ProfileOp::Increment.apply(&mut profile, &props(json!({"score": 1})));
        assert_eq!(
            Value::Object(profile.clone()),
            json!({"name": ["Wang", "x"], "age": 5, "tags": ["a", "b", "c"], "visits": 1, "score": 1.5})
        );
        ProfileOp::Delete.apply(&mut profile, &Map::new());
        assert!(profile.is_empty());
    }
}
