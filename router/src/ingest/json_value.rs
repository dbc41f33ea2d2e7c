//! JSON text into `serde_json::Value`, with every object built at its final size.
//!
//! `serde_json::from_slice::<Value>` inserts an object's entries one by one into an `IndexMap`
//! that starts empty (JSON gives no length up front), so a 20-property `ps` is rehashed and
//! regrown four times. Collecting the entries into a vector first and building the map from it
//! allocates the map once, at its final size; under load that growth was ~5% of slog's CPU
//! (`hashbrown::RawTable::reserve_rehash` and `RawVec::finish_grow` under
//! `Value::deserialize` in `perf record -e cpu-clock`). The result is the same `Value`: same
//! numbers, same key order, and a repeated key keeps its first position with the last value, as
//! `serde_json::Map::insert` does. Depth limits are the deserializer's (128 levels).
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Entries an object's collecting vector starts with: a typical `ps` fits without regrowth.
const EXPECTED_ENTRIES: usize = 24;

/// Parses `bytes` (one JSON text) into a [`Value`].
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = SizedValue.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Deserializes one JSON value with objects built at their final size.
struct SizedValue;

impl<'de> DeserializeSeed<'de> for SizedValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(SizedValue)
    }
}

impl<'de> Visitor<'de> for SizedValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(SizedValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(EXPECTED_ENTRIES);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(SizedValue)?;
            entries.push((key, value));
        }
        // `FromIterator` sizes the map from the vector's exact length, then inserts in order.
        Ok(Value::Object(entries.into_iter().collect::<Map<_, _>>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same `Value` as serde_json's own parser, for every kind of JSON value.
    #[test]
    fn parses_exactly_what_serde_json_parses() {
        let texts = [
            r#"{"a":1,"b":-2,"c":1.5,"d":"x","e":null,"f":true,"g":[1,{"h":[]}],"i":{}}"#,
            r#"[{"stype":100,"ps":{"z":1,"a":2,"m":{"k":"v"}},"uidentity":{"deviceUUID":"d"}}]"#,
            r#"{"dup":1,"other":2,"dup":3}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"exp":1e300,"esc":"\u00e9\n\"q\""}"#,
            r#"  "just a string"  "#,
            "[]",
            "0",
        ];
        for text in texts {
            let ours = from_slice(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            // Same key order too (`==` on maps ignores order).
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
    }

    #[test]
    fn malformed_text_and_trailing_garbage_are_errors() {
        for text in [r#"{"a":1"#, r#"{"a":1} x"#, "", r#"{"a":}"#, "[1,]"] {
            assert!(from_slice(text.as_bytes()).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn nesting_beyond_the_depth_limit_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = from_slice(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }
}
