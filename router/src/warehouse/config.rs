//! The `[warehouse]` section of slog.toml: whether the topics are loaded into the analytic
//! store, which store, and how the loader paces itself.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;

/// The `[warehouse]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarehouseConfig {
    /// Run the loader inside `slog serve` (with the file sink: it tails the sink's files).
    /// `slog load` runs it on its own whatever this says.
    pub load: bool,
    /// The store: `sqlite://data/warehouse.db` (embedded).
    pub url: String,
    /// How often the loader looks for new records once it has caught up.
    pub poll_ms: u64,
    /// Most bytes of records loaded in one transaction.
    pub batch_bytes: usize,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            load: true,
            url: "sqlite://data/warehouse.db".into(),
            poll_ms: 500,
            batch_bytes: 4 * 1024 * 1024,
        }
    }
}

impl WarehouseConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !self.url.starts_with("sqlite:") {
            return Err(InvalidConfig(format!(
                "warehouse.url must be a sqlite: URL, got {:?}",
                self.url
            )));
        }
        if self.poll_ms == 0 || self.batch_bytes < 1024 {
            return Err(InvalidConfig::new(
                "warehouse.poll_ms must be at least 1 and warehouse.batch_bytes at least 1024",
            ));
        }
        Ok(())
    }
}
