//! Reading admin request bodies field by field, so every error names its field and rule.
use crate::error::{Code, Rejection};
use serde_json::{Map, Value};

pub struct Body(Map<String, Value>);

impl Body {
    /// Parses a JSON object, refusing fields outside `allowed`.
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Body, Rejection> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            Rejection::request(
                Code::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(map) = value else {
            return Err(Rejection::request(
                Code::InvalidType,
                "the body must be a JSON object",
            ));
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Rejection::field(
                Code::UnknownField,
                k,
                format!("unknown field; allowed: {}", allowed.join(", ")),
            ));
        }
        Ok(Body(map))
    }

    /// A required string of 1..=`max` characters.
    pub fn text(&self, field: &str, max: usize) -> Result<String, Rejection> {
        self.optional_text(field, max)?.ok_or_else(|| {
            Rejection::field(Code::MissingField, field, format!("{field} is required"))
        })
    }

    /// An optional string (absent or null is `None`) of 1..=`max` characters.
    pub fn optional_text(&self, field: &str, max: usize) -> Result<Option<String>, Rejection> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(Rejection::field(
                Code::InvalidValue,
                field,
                format!("{field} must not be empty"),
            )),
            Some(Value::String(s)) if s.chars().count() > max => Err(Rejection::field(
                Code::InvalidValue,
                field,
                format!("{field} must be at most {max} characters"),
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Rejection::field(
                Code::InvalidType,
                field,
                format!("{field} must be a string"),
            )),
        }
    }

    /// A 0/1 (or boolean) flag, `default` when absent.
    pub fn flag(&self, field: &str, default: bool) -> Result<bool, Rejection> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) if v.as_u64() == Some(0) => Ok(false),
            Some(v) if v.as_u64() == Some(1) => Ok(true),
            Some(_) => Err(Rejection::field(
                Code::InvalidValue,
                field,
                format!("{field} must be 0 or 1"),
            )),
        }
    }

    /// A required integer.
    pub fn integer(&self, field: &str) -> Result<i64, Rejection> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(Rejection::field(
                Code::MissingField,
                field,
                format!("{field} is required"),
            )),
            Some(v) => v.as_i64().ok_or_else(|| {
                Rejection::field(
                    Code::InvalidType,
                    field,
                    format!("{field} must be an integer"),
                )
            }),
        }
    }
}
