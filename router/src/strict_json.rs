//! JSON as slog accepts it: serde_json's grammar, minus what two readers could read differently.
//!
//! `{"stype":"x","stype":100}` is valid JSON, and serde_json keeps the last value. A validator
//! and a consumer with another parser may keep the first, so one record would mean two things:
//! a duplicate key is refused. A string (value or key) longer than a configurable cap is refused
//! too, naming where it is, so one 900 KB property cannot ride into every topic and table.
//!
//! The parse is serde_json's own (same errors with line and column, same depth limit); the checks
//! run while the tree is built, and the path of a failure (`[1].ps.url`) is only assembled on the
//! way out of a failure, so an accepted body pays one map lookup per key and nothing more.
use crate::error::Code;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt::{self, Write};

/// Why a body was not accepted as strict JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    /// Not JSON at all: serde_json's message, with line and column.
    #[error("{0}")]
    Syntax(String),
    /// An object names the same key twice; `path` is the repeated key's path.
    #[error("the key {path} appears more than once in its object")]
    DuplicateKey { path: String },
    /// A key serde_json gives a meaning of its own (its raw-value marker): a record holding it
    /// could not be read back by slog's loader or any serde_json consumer.
    #[error("the key {path} is reserved by the JSON library")]
    ReservedKey { path: String },
    /// A string value, or a key, is longer than the cap; `path` is where it is.
    #[error("{what} at {path} is {len} bytes long, more than the {limit} allowed")]
    StringTooLong {
        path: String,
        what: &'static str,
        len: usize,
        limit: usize,
    },
}

impl StrictJsonError {
    /// The error code a refusal of this kind carries.
    pub fn code(&self) -> Code {
        match self {
            StrictJsonError::Syntax(_) => Code::InvalidJson,
            StrictJsonError::DuplicateKey { .. } => Code::DuplicateKey,
            StrictJsonError::ReservedKey { .. } => Code::InvalidValue,
            StrictJsonError::StringTooLong { .. } => Code::StringTooLong,
        }
    }

    /// The path of the offending key or value (`[1].ps.url`, `stype`; empty for the top level).
    pub fn path(&self) -> &str {
        match self {
            StrictJsonError::Syntax(_) => "",
            StrictJsonError::DuplicateKey { path }
            | StrictJsonError::ReservedKey { path }
            | StrictJsonError::StringTooLong { path, .. } => path,
        }
    }
}

/// Parses `json` into a value, refusing duplicate keys and strings longer than `max_string_bytes`.
pub fn parse(json: &[u8], max_string_bytes: usize) -> Result<Value, StrictJsonError> {
    let checks = Checks {
        max_string_bytes,
        failure: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed = ValueSeed(&checks)
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match (parsed, checks.failure.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(failure)) => Err(failure.into_error(max_string_bytes)),
        (Err(e), None) => Err(StrictJsonError::Syntax(e.to_string())),
    }
}

/// Joins a path under a prefix: `data_list` + `[2].properties.x` → `data_list[2].properties.x`.
pub fn path_under(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty() || path.starts_with('[')) {
        (true, _) => path.to_owned(),
        (false, true) => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// The key by which serde_json (with its `raw_value` feature, which slog uses) marks a raw value:
/// serde_json itself refuses an object that holds it with anything but a string.
const RAW_VALUE_MARKER: &str = "$serde_json::private::RawValue";

struct Checks {
    max_string_bytes: usize,
    /// The first failure; set once, then every level of the tree adds its segment on the way out.
    failure: RefCell<Option<Failure>>,
}

struct Failure {
    kind: FailureKind,
    /// Innermost segment first (pushed while unwinding).
    segments: Vec<Segment>,
}

enum FailureKind {
    DuplicateKey,
    ReservedKey,
    StringTooLong { what: &'static str, len: usize },
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Checks {
    fn fail<E: de::Error>(&self, kind: FailureKind, segments: Vec<Segment>) -> E {
        *self.failure.borrow_mut() = Some(Failure { kind, segments });
        E::custom("refused by slog's JSON rules")
    }

    fn string<E: de::Error>(&self, s: &str, what: &'static str) -> Result<(), E> {
        if s.len() > self.max_string_bytes {
            let kind = FailureKind::StringTooLong { what, len: s.len() };
            return Err(self.fail(kind, Vec::new()));
        }
        Ok(())
    }

    /// Adds the segment of the level being left to a failure below it.
    fn unwinding(&self, segment: impl FnOnce() -> Segment) {
        if let Some(failure) = self.failure.borrow_mut().as_mut() {
            failure.segments.push(segment());
        }
    }
}

impl Failure {
    fn into_error(self, limit: usize) -> StrictJsonError {
        let mut path = String::new();
        for segment in self.segments.iter().rev() {
            match segment {
                Segment::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
                Segment::Key(k) if path.is_empty() => path.push_str(k),
                Segment::Key(k) => {
                    path.push('.');
                    path.push_str(k);
                }
            }
        }
        match self.kind {
            FailureKind::DuplicateKey => StrictJsonError::DuplicateKey { path },
            FailureKind::ReservedKey => StrictJsonError::ReservedKey { path },
            FailureKind::StringTooLong { what, len } => StrictJsonError::StringTooLong {
                path,
                what,
                len,
                limit,
            },
        }
    }
}

struct ValueSeed<'c>(&'c Checks);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.string(v, "the string")?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.0.string(&v, "the string")?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(ValueSeed(self.0)) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    let index = items.len();
                    self.0.unwinding(|| Segment::Index(index));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key_seed(KeySeed(self.0))? {
            if key == RAW_VALUE_MARKER {
                return Err(self
                    .0
                    .fail(FailureKind::ReservedKey, vec![Segment::Key(key)]));
            }
            if map.contains_key(&key) {
                return Err(self
                    .0
                    .fail(FailureKind::DuplicateKey, vec![Segment::Key(key)]));
            }
            match access.next_value_seed(ValueSeed(self.0)) {
                Ok(value) => {
                    map.insert(key, value);
                }
                Err(e) => {
                    self.0.unwinding(|| Segment::Key(key));
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// An object key: a string under the same cap as values.
struct KeySeed<'c>(&'c Checks);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.0.string(v, "a key")?;
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.0.string(&v, "a key")?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 16;

    fn refused(json: &str) -> StrictJsonError {
        parse(json.as_bytes(), CAP).unwrap_err()
    }

    #[test]
    fn accepted_bodies_parse_exactly_as_serde_json_does() {
        let body = r#"[{"stype":100,"eid":"课程","ps":{"n":-1.5e3,"big":18446744073709551615,
            "neg":-9223372036854775808,"esc":"a\"\\\u00e9\ud83d\ude00","null":null,"t":true,
            "list":[1,[2,{"x":[]}],{}]}}]"#;
        let strict = parse(body.as_bytes(), 1 << 20).unwrap();
        let plain: Value = serde_json::from_str(body).unwrap();
        assert_eq!(strict, plain);
        assert_eq!(
            serde_json::to_string(&strict).unwrap(),
            serde_json::to_string(&plain).unwrap(),
            "same key order, same numbers"
        );
    }

    #[test]
    fn a_duplicate_key_is_refused_with_its_path() {
        assert_eq!(
            refused(r#"{"stype":"x","stype":100}"#),
            StrictJsonError::DuplicateKey {
                path: "stype".into()
            }
        );
        assert_eq!(
            refused(r#"[{"a":1},{"ps":{"u":1,"v":2,"u":3}}]"#).path(),
            "[1].ps.u"
        );
        assert_eq!(refused(r#"{"a":[0,0,{"k":1,"k":1}]}"#).path(), "a[2].k");
    }

    #[test]
    fn keys_that_differ_only_in_escapes_are_the_same_key() {
        assert_eq!(refused(r#"{"eid":1,"\u0065id":2}"#).path(), "eid");
    }

    /// Found by the fuzzer (as a question for its oracle, not a bug): serde_json keeps the last
    /// of a repeated key, so the long first value is gone from its tree; slog refuses it anyway.
    #[test]
    fn a_long_value_overwritten_by_a_repeated_key_is_still_refused() {
        let body = format!(r#"{{"stype":"{}","stype":100}}"#, "s".repeat(CAP + 1));
        assert!(matches!(
            refused(&body),
            StrictJsonError::StringTooLong { .. }
        ));
        assert!(matches!(
            parse(body.as_bytes(), usize::MAX),
            Err(StrictJsonError::DuplicateKey { .. })
        ));
    }

    /// Found by the fuzzer: serde_json reads this key as its raw-value marker and refuses the
    /// object, so an event holding it would be accepted and then be unreadable downstream.
    #[test]
    fn serde_jsons_raw_value_marker_is_a_reserved_key() {
        let body = r#"{"ps":{"$serde_json::private::RawValue":0}}"#;
        assert!(serde_json::from_str::<Value>(body).is_err());
        assert_eq!(
            parse(body.as_bytes(), 1024).unwrap_err(),
            StrictJsonError::ReservedKey {
                path: "ps.$serde_json::private::RawValue".into()
            }
        );
    }

    #[test]
    fn the_same_key_in_sibling_objects_is_fine() {
        parse(br#"[{"a":1},{"a":2},{"x":{"a":3},"a":4}]"#, CAP).unwrap();
    }

    #[test]
    fn an_overlong_string_or_key_is_refused_with_its_path() {
        let long = "x".repeat(CAP + 1);
        match refused(&format!(r#"{{"ps":{{"url":"{long}"}}}}"#)) {
            StrictJsonError::StringTooLong {
                path, len, limit, ..
            } => assert_eq!((path.as_str(), len, limit), ("ps.url", CAP + 1, CAP)),
            other => panic!("{other:?}"),
        }
        assert_eq!(refused(&format!(r#"[1,"{long}"]"#)).path(), "[1]");
        let key = refused(&format!(r#"{{"ps":{{"{long}":1}}}}"#));
        assert!(key.to_string().contains("a key at ps"), "{key}");
        // The cap counts bytes after unescaping: 6 escaped bytes are one byte.
        parse(format!(r#"["{}"]"#, r"\u0041".repeat(CAP)).as_bytes(), CAP).unwrap();
        // Multi-byte characters count as their UTF-8 bytes.
        assert!(parse("[\"课课课课课课\"]".as_bytes(), CAP).is_err());
    }

    #[test]
    fn syntax_errors_keep_serde_json_positions() {
        let e = refused("{\"a\": }");
        assert!(matches!(e, StrictJsonError::Syntax(_)));
        assert!(e.to_string().contains("line 1 column 7"), "{e}");
        assert!(matches!(refused("[1] x"), StrictJsonError::Syntax(_)));
        assert!(matches!(refused(""), StrictJsonError::Syntax(_)));
    }

    #[test]
    fn deep_nesting_stops_at_the_recursion_limit_instead_of_the_stack() {
        let deep = "[".repeat(100_000);
        assert!(matches!(refused(&deep), StrictJsonError::Syntax(_)));
    }

    #[test]
    fn paths_join_under_a_prefix() {
        assert_eq!(
            path_under("data_list", "[2].properties.x"),
            "data_list[2].properties.x"
        );
        assert_eq!(path_under("data", "properties.x"), "data.properties.x");
        assert_eq!(path_under("data", ""), "data");
        assert_eq!(path_under("", "ps.x"), "ps.x");
    }
}
