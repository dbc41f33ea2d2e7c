//! The production loader: a Kafka consumer group on the track and profile topics that stores
//! what it consumes in the ClickHouse warehouse. Offsets are committed only after ClickHouse
//! acknowledged the batch (at least once in, and `writer` stores each record once). Several
//! loaders with the same `group_id` split the topics' partitions between them.
use super::clickhouse::writer::{ClickHouseWarehouse, Consumed};
use super::loader::{count_loaded, RETRY_AFTER_ERROR};
use super::rows::Row;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often an idle loader records that it is caught up (the reports' data_sufficient_update_time).
const CAUGHT_UP_EVERY: Duration = Duration::from_secs(5);

pub struct KafkaLoader {
    pub consumer: StreamConsumer,
    pub warehouse: ClickHouseWarehouse,
    pub topics: Vec<String>,
    /// Longest a batch is collected for once its first record arrived.
    pub linger: Duration,
    pub batch_bytes: usize,
}

/// The consumer's settings: `brokers`, the group, and the sink's extra properties (security).
pub fn consumer_config(
    brokers: &str,
    group_id: &str,
    properties: &BTreeMap<String, String>,
) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", brokers)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("reconnect.backoff.max.ms", "1000");
    for (key, value) in properties {
        // Producer-only settings of the sink would make the consumer refuse to start.
        if !matches!(
            key.as_str(),
            "acks" | "linger.ms" | "compression.type" | "enable.idempotence"
        ) {
            cc.set(key, value);
        }
    }
    cc
}

fn source_name(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

impl KafkaLoader {
    /// Subscribes and loads until `stop` turns true (the batch in hand is finished first).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), KafkaError> {
        // The tables first: consuming before they exist would only fail batches.
        loop {
            match super::clickhouse::schema::migrate(self.warehouse.client()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, "the clickhouse warehouse is not reachable; retrying");
                    metrics::counter!("slog_warehouse_load_errors_total").increment(1);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER_ERROR) => {}
                _ = stop.changed() => return Ok(()),
            }
        }
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.consumer.subscribe(&topics)?;
        tracing::info!(?topics, "warehouse loader (kafka → clickhouse) started");
        let mut last_mark: Option<Instant> = None;
        let mut owned_before = HashSet::new();
        while !*stop.borrow() {
            let batch = tokio::select! {
                batch = self.collect() => batch,
                _ = stop.changed() => break,
            };
            let owned = self.owned();
            if owned != owned_before {
                let mut partitions: Vec<&String> = owned.iter().collect();
                partitions.sort();
                tracing::info!(?partitions, "warehouse loader owns partitions");
                owned_before = owned;
            }
            if batch.records.is_empty() {
                // Nothing arrived for a whole linger: every owned partition is read to its end.
                if last_mark.is_none_or(|t| t.elapsed() >= CAUGHT_UP_EVERY) {
                    let owned = self.owned();
                    let sources: Vec<&str> = owned.iter().map(String::as_str).collect();
                    if let Err(e) = self
                        .warehouse
                        .mark_caught_up(&sources, crate::clock::now_ms())
                        .await
                    {
                        tracing::warn!(error = %e, "recording the loader's watermark failed");
                    }
                    last_mark = Some(Instant::now());
                }
                continue;
            }
            self.store(&batch.records, &mut stop).await;
            if let Err(e) = self.consumer.commit(&batch.offsets, CommitMode::Sync) {
                // The records are stored; a later commit covers them, and a replay is skipped.
                tracing::warn!(error = %e, "committing consumer offsets failed");
            }
        }
        tracing::info!("warehouse loader stopped");
        Ok(())
    }

    /// Stores a batch, trying again until ClickHouse takes it or the loader is stopped (then
    /// the offsets stay uncommitted and the next loader re-reads the batch).
    async fn store(&self, records: &[Consumed], stop: &mut watch::Receiver<bool>) {
        loop {
            match self.warehouse.apply(records).await {
                Ok(applied) => {
                    count_loaded("kafka", applied.events, applied.profiles, applied.merges);
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing a batch in clickhouse failed; retrying");
                    metrics::counter!("slog_warehouse_load_errors_total").increment(1);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER_ERROR) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Waits for the first record, then collects until `batch_bytes` or `linger` is reached.
    async fn collect(&self) -> Batch {
        let mut batch = Batch::default();
        let mut bytes = 0;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                None => tokio::time::timeout(self.linger, self.consumer.recv()).await,
                Some(d) => tokio::time::timeout_at(d, self.consumer.recv()).await,
            };
            match next {
                Err(_) => break,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "kafka consumer error");
                    tokio::time::sleep(RETRY_AFTER_ERROR).await;
                    break;
                }
                Ok(Ok(message)) => {
                    let source = source_name(message.topic(), message.partition());
                    let payload = message.payload().unwrap_or_default();
                    bytes += payload.len();
                    let row = match Row::parse(payload) {
                        Ok(row) => Some(row),
                        Err(e) => {
                            tracing::warn!(%source, offset = message.offset(), error = %e, "unreadable record passed over");
                            metrics::counter!("slog_warehouse_unreadable_total", "source" => message.topic().to_owned())
                                .increment(1);
                            None
                        }
                    };
                    let _ = batch.offsets.add_partition_offset(
                        message.topic(),
                        message.partition(),
                        Offset::Offset(message.offset() + 1),
                    );
                    batch.records.push(Consumed {
                        source,
                        offset: message.offset(),
                        row,
                    });
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + self.linger);
                    if bytes >= self.batch_bytes {
                        break;
                    }
                }
            }
        }
        batch.keep_only(&self.owned());
        batch
    }

    /// The partitions this loader owns now, as source names.
    fn owned(&self) -> HashSet<String> {
        self.consumer
            .assignment()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| source_name(e.topic(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Batch {
    records: Vec<Consumed>,
    offsets: TopicPartitionList,
}

impl Batch {
    /// Drops the records of partitions this loader no longer owns (a rebalance handed them to
    /// another loader, which reads them again from the committed offset).
    fn keep_only(&mut self, owned: &HashSet<String>) {
        if self.records.iter().all(|r| owned.contains(&r.source)) {
            return;
        }
        self.records.retain(|r| owned.contains(&r.source));
        let mut offsets = TopicPartitionList::new();
        for e in self.offsets.elements() {
            if owned.contains(&source_name(e.topic(), e.partition())) {
                let _ = offsets.add_partition_offset(e.topic(), e.partition(), e.offset());
            }
        }
        self.offsets = offsets;
    }
}
