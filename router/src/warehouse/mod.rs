//! The analytic store: a loader that moves the topics' records into tables the report queries
//! read (tracking plan §3.1, the "events" and "users" databases). It reads what the sinks wrote,
//! never the pipeline, and the pipeline does not know it exists.
//!
//! - `config`: the `[warehouse]` section;
//! - `rows`: what is taken from an output record (event, profile operation, merge);
//! - `sqlite` and `sqlite_writer`: the embedded store and how a batch is written to it (events
//!   once per id, profiles by the plan's operations, merges into a person mapping);
//! - `file_tail`: one file sink topic read from its saved position, whole lines only;
//! - `loader`: the loop over the file sources;
//! - `clickhouse`: the production store, and `kafka_loader` the consumer group that fills it.
pub mod clickhouse;
pub mod config;
pub mod file_tail;
pub mod kafka_loader;
pub mod loader;
pub mod rows;
pub mod sqlite;
pub mod sqlite_writer;

pub use config::{Store, WarehouseConfig};

use clickhouse::writer::ClickHouseWarehouse;
use file_tail::FileSource;
use kafka_loader::KafkaLoader;
use loader::Loader;
use sqlite_writer::SqliteWarehouse;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The loader for the file sink's `dir`: the track topic's and the profile topic's files (the
/// dead-letter topic is never loaded as events).
pub async fn file_loader(
    config: &WarehouseConfig,
    dir: &Path,
    track_topic: &str,
    profile_topic: &str,
) -> Result<Loader, sqlite::OpenError> {
    let pool = sqlite::open(&config.url).await?;
    let source = |topic: &str| FileSource {
        name: topic.to_owned(),
        path: dir.join(format!("{topic}.jsonl")),
    };
    Ok(Loader {
        warehouse: SqliteWarehouse::new(pool),
        sources: vec![source(track_topic), source(profile_topic)],
        poll: Duration::from_millis(config.poll_ms),
        batch_bytes: config.batch_bytes,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaLoaderError {
    #[error("opening the clickhouse warehouse: {0}")]
    ClickHouse(#[from] clickhouse::ClickHouseError),
    #[error("creating the kafka consumer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// The loader that consumes `topics` from `brokers` (in the configured consumer group) into the
/// ClickHouse warehouse at `config.url`; `properties` are the sink's extra client settings.
pub fn kafka_loader(
    config: &WarehouseConfig,
    brokers: &str,
    properties: &BTreeMap<String, String>,
    topics: &[&str],
) -> Result<KafkaLoader, KafkaLoaderError> {
    // Not migrated here: a ClickHouse that is down at start-up is waited for by the loader,
    // not a reason for `slog serve` to refuse to start.
    let ch = clickhouse::ClickHouse::new(&config.url)?;
    let consumer = kafka_loader::consumer_config(brokers, &config.group_id, properties).create()?;
    Ok(KafkaLoader {
        consumer,
        warehouse: ClickHouseWarehouse::new(ch),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        linger: Duration::from_millis(config.poll_ms),
        batch_bytes: config.batch_bytes,
    })
}
