//! Helpers for the plugin tests: the built example plugins and a slog with its own plugins
//! directory and plugins.toml that a test can rewrite while slog runs.
use crate::harness::Slog;
use std::path::{Path, PathBuf};

/// Where scripts/build-plugins.sh put the .wasm files (`SLOG_PLUGINS_DIST` overrides).
pub fn dist() -> PathBuf {
    let dir = std::env::var("SLOG_PLUGINS_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"));
    assert!(
        dir.join("noop.wasm").exists(),
        "{} has no plugins: run scripts/build-plugins.sh first",
        dir.display()
    );
    dir
}

/// A slog whose plugins directory and plugins.toml live in a temp dir of the test's own.
pub struct PluginSlog {
    pub slog: Slog,
    pub dir: tempfile::TempDir,
}

pub const ADMIN_TOKEN: &str = "plugin-admin";

/// plugins.toml of the runaway plugins: `spin` loops forever (fail-open), `boom` traps
/// (fail-closed, sparing pageviews), `hog` grows its memory past the cap (fail-closed).
pub const ISOLATION_PLUGINS: &str = r#"
[[plugin]]
name = "spin"
file = "loop_forever.wasm"
events = ["spin"]

[[plugin]]
name = "boom"
file = "trap.wasm"
policy = "fail_closed"
events = ["boom", "pageview"]
[plugin.settings]
spare = ["pageview"]

[[plugin]]
name = "hog"
file = "memory_hog.wasm"
policy = "fail_closed"
events = ["hog"]
"#;

impl PluginSlog {
    /// Copies `wasm` files from the dist directory, writes `plugins_toml`, and starts slog with
    /// the file sink, the lenient policy, an admin token, a 1 s call deadline unless `extra` sets
    /// one, and `extra` appended to `[plugins]`.
    pub fn start(wasm: &[&str], plugins_toml: &str, extra: &str) -> PluginSlog {
        let dir = tempfile::tempdir().expect("temp dir");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("plugins dir");
        for name in wasm {
            std::fs::copy(dist().join(name), plugins.join(name)).expect("copy plugin");
        }
        std::fs::write(dir.path().join("plugins.toml"), plugins_toml).expect("plugins.toml");
        // The deadline is wall time: on a busy CI machine a preempted call can pass the default
        // 50 ms, which would turn a test about something else into a deadline test.
        let deadline = if extra.contains("call_timeout_ms") {
            ""
        } else {
            "call_timeout_ms = 1000"
        };
        let config = format!(
            r#"
[registry]
default_policy = "lenient"
[sink]
kind = "file"
[admin]
token = "{ADMIN_TOKEN}"
[plugins]
dir = "{}"
config = "{}"
debounce_ms = 100
{deadline}
{extra}
"#,
            plugins.display(),
            dir.path().join("plugins.toml").display()
        );
        PluginSlog {
            slog: Slog::start(&config),
            dir,
        }
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Replaces plugins.toml the way an editor's "save" or a deploy would: write aside, rename.
    pub fn write_plugins_toml(&self, text: &str) {
        let tmp = self.dir.path().join("plugins.toml.tmp");
        std::fs::write(&tmp, text).expect("write plugins.toml");
        std::fs::rename(&tmp, self.dir.path().join("plugins.toml")).expect("rename");
    }
}
