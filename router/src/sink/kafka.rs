//! The Kafka sink: librdkafka's idempotent producer with acks=all.
//!
//! `deliver` enqueues every record of a request at once (librdkafka batches them by `linger.ms`)
//! and answers only when every delivery report is in, so a 200 means the brokers have the event.
//! The reports are counted per request (`kafka_delivery.rs`): one wake per request, not per record.
//! When the broker is down or slow, the reports fail after `delivery_timeout_ms` and the request
//! gets a 503; librdkafka keeps reconnecting on its own, so the next request succeeds once the
//! broker is back. A producer that hits a fatal error (possible with idempotence) is replaced.
use super::config::KafkaSinkConfig;
use super::kafka_delivery::{CountingContext, CountingProducer, Reports};
use super::{Record, Sink, SinkError};
use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const SINK: &str = "kafka";
/// How long readiness and topic creation wait for the broker.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before retrying an enqueue when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(2);
/// Failed requests in a row, with nothing delivered for two delivery timeouts, after which the
/// producer is replaced (see [`KafkaSink::after_failure`]).
const FAILURES_BEFORE_REPLACING: u32 = 3;

pub struct KafkaSink {
    client_config: ClientConfig,
    producer: RwLock<Arc<CountingProducer>>,
    topics: Vec<Arc<str>>,
    /// Set when `create_topics` is on: topics missing at a readiness check are created then.
    create_topics_with: Option<KafkaSinkConfig>,
    delivery_timeout: Duration,
    retry_after: Duration,
    failures_in_a_row: AtomicU32,
    /// Milliseconds since `created` of the last successful delivery: an atomic, because every
    /// successful request stamps it.
    last_delivery_ms: AtomicU64,
    created: Instant,
}

impl KafkaSink {
    /// Creates the producer and, when `create_topics` is set, the missing topics. A broker that is
    /// down at start-up is not an error: slog starts, `/readyz` says not ready (and creates the
    /// topics once the broker answers), posts get 503 until then.
    pub async fn connect(config: &KafkaSinkConfig, topics: &[Arc<str>]) -> Result<Self, SinkError> {
        let client_config = producer_config(config);
        let producer = create_producer(&client_config)?;
        if config.create_topics {
            let creation = create_topics(&client_config, config, topics);
            match tokio::time::timeout(ADMIN_TIMEOUT, creation).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not create the routing topics yet"),
                Err(_) => {
                    tracing::warn!("broker did not answer topic creation yet; /readyz retries")
                }
            }
        }
        Ok(KafkaSink {
            client_config,
            producer: RwLock::new(producer),
            topics: topics.to_vec(),
            create_topics_with: config.create_topics.then(|| config.clone()),
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            retry_after: Duration::from_secs(config.retry_after_secs),
            failures_in_a_row: AtomicU32::new(0),
            last_delivery_ms: AtomicU64::new(0),
            created: Instant::now(),
        })
    }

    fn current(&self) -> Arc<CountingProducer> {
        self.producer.read().expect("producer lock").clone()
    }

    fn after_success(&self) {
        self.failures_in_a_row.store(0, Ordering::Relaxed);
        let now = self.created.elapsed().as_millis() as u64;
        self.last_delivery_ms.store(now, Ordering::Relaxed);
    }

    /// Replaces the producer when it cannot recover by itself: after a fatal error (possible with
    /// idempotence), or when it has failed several requests in a row and delivered nothing for two
    /// delivery timeouts. The second case covers a broker that came back without the producer's
    /// state (it answers UNKNOWN_PRODUCER_ID forever, seen with an in-memory broker): a new producer
    /// gets a new producer id. Replacing costs only reconnecting.
    fn after_failure(&self, failed: &CountingProducer) {
        let failures = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        let last = Duration::from_millis(self.last_delivery_ms.load(Ordering::Relaxed));
        let silent_for = self.created.elapsed().saturating_sub(last);
        let fatal = failed.client().fatal_error();
        let stuck = failures >= FAILURES_BEFORE_REPLACING && silent_for > 2 * self.delivery_timeout;
        if fatal.is_none() && !stuck {
            return;
        }
        let mut slot = self.producer.write().expect("producer lock");
        // Another request may have replaced it already.
        if slot.client().native_ptr() != failed.client().native_ptr() {
            return;
        }
        match create_producer(&self.client_config) {
            Ok(fresh) => {
                match fatal {
                    Some((code, reason)) => {
                        tracing::error!(?code, %reason, "kafka producer hit a fatal error; replaced it")
                    }
                    None => tracing::warn!(
                        failures,
                        ?silent_for,
                        "kafka producer delivers nothing; replaced it"
                    ),
                }
                *slot = fresh;
                self.failures_in_a_row.store(0, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, "cannot create a new kafka producer"),
        }
    }

    /// The routing topics the broker does not have; an error when the broker does not answer.
    async fn missing_topics(&self) -> Result<Vec<Arc<str>>, SinkError> {
        let producer = self.current();
        let topics = self.topics.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(None, ADMIN_TIMEOUT)
                .map_err(|e| unavailable(format!("broker unreachable: {e}")))?;
            let present = |t: &Arc<str>| {
                metadata
                    .topics()
                    .iter()
                    .any(|m| m.name() == &**t && m.error().is_none() && !m.partitions().is_empty())
            };
            Ok(topics.into_iter().filter(|t| !present(t)).collect())
        })
        .await
        .map_err(unavailable)?
    }
}

fn unavailable(reason: impl std::fmt::Display) -> SinkError {
    SinkError::Unavailable {
        sink: SINK,
        reason: reason.to_string(),
    }
}

/// slog's producer settings. Public for the benchmark's Kafka ceiling, which must use the same.
pub fn producer_config(config: &KafkaSinkConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", config.linger_ms.to_string())
        .set("message.timeout.ms", config.delivery_timeout_ms.to_string())
        .set("compression.type", &config.compression)
        // Reconnect quickly once a broker is back, so recovery is not noticeably delayed.
        .set("reconnect.backoff.max.ms", "1000");
    for (key, value) in &config.properties {
        cc.set(key, value);
    }
    cc
}

fn create_producer(cc: &ClientConfig) -> Result<Arc<CountingProducer>, SinkError> {
    CountingProducer::from_config_and_context(cc, CountingContext)
        .map(Arc::new)
        .map_err(|e| SinkError::Setup {
            sink: SINK,
            reason: e.to_string(),
        })
}

async fn create_topics(
    cc: &ClientConfig,
    config: &KafkaSinkConfig,
    topics: &[Arc<str>],
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = cc.create()?;
    let new_topics: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.topic_partitions,
                TopicReplication::Fixed(config.topic_replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(topic) => tracing::info!(%topic, "created kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::warn!(%topic, ?code, "kafka topic creation failed");
                })
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Sink for KafkaSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        self.send(&records).await
    }

    async fn check_ready(&self) -> Result<(), SinkError> {
        self.ready().await
    }

    async fn close(&self) -> Result<(), SinkError> {
        let producer = self.current();
        let timeout = self.delivery_timeout;
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)
    }

    fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl KafkaSink {
    /// [`Sink::deliver`] without taking the records: the spool keeps them when this fails or
    /// takes too long.
    pub async fn send(&self, records: &[Record]) -> Result<(), SinkError> {
        let producer = self.current();
        let enqueue_deadline = Instant::now() + self.delivery_timeout;
        let reports = Reports::expecting(records.len());
        for record in records {
            let mut message =
                BaseRecord::with_opaque_to(&record.topic, reports.clone()).payload(&record.payload);
            if let Some(key) = &record.key {
                message = message.key(key);
            }
            loop {
                match producer.send(message) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < enqueue_deadline =>
                    {
                        message = back;
                        tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                    }
                    // Records enqueued before this one are still reported (into a `Reports`
                    // nobody waits on); the SDK's retry of the whole request may duplicate them,
                    // as with any at-least-once producer.
                    Err((e, _)) => {
                        self.after_failure(&producer);
                        return Err(unavailable(e));
                    }
                }
            }
        }
        match reports.wait().await {
            Ok(()) => {
                self.after_success();
                Ok(())
            }
            Err(reason) => {
                self.after_failure(&producer);
                Err(unavailable(reason))
            }
        }
    }

    /// Whether the brokers answer and have the routing topics; creates missing topics when
    /// `create_topics` is on.
    pub async fn ready(&self) -> Result<(), SinkError> {
        let missing = self.missing_topics().await?;
        if missing.is_empty() {
            return Ok(());
        }
        if let Some(config) = &self.create_topics_with {
            create_topics(&self.client_config, config, &missing)
                .await
                .map_err(|e| unavailable(format!("creating topics: {e}")))?;
            if self.missing_topics().await?.is_empty() {
                return Ok(());
            }
        }
        let names: Vec<&str> = missing.iter().map(|t| &**t).collect();
        Err(unavailable(format!("missing topics: {}", names.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    //! Error paths against librdkafka's in-process mock cluster; the same paths run against a
    //! real broker in tests/tests/ingest_kafka.rs.
    use super::*;
    use rdkafka::mocking::MockCluster;

    fn config(bootstrap: String) -> KafkaSinkConfig {
        KafkaSinkConfig {
            brokers: bootstrap,
            linger_ms: 1,
            delivery_timeout_ms: 1500,
            retry_after_secs: 3,
            ..KafkaSinkConfig::default()
        }
    }

    fn record(key: &str) -> Record {
        Record {
            topic: "events".into(),
            key: Some(key.into()),
            payload: b"{}".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_down_broker_is_unavailable_and_delivery_resumes_when_it_is_up() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("events", 2, 1).unwrap();
        cluster.create_topic("users", 1, 1).unwrap();
        let topics: Vec<Arc<str>> = vec!["events".into(), "users".into()];
        let sink = KafkaSink::connect(&config(cluster.bootstrap_servers()), &topics)
            .await
            .unwrap();
        sink.deliver(vec![record("a"), record("b")]).await.unwrap();
        sink.check_ready().await.unwrap();
        assert_eq!(sink.retry_after(), Duration::from_secs(3));

        cluster.broker_down(1).unwrap();
        let err = sink.deliver(vec![record("a")]).await.unwrap_err();
        assert!(matches!(err, SinkError::Unavailable { .. }), "{err}");

        cluster.broker_up(1).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Err(e) = sink.deliver(vec![record("a")]).await {
            assert!(Instant::now() < deadline, "never recovered: {e}");
        }
        sink.close().await.unwrap();
    }

    #[tokio::test]
    async fn readiness_names_the_missing_topics() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("events", 1, 1).unwrap();
        let topics: Vec<Arc<str>> = vec!["events".into(), "users".into()];
        let sink = KafkaSink::connect(&config(cluster.bootstrap_servers()), &topics)
            .await
            .unwrap();
        let err = sink.check_ready().await.unwrap_err().to_string();
        assert!(err.contains("missing topics: users"), "{err}");
    }
}
