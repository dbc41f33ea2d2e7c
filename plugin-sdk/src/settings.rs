//! A plugin's settings: the `[plugin.settings]` table of its entry in plugins.toml.
use serde_json::{Map, Value};

/// The settings handed to `init`, with typed getters that say what was wrong.
#[derive(Debug, Clone, Default)]
pub struct Settings(Map<String, Value>);

impl Settings {
    /// Settings from their JSON text (what slog sends); not an object is an error.
    pub fn parse(json: &str) -> Result<Self, String> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Ok(Settings(map)),
            Ok(_) => Err("settings must be a table".into()),
            Err(e) => Err(format!("settings are not valid JSON: {e}")),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A non-negative integer setting, `default` when absent; another type is an error.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| format!("setting `{key}` must be a non-negative integer, got {v}")),
        }
    }

    /// A string setting, `default` when absent; another type is an error.
    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str, String> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(format!("setting `{key}` must be a string, got {v}")),
        }
    }

    /// A list-of-strings setting, `default` when absent.
    pub fn strings_or(&self, key: &str, default: &[&str]) -> Result<Vec<String>, String> {
        match self.get(key) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("setting `{key}` must list strings, got {v}"))
                })
                .collect(),
            Some(v) => Err(format!(
                "setting `{key}` must be a list of strings, got {v}"
            )),
        }
    }

    /// Refuses keys the plugin does not know, so a typo in plugins.toml is caught at reload.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "unknown setting `{k}` (known: {})",
                known.join(", ")
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_default_and_complain() {
        let s = Settings::parse(r#"{"timeout_secs": 60, "name": 3}"#).unwrap();
        assert_eq!(s.u64_or("timeout_secs", 1800), Ok(60));
        assert_eq!(s.u64_or("other", 7), Ok(7));
        assert!(s.str_or("name", "x").unwrap_err().contains("`name`"));
        assert!(s.only(&["timeout_secs"]).unwrap_err().contains("`name`"));
        assert!(Settings::parse("[1]").is_err());
    }
}
