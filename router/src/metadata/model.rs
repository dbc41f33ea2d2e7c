//! The registry's rows (tracking plan §3.2) and the value types properties are declared with.
use crate::clock::now_secs;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// `value_type` (tracking plan §3.2): 0 string, 1 datetime, 2 bool, 3 int, 4 double.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum ValueType {
    String,
    Datetime,
    Bool,
    Int,
    Double,
}

impl TryFrom<i64> for ValueType {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        Ok(match v {
            0 => ValueType::String,
            1 => ValueType::Datetime,
            2 => ValueType::Bool,
            3 => ValueType::Int,
            4 => ValueType::Double,
            other => return Err(format!("value_type must be 0..=4, got {other}")),
        })
    }
}

impl From<ValueType> for i64 {
    fn from(t: ValueType) -> i64 {
        match t {
            ValueType::String => 0,
            ValueType::Datetime => 1,
            ValueType::Bool => 2,
            ValueType::Int => 3,
            ValueType::Double => 4,
        }
    }
}

/// In JSON, `value_type` is the tracking plan's integer code.
impl utoipa::PartialSchema for ValueType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(0..=4))
            .description(Some(
                "0 string, 1 datetime (epoch ms or \"YYYY-MM-DD HH:MM:SS[.SSS]\", one to three fraction digits), 2 bool, 3 int, 4 double",
            ))
            .into()
    }
}

impl ToSchema for ValueType {}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Datetime => "datetime (epoch ms or \"YYYY-MM-DD HH:MM:SS[.SSS]\")",
            ValueType::Bool => "bool",
            ValueType::Int => "int",
            ValueType::Double => "double",
        }
    }

    /// Whether `value` is a value of this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            ValueType::String => value.is_string(),
            ValueType::Datetime => value.is_i64() || value.as_str().is_some_and(is_datetime_text),
            ValueType::Bool => value.is_boolean(),
            ValueType::Int => value.is_i64() || value.is_u64(),
            ValueType::Double => value.is_number(),
        }
    }

    /// The type a first-seen value suggests (for the `register` policy); `None` for values that
    /// cannot be a property (null, objects, arrays). Date-like strings stay strings: guessing
    /// datetime would refuse the next non-date value.
    pub fn infer(value: &Value) -> Option<ValueType> {
        match value {
            Value::String(_) => Some(ValueType::String),
            Value::Bool(_) => Some(ValueType::Bool),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(ValueType::Int),
            Value::Number(_) => Some(ValueType::Double),
            _ => None,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of one to three digits (the Sensors web SDK
/// writes its milliseconds unpadded: `.75`), with plausible field ranges.
fn is_datetime_text(s: &str) -> bool {
    let b = s.as_bytes();
    if !(b.len() == 19 || ((21..=23).contains(&b.len()) && b[19] == b'.')) {
        return false;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        s.get(range.clone())
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
    };
    let separators =
        b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    let fields = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let millis_ok = b.len() == 19 || num(20..b.len()).is_some();
    match fields {
        (Some(_), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) => {
            separators
                && millis_ok
                && (1..=12).contains(&mo)
                && (1..=31).contains(&d)
                && h < 24
                && mi < 60
                && sec < 60
        }
        _ => false,
    }
}

/// A row of `events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventDef {
    /// The event name SDKs send as `eid`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `None` (null): a common event, valid for every project.
    #[schema(required = true)]
    pub project: Option<String>,
    /// 1: a preset of the tracking plan (cannot be deleted or moved to a project).
    #[serde(with = "flag")]
    #[schema(value_type = u8, maximum = 1)]
    pub is_reserve: bool,
    /// 1: events without `uidentity.uuid` get one from the identity stage.
    #[serde(with = "flag")]
    #[schema(value_type = u8, maximum = 1)]
    pub need_uuid: bool,
    pub proposer: String,
    /// Epoch seconds.
    pub create_time: i64,
}

/// A row of `event_properties`, `user_identity_properties` or `profile_properties`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PropertyDef {
    pub key: String,
    /// Display name.
    pub name: String,
    pub value_type: ValueType,
    /// 1: a preset of the tracking plan (cannot be deleted or retyped).
    #[serde(with = "flag")]
    #[schema(value_type = u8, maximum = 1)]
    pub is_reserve: bool,
    pub proposer: String,
    /// Epoch seconds.
    pub create_time: i64,
}

impl EventDef {
    /// A custom (non-preset) event registered now.
    pub fn custom(
        id: &str,
        name: &str,
        project: Option<&str>,
        need_uuid: bool,
        proposer: &str,
    ) -> Self {
        EventDef {
            id: id.to_owned(),
            name: name.to_owned(),
            project: project.map(str::to_owned),
            is_reserve: false,
            need_uuid,
            proposer: proposer.to_owned(),
            create_time: now_secs(),
        }
    }
}

impl PropertyDef {
    /// A custom (non-preset) property registered now.
    pub fn custom(key: &str, name: &str, value_type: ValueType, proposer: &str) -> Self {
        PropertyDef {
            key: key.to_owned(),
            name: name.to_owned(),
            value_type,
            is_reserve: false,
            proposer: proposer.to_owned(),
            create_time: now_secs(),
        }
    }
}

/// The three property tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PropertyKind {
    Event,
    Identity,
    Profile,
}

impl PropertyKind {
    pub const ALL: [PropertyKind; 3] = [
        PropertyKind::Event,
        PropertyKind::Identity,
        PropertyKind::Profile,
    ];

    pub fn table(self) -> &'static str {
        match self {
            PropertyKind::Event => "event_properties",
            PropertyKind::Identity => "user_identity_properties",
            PropertyKind::Profile => "profile_properties",
        }
    }

    /// The admin API's path segment for this table.
    pub fn path(self) -> &'static str {
        match self {
            PropertyKind::Event => "event-properties",
            PropertyKind::Identity => "identity-properties",
            PropertyKind::Profile => "profile-properties",
        }
    }

    pub fn from_path(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.path() == segment)
    }
}

/// tinyint(1) columns travel as 0/1 in JSON, as in the tracking plan's tables.
mod flag {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(b),
            serde_json::Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
            serde_json::Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
            other => Err(serde::de::Error::custom(format!(
                "expected 0 or 1, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_type_accepts_its_values_and_refuses_others() {
        assert!(ValueType::String.accepts(&json!("x")));
        assert!(!ValueType::String.accepts(&json!(1)));
        assert!(ValueType::Int.accepts(&json!(-3)));
        assert!(!ValueType::Int.accepts(&json!(1.5)));
        assert!(!ValueType::Int.accepts(&json!("3")));
        assert!(ValueType::Double.accepts(&json!(1.5)) && ValueType::Double.accepts(&json!(2)));
        assert!(ValueType::Bool.accepts(&json!(false)));
        assert!(!ValueType::Bool.accepts(&json!(0)));
        for v in [json!(null), json!([]), json!({})] {
            for t in [
                ValueType::String,
                ValueType::Datetime,
                ValueType::Bool,
                ValueType::Int,
                ValueType::Double,
            ] {
                assert!(!t.accepts(&v), "{t:?} {v}");
            }
        }
    }

    #[test]
    fn datetimes_are_epoch_ms_or_the_documented_text_form() {
        let dt = ValueType::Datetime;
        assert!(dt.accepts(&json!(1434556935000_i64)));
        assert!(dt.accepts(&json!("2019-04-28 13:51:08")));
        assert!(dt.accepts(&json!("2019-04-28 13:51:08.356")));
        // The Sensors web SDK's unpadded milliseconds.
        assert!(dt.accepts(&json!("2019-04-28 13:51:08.75")));
        assert!(dt.accepts(&json!("2019-04-28 13:51:08.5")));
        for bad in [
            "2019-04-28 13:51:08.",
            "2019-04-28 13:51:08.1234",
            "2019-04-28",
            "2019-13-01 00:00:00",
            "2019-04-28T13:51:08",
            "2019-04-28 24:00:00",
            "2019-04-28 13:51:08.35x",
        ] {
            assert!(!dt.accepts(&json!(bad)), "{bad}");
        }
    }

    #[test]
    fn inference_follows_the_json_type() {
        assert_eq!(ValueType::infer(&json!("a")), Some(ValueType::String));
        assert_eq!(ValueType::infer(&json!(3)), Some(ValueType::Int));
        assert_eq!(ValueType::infer(&json!(3.5)), Some(ValueType::Double));
        assert_eq!(ValueType::infer(&json!(true)), Some(ValueType::Bool));
        assert_eq!(ValueType::infer(&json!([1])), None);
    }

    #[test]
    fn rows_serialise_with_the_plan_column_names_and_flags_as_0_1() {
        let e = EventDef {
            create_time: 1,
            ..EventDef::custom("buyCourse", "购买课程", Some("zhibo"), true, "li")
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"id": "buyCourse", "name": "购买课程", "project": "zhibo",
                              "is_reserve": 0, "need_uuid": 1, "proposer": "li", "create_time": 1})
        );
        assert_eq!(serde_json::from_value::<EventDef>(v).unwrap(), e);
    }
}
