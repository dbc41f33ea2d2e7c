//! The `[sink]` section of slog.toml: which sink takes the records, and the file and Kafka
//! sinks' settings.
pub use super::spool::SpoolConfig;
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    #[default]
    File,
    Kafka,
    Stdout,
}

/// The `[sink]` section.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub file: FileSinkConfig,
    pub kafka: KafkaSinkConfig,
    /// The disk spool in front of the Kafka sink.
    pub spool: SpoolConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSinkConfig {
    /// Directory holding one `<topic>.jsonl` per topic; relative paths are from the working directory.
    pub dir: PathBuf,
    /// fsync after each write group. Off: a 200 survives a slog crash but not a power cut.
    pub fsync: bool,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            dir: PathBuf::from("data"),
            fsync: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// How long the producer gathers records into one request (librdkafka `linger.ms`).
    pub linger_ms: u64,
    /// How long a record may wait for its acknowledgement before the request gets a 503
    /// (librdkafka `message.timeout.ms`).
    pub delivery_timeout_ms: u64,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    /// Create the routing topics at start-up when they are missing (brokers without auto-create).
    pub create_topics: bool,
    /// Partitions and replication factor for topics created by `create_topics`.
    pub topic_partitions: i32,
    pub topic_replication: i32,
    /// Seconds put in `Retry-After` when the broker cannot take an event.
    pub retry_after_secs: u64,
    /// Extra librdkafka properties, passed through as is (e.g. security.protocol, sasl.*).
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        KafkaSinkConfig {
            brokers: "127.0.0.1:9092".into(),
            linger_ms: 5,
            delivery_timeout_ms: 5000,
            compression: "none".into(),
            create_topics: false,
            topic_partitions: 3,
            topic_replication: 1,
            retry_after_secs: 5,
            properties: Default::default(),
        }
    }
}

impl SinkConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let k = &self.kafka;
        if self.kind == SinkKind::Kafka && k.brokers.trim().is_empty() {
            return Err(InvalidConfig::new(
                "sink.kafka.brokers must name at least one broker",
            ));
        }
        if k.topic_partitions < 1 || k.topic_replication < 1 {
            return Err(InvalidConfig::new(
                "sink.kafka.topic_partitions and topic_replication must be >= 1",
            ));
        }
        self.spool.validate()
    }
}
