//! `kafka-ceiling`: the Kafka ceiling of the benchmark — what a bare rdkafka producer with slog's
//! settings gets from the same broker, with no HTTP and no pipeline in front of it.
//!
//! It mirrors slog's Kafka sink request for request: `--connections` concurrent tasks (like the
//! concurrent HTTP requests slog serves), each enqueues the records of one request (1, or 100 for a
//! batch), backs off 2 ms on a full local queue as slog does, awaits every delivery report, and
//! repeats. The records are slog's output records for the same pageviews the load generator sends
//! (~1.2 KB, keyed by deviceUUID), generated before the run. The producer is slog's own: its
//! configuration (`slog_router::sink::kafka::producer_config`, slog's defaults) and its delivery
//! counting (`slog_router::sink::kafka_delivery`), so the two cannot drift apart.
//!
//! The result line is `slog-load`'s: a "request" is enqueue-to-all-acknowledged, and the CPU and
//! peak RSS reported are this process's, the counterpart of the slog process's.
//!
//! `--create-topics P` instead creates the `--topic` list (comma-separated) with P partitions and
//! exits: the benchmark's broker (tansu) does not create topics by itself.
use anyhow::{bail, Context};
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::BaseRecord;
use slog_bench::driver::{self, Outcome, Pacer, Plan, Recorder};
use slog_bench::pageview::{self, BODY_POOL};
use slog_bench::procfs;
use slog_router::config::KafkaSinkConfig;
use slog_router::sink::kafka::producer_config;
use slog_router::sink::kafka_delivery::{CountingContext, CountingProducer, Reports};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// slog's pause before retrying an enqueue on a full local queue (`QUEUE_FULL_BACKOFF`).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// One record per request.
    Single,
    /// 100 records per request (HTTP gzip makes no difference to what reaches Kafka).
    Batch100,
}

#[derive(Parser)]
#[command(
    name = "kafka-ceiling",
    about = "bare rdkafka producer with slog's settings"
)]
struct Cli {
    /// Bootstrap servers, e.g. 127.0.0.1:9092.
    #[arg(long)]
    brokers: String,
    /// Topic to produce to; with --create-topics, a comma-separated list to create.
    #[arg(long, default_value = "events")]
    topic: String,
    #[arg(long, value_enum, default_value = "single")]
    scenario: Scenario,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Requests per second, open loop. Without it: closed loop, the peak.
    #[arg(long)]
    rate: Option<f64>,
    /// linger.ms (slog: sink.kafka.linger_ms).
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// message.timeout.ms (slog: sink.kafka.delivery_timeout_ms, default 5000).
    #[arg(long, default_value_t = 5000)]
    delivery_timeout_ms: u64,
    /// The broker's process id: its CPU time over the measured window is reported too.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Create the --topic list with this many partitions, then exit.
    #[arg(long, value_name = "P")]
    create_topics: Option<i32>,
}

struct Shared {
    producer: CountingProducer,
    topic: String,
    per_request: usize,
    /// (key, payload) of `BODY_POOL` requests' worth of records.
    records: Vec<(String, Vec<u8>)>,
    enqueue_timeout: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(partitions) = cli.create_topics {
        return create_topics(&cli, partitions).await;
    }
    if cli.topic.contains(',') {
        bail!("produce to one --topic");
    }
    let per_request = match cli.scenario {
        Scenario::Single => 1,
        Scenario::Batch100 => pageview::BATCH_EVENTS,
    };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let records = (0..(BODY_POOL * per_request) as u64)
        .map(|seq| pageview::output_record(seq, now_ms))
        .collect();
    let shared = Arc::new(Shared {
        producer: CountingProducer::from_config_and_context(
            &producer_config(&KafkaSinkConfig {
                brokers: cli.brokers.clone(),
                linger_ms: cli.linger_ms,
                delivery_timeout_ms: cli.delivery_timeout_ms,
                ..KafkaSinkConfig::default()
            }),
            CountingContext,
        )
        .context("creating the producer")?,
        topic: cli.topic.clone(),
        per_request,
        records,
        enqueue_timeout: Duration::from_millis(cli.delivery_timeout_ms),
    });
    // slog's producer is connected and has its producer id before the first HTTP request; a
    // fresh producer stalls its first deliveries for about a second (metadata, InitProducerId).
    // Pay that before the run, or the stall lands in the ceiling's numbers.
    let prime = &shared.records[..shared.records.len().min(pageview::BATCH_EVENTS)];
    if !produce(&shared, prime).await {
        bail!("the broker at {} does not take records", cli.brokers);
    }
    let plan = Plan {
        scenario: match cli.scenario {
            Scenario::Single => "single",
            Scenario::Batch100 => "batch100",
        },
        events_per_request: per_request,
        connections: cli.connections.max(1),
        warmup: Duration::from_secs_f64(cli.warmup),
        duration: Duration::from_secs_f64(cli.duration),
        rate: cli.rate,
        // The producer is this process: its CPU (librdkafka's threads included) is the "server's".
        cpu_pid: Some(std::process::id()),
        broker_pid: cli.broker_pid,
    };
    let mut line = driver::run(&plan, |index, pacer| worker(index, pacer, shared.clone())).await?;
    line["peak_rss_kib"] = procfs::peak_rss_kib(std::process::id())?.into();
    println!("{line}");
    Ok(())
}

async fn worker(index: usize, pacer: Arc<Pacer>, shared: Arc<Shared>) -> Recorder {
    let mut recorder = Recorder::default();
    let mut request = index * 7;
    while let Some(ticket) = pacer.next().await {
        request = (request + 1) % BODY_POOL;
        let records =
            &shared.records[request * shared.per_request..(request + 1) * shared.per_request];
        let outcome =
            match tokio::time::timeout(driver::REQUEST_TIMEOUT, produce(&shared, records)).await {
                Ok(true) => Outcome::Ok,
                Ok(false) | Err(_) => Outcome::Error,
            };
        recorder.record(&pacer, ticket, outcome);
    }
    recorder
}

/// slog's `KafkaSink::deliver`: enqueue all, then await every report; true when all succeeded.
async fn produce(shared: &Shared, records: &[(String, Vec<u8>)]) -> bool {
    let deadline = Instant::now() + shared.enqueue_timeout;
    let reports = Reports::expecting(records.len());
    for (key, payload) in records {
        let mut message = BaseRecord::with_opaque_to(&shared.topic, reports.clone())
            .payload(payload)
            .key(key);
        loop {
            match shared.producer.send(message) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    message = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err(_) => return false,
            }
        }
    }
    reports.wait().await.is_ok()
}

async fn create_topics(cli: &Cli, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &cli.brokers)
        .create()
        .context("creating the admin client")?;
    let names: Vec<&str> = cli.topic.split(',').map(str::trim).collect();
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(topic) => eprintln!("created topic {topic} ({partitions} partitions)"),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                eprintln!("topic {topic} exists")
            }
            Err((topic, code)) => bail!("creating topic {topic}: {code:?}"),
        }
    }
    Ok(())
}
