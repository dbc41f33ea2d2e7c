//! Sinks: where routed records go. A sink answers only once the records are durable, because the
//! HTTP 200 an SDK receives is a promise that the event will not be lost.
//!
//! - [`kafka::KafkaSink`]: production; acks=all, idempotent producer, waits for delivery reports;
//!   behind [`spool::SpooledSink`] (on by default) what the brokers cannot take in time is synced
//!   to a local spool and replayed.
//! - [`file::FileSink`]: the embedded default; `<dir>/<topic>.jsonl`, written before the answer.
//! - [`stdout::StdoutSink`]: one JSON line per record on standard output, for pipes and debugging.
//! - [`memory::MemorySink`]: records in a list, for in-process tests and embedding.
pub mod config;
pub mod file;
pub mod kafka;
pub mod kafka_delivery;
mod line_writer;
pub mod memory;
pub mod spool;
pub mod stdout;
mod torn_tail;

use async_trait::async_trait;
pub use config::{SinkConfig, SinkKind};
use std::sync::Arc;
use std::time::Duration;

/// One routed event, serialised: what a sink stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Arc<str>,
    /// Partition key; `None` lets the sink spread the record.
    pub key: Option<String>,
    /// The output record, JSON (see README "Output record").
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The backend cannot take records now (broker down, timeout, disk error); the client should
    /// retry later. Some records of the failed call may have landed: delivery is at-least-once.
    #[error("{sink} sink unavailable: {reason}")]
    Unavailable { sink: &'static str, reason: String },
    /// The sink was closed by a shutdown.
    #[error("{sink} sink is shut down")]
    Closed { sink: &'static str },
    #[error("{sink} sink cannot start: {reason}")]
    Setup { sink: &'static str, reason: String },
}

#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Short name for logs and metric labels.
    fn name(&self) -> &'static str;

    /// Stores every record durably, or fails as a whole.
    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError>;

    /// Whether the sink can take records now (for `/readyz`).
    async fn check_ready(&self) -> Result<(), SinkError>;

    /// Flushes what is pending and stops taking records (graceful shutdown).
    async fn close(&self) -> Result<(), SinkError>;

    /// What to put in `Retry-After` when [`Sink::deliver`] reports the sink unavailable.
    fn retry_after(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// What waits in the disk spool, for a sink that has one.
    fn spool_status(&self) -> Option<spool::SpoolStatus> {
        None
    }
}

/// Builds the sink the config names, preparing `topics` where the backend needs it.
pub async fn build(config: &SinkConfig, topics: &[Arc<str>]) -> Result<Arc<dyn Sink>, SinkError> {
    Ok(match config.kind {
        SinkKind::File => Arc::new(file::FileSink::open(&config.file)?),
        SinkKind::Stdout => Arc::new(stdout::StdoutSink::new()),
        SinkKind::Kafka => {
            let kafka = kafka::KafkaSink::connect(&config.kafka, topics).await?;
            if config.spool.enabled {
                Arc::new(spool::SpooledSink::open(kafka, &config.spool)?)
            } else {
                Arc::new(kafka)
            }
        }
    })
}
