//! The `[registry]` section of slog.toml: where the metadata registry lives, how it is cached
//! and refreshed, and the policy for names it does not know.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;

/// What happens to an event that uses an unregistered event name or property key.
/// A value of the wrong type is refused under every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Refuse the event (400 naming each unknown key); it goes to the dead-letter topic.
    #[default]
    Strict,
    /// Accept it, with the unknown keys as warnings in the answer and in metrics.
    Lenient,
    /// Accept it and register the unknown names with their inferred type (proposer "auto").
    Register,
}

/// The `[registry]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// `sqlite://data/registry.db?mode=rwc` (embedded) or `mysql://user:pass@host:3306/db`.
    pub url: String,
    /// Optional Redis cache of registry snapshots, e.g. `redis://127.0.0.1:6379/0`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key slog writes (several deployments can share one Redis).
    pub redis_key_prefix: String,
    /// How often each instance checks the registry version (changes apply within this).
    pub refresh_interval_ms: u64,
    /// Apply pending migrations (tables + the tracking plan's preset rows) at start-up.
    pub auto_migrate: bool,
    /// Policy for projects not listed in `project_policies`.
    pub default_policy: Policy,
    /// Per-project policies, e.g. `{ zhibo = "lenient" }`.
    pub project_policies: std::collections::BTreeMap<String, Policy>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: "sqlite://data/registry.db?mode=rwc".into(),
            redis_url: None,
            redis_key_prefix: "slog:".into(),
            refresh_interval_ms: 500,
            auto_migrate: true,
            default_policy: Policy::Strict,
            project_policies: Default::default(),
        }
    }
}

impl RegistryConfig {
    pub fn policy_for(&self, project: &str) -> Policy {
        self.project_policies
            .get(project)
            .copied()
            .unwrap_or(self.default_policy)
    }

    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.refresh_interval_ms == 0 {
            return Err(InvalidConfig::new(
                "registry.refresh_interval_ms must be at least 1",
            ));
        }
        Ok(())
    }
}
