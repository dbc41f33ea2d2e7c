//! plugins.toml: which plugins run, in which order, for which projects and events, with which
//! settings and failure policy.
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// What a plugin failure (trap, timeout, memory overrun) does to the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Pass the event on as if the plugin were not there (counted in metrics).
    #[default]
    FailOpen,
    /// Refuse the event: 400 `plugin_failed`, dead-lettered with the reason.
    FailClosed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginsFile {
    #[serde(default)]
    plugin: Vec<PluginEntry>,
}

/// One `[[plugin]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub name: String,
    /// The .wasm file, relative to `plugins.dir`.
    pub file: String,
    #[serde(default)]
    pub policy: FailurePolicy,
    /// Projects the plugin sees; empty: all.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Event names (eid) the plugin sees; empty: all, profile messages included.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Handed to the plugin's `init` as a JSON object.
    #[serde(default)]
    pub settings: toml::Table,
}

fn yes() -> bool {
    true
}

impl PluginEntry {
    /// Whether the plugin sees an event of `project` named `eid`.
    pub fn selects(&self, project: &str, eid: Option<&str>) -> bool {
        (self.projects.is_empty() || self.projects.iter().any(|p| p == project))
            && (self.events.is_empty()
                || eid.is_some_and(|eid| self.events.iter().any(|e| e == eid)))
    }

    /// The settings as the JSON object text `init` receives.
    pub fn settings_json(&self) -> String {
        serde_json::to_string(&self.settings).unwrap_or_else(|_| "{}".into())
    }
}

/// Reads plugins.toml; a missing file means no plugins. Returns the enabled entries in order.
pub fn load(path: &Path) -> Result<Vec<PluginEntry>, ManifestError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ManifestError::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    parse(&text).map_err(|message| ManifestError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

/// Longest plugin name.
pub const MAX_NAME_CHARS: usize = 64;

fn parse(text: &str) -> Result<Vec<PluginEntry>, String> {
    let file: PluginsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut names = HashSet::new();
    for entry in &file.plugin {
        if entry.name.trim().is_empty() || entry.file.trim().is_empty() {
            return Err("every [[plugin]] needs a name and a file".into());
        }
        if !names.insert(entry.name.as_str()) {
            return Err(format!("plugin name `{}` is used twice", entry.name));
        }
        // The name keys the plugin's sessions in the shared session store (a 64-character column).
        if entry.name.chars().count() > MAX_NAME_CHARS || entry.name.chars().any(char::is_control) {
            return Err(format!(
                "plugin name `{}` must be at most {MAX_NAME_CHARS} characters, without control characters",
                entry.name.escape_debug()
            ));
        }
    }
    Ok(file.plugin.into_iter().filter(|e| e.enabled).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_order_defaults_and_settings() {
        let entries = parse(
            r#"
            [[plugin]]
            name = "a"
            file = "a.wasm"
            [plugin.settings]
            timeout_secs = 5

            [[plugin]]
            name = "off"
            file = "off.wasm"
            enabled = false

            [[plugin]]
            name = "b"
            file = "b.wasm"
            policy = "fail_closed"
            projects = ["zhibo"]
            events = ["buyCourse"]
            "#,
        )
        .unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(entries[0].policy, FailurePolicy::FailOpen);
        assert_eq!(entries[0].settings_json(), r#"{"timeout_secs":5}"#);
        assert!(entries[0].selects("any", None));
        assert!(entries[1].selects("zhibo", Some("buyCourse")));
        assert!(!entries[1].selects("zhibo", Some("pageview")));
        assert!(!entries[1].selects("other", Some("buyCourse")));
    }

    #[test]
    fn duplicates_typos_and_a_missing_file_are_told_apart() {
        let twice = "[[plugin]]\nname='a'\nfile='a.wasm'\n[[plugin]]\nname='a'\nfile='b.wasm'\n";
        assert!(parse(twice).unwrap_err().contains("`a` is used twice"));
        let typo = "[[plugin]]\nname='a'\nfile='a.wasm'\npolicy='fail_shut'\n";
        assert!(parse(typo).unwrap_err().contains("fail_shut"));
        let missing = Path::new("/nonexistent/plugins.toml");
        assert!(load(missing).unwrap().is_empty());
    }
}
