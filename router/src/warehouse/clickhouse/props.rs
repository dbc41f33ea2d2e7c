//! Properties as ClickHouse stores them: three parallel arrays (keys, each value as JSON text,
//! each value as text), which every ClickHouse release can index by name (`indexOf`), where a
//! JSON column or `JSONExtract` needs a newer server than 18.16.
use serde_json::{Map, Value};

/// The arrays of one properties object, in its key order.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct PropArrays {
    pub prop_keys: Vec<String>,
    /// `"超级外教"`, `199`, `true`, `["a","b"]`: what the SQLite store's `->` gives, so both
    /// stores return the same group keys.
    pub prop_json: Vec<String>,
    /// A string's characters; any other value its JSON text. What `equal` and `contain` compare.
    pub prop_text: Vec<String>,
}

impl PropArrays {
    pub fn of_map(props: &Map<String, Value>) -> Self {
        let mut out = PropArrays {
            prop_keys: Vec::with_capacity(props.len()),
            prop_json: Vec::with_capacity(props.len()),
            prop_text: Vec::with_capacity(props.len()),
        };
        for (key, value) in props {
            let json = value.to_string();
            out.prop_keys.push(key.clone());
            out.prop_text.push(match value {
                Value::String(s) => s.clone(),
                _ => json.clone(),
            });
            out.prop_json.push(json);
        }
        out
    }

    /// From an object's JSON text; text that is not an object gives no properties.
    pub fn of_text(props: &str) -> Self {
        match serde_json::from_str::<Map<String, Value>>(props) {
            Ok(map) => Self::of_map(&map),
            Err(_) => PropArrays::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_is_kept_as_json_and_as_text() {
        let arrays = PropArrays::of_text(
            r#"{"course":"超级外教","money":199,"vip":true,"tags":["a"],"x":null}"#,
        );
        assert_eq!(arrays.prop_keys, ["course", "money", "vip", "tags", "x"]);
        assert_eq!(
            arrays.prop_json,
            ["\"超级外教\"", "199", "true", "[\"a\"]", "null"]
        );
        assert_eq!(
            arrays.prop_text,
            ["超级外教", "199", "true", "[\"a\"]", "null"]
        );
        assert_eq!(PropArrays::of_text("[1]"), PropArrays::default());
    }
}
