//! The `[warehouse]` section of slog.toml: whether the topics are loaded into the analytic
//! store, which store, and how the loader paces itself.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;

/// The `[warehouse]` section.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarehouseConfig {
    /// Run the loader inside `slog serve`: with the file sink and a SQLite store it tails the
    /// sink's files; with the Kafka sink and a ClickHouse store it joins the consumer group.
    /// `slog load` runs it on its own whatever this says.
    pub load: bool,
    /// The store: `sqlite://data/warehouse.db` (embedded), or ClickHouse's HTTP interface with
    /// the database as the path, `http://[user:password@]host:8123/slog`.
    pub url: String,
    /// How often the loader looks for new records once it has caught up; with Kafka, also how
    /// long a batch is collected for.
    pub poll_ms: u64,
    /// Most bytes of records loaded in one batch.
    pub batch_bytes: usize,
    /// The Kafka consumer group the ClickHouse loaders share (they split the partitions).
    pub group_id: String,
}

impl std::fmt::Debug for WarehouseConfig {
    // `slog check-config` prints the config: never the store's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseConfig")
            .field("load", &self.load)
            .field("url", &super::clickhouse::client::redacted(&self.url))
            .field("poll_ms", &self.poll_ms)
            .field("batch_bytes", &self.batch_bytes)
            .field("group_id", &self.group_id)
            .finish()
    }
}

/// Which analytic store `url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    ClickHouse,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            load: true,
            url: "sqlite://data/warehouse.db".into(),
            poll_ms: 500,
            batch_bytes: 4 * 1024 * 1024,
            group_id: "slog-warehouse".into(),
        }
    }
}

impl WarehouseConfig {
    pub fn store(&self) -> Store {
        if self.url.starts_with("http://") || self.url.starts_with("https://") {
            Store::ClickHouse
        } else {
            Store::Sqlite
        }
    }

    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !self.url.starts_with("sqlite:") && self.store() != Store::ClickHouse {
            return Err(InvalidConfig(format!(
                "warehouse.url must be a sqlite: URL or a ClickHouse http(s):// URL, got {:?}",
                super::clickhouse::client::redacted(&self.url)
            )));
        }
        if self.store() == Store::ClickHouse {
            super::clickhouse::ClickHouse::new(&self.url)
                .map_err(|e| InvalidConfig(format!("warehouse.url: {e}")))?;
        }
        if self.poll_ms == 0 || self.batch_bytes < 1024 {
            return Err(InvalidConfig::new(
                "warehouse.poll_ms must be at least 1 and warehouse.batch_bytes at least 1024",
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(InvalidConfig::new("warehouse.group_id must not be empty"));
        }
        Ok(())
    }
}
