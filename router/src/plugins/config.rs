//! The `[plugins]` section of slog.toml: where the components and plugins.toml are, whether they
//! are watched, and the sandbox's limits (deadlines, memory, instances). Which plugins run is
//! plugins.toml's business (`manifest`).
use super::sessions::SessionStoreKind;
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[plugins]` section: where the plugins are and the sandbox's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory holding the `.wasm` files that plugins.toml names.
    pub dir: PathBuf,
    /// Which plugins run, in which order, for what, with which settings. Missing: no plugins.
    pub config: PathBuf,
    /// Reload when a file in `dir` or the plugins.toml changes.
    pub watch: bool,
    /// Changes closer together than this are one reload.
    pub debounce_ms: u64,
    /// Longest a plugin call may run before it is interrupted (the event then follows the policy).
    pub call_timeout_ms: u64,
    /// Longest a new instance may take to start and run `init` (instantiation is slower than a
    /// hook call, and a busy machine must not turn a good plugin into a failed reload).
    pub init_timeout_ms: u64,
    /// Granularity of the deadlines: the epoch ticker's period.
    pub epoch_tick_ms: u64,
    /// Linear memory cap of one plugin instance.
    pub max_memory_bytes: u64,
    /// Plugin instances alive at once, across every plugin and every chain still in use.
    pub max_instances: u32,
    /// Idle instances kept per plugin for reuse.
    pub idle_instances_per_plugin: usize,
    /// How often expired sessions are closed (and their summaries emitted).
    pub session_sweep_ms: u64,
    /// Where the session hook's sessions live: `auto` (Redis when one is configured, else the
    /// database), `redis`, `database` or `memory` (lost on restart, not shared).
    pub session_store: SessionStoreKind,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("plugins/dist"),
            config: PathBuf::from("config/plugins.toml"),
            watch: true,
            debounce_ms: 250,
            call_timeout_ms: 50,
            init_timeout_ms: 1000,
            epoch_tick_ms: 5,
            max_memory_bytes: 32 * 1024 * 1024,
            max_instances: 64,
            idle_instances_per_plugin: 4,
            session_sweep_ms: 1000,
            session_store: SessionStoreKind::Auto,
        }
    }
}

impl PluginsConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.call_timeout_ms == 0
            || self.epoch_tick_ms == 0
            || self.epoch_tick_ms > self.call_timeout_ms.min(self.init_timeout_ms)
        {
            return Err(InvalidConfig::new(
                "plugins.epoch_tick_ms must be between 1 and plugins.call_timeout_ms and init_timeout_ms",
            ));
        }
        if self.max_instances == 0
            || self.max_memory_bytes < 64 * 1024
            || self.session_sweep_ms == 0
        {
            return Err(InvalidConfig::new(
                "plugins.max_instances and plugins.session_sweep_ms must be >= 1, plugins.max_memory_bytes >= 65536",
            ));
        }
        Ok(())
    }
}
