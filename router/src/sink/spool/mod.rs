//! The disk spool in front of the Kafka sink: nothing lost while the brokers are away.
//!
//! A request's records go to the brokers as usual. When the brokers cannot take them within
//! `sink.spool.after_ms` (down, slow, a topic missing), they are appended to the spool on local
//! disk and synced before the answer, and the client gets its 200: the promise is "acknowledged
//! by the brokers, or synced to the spool". A background task (`replay.rs`) sends the spool to
//! the brokers in order, with the same keys and the same `event_id`s, and moves the cursor only
//! past what they acknowledged. While anything waits in the spool, new records go behind it
//! rather than around it, so one user's events keep their order. A full spool
//! (`sink.spool.max_bytes`) answers 503 as slog does without a spool.
//!
//! At-least-once: a request that ran out of time may still reach the brokers after it was
//! spooled, and its records then arrive twice, with the same `event_id`.
pub mod config;
mod frame;
mod queue;
mod replay;

pub use config::SpoolConfig;

use super::kafka::KafkaSink;
use super::line_writer::{Destination, LineWriter};
use super::{Record, Sink, SinkError};
use async_trait::async_trait;
use queue::{Appender, Queue};
use serde::Serialize;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use utoipa::ToSchema;

const SINK: &str = "kafka";

/// What `/readyz` shows of the spool.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct SpoolStatus {
    /// Records waiting for the brokers.
    pub records: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    /// How long the oldest waiting record has waited, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_age_ms: Option<u64>,
    /// Why the brokers cannot take records now, when they cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers_error: Option<String>,
}

pub struct SpooledSink {
    kafka: Arc<KafkaSink>,
    queue: Arc<Queue>,
    writer: LineWriter,
    after: Duration,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    replayer: Mutex<Option<JoinHandle<()>>>,
    brokers_error: Arc<Mutex<Option<String>>>,
}

impl SpooledSink {
    /// Opens the spool (checking what a previous process left) and starts replaying it.
    pub fn open(kafka: KafkaSink, config: &SpoolConfig) -> Result<Self, SinkError> {
        let setup = |e: io::Error| SinkError::Setup {
            sink: SINK,
            reason: format!("spool {}: {e}", config.dir.display()),
        };
        let (queue, appender, recovered) =
            Queue::open(&config.dir, config.max_bytes).map_err(setup)?;
        if recovered.records > 0 {
            tracing::info!(
                records = recovered.records,
                "replaying the records a previous process left in the spool"
            );
        }
        let writer = LineWriter::spawn(
            "spool",
            SpoolWriter {
                appender,
                segment_bytes: config.segment_bytes,
            },
        )
        .map_err(setup)?;
        let kafka = Arc::new(kafka);
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let brokers_error = Arc::new(Mutex::new(None));
        let replayer = tokio::spawn(replay::run(replay::Replay {
            kafka: kafka.clone(),
            queue: queue.clone(),
            wake: wake.clone(),
            stopped,
            brokers_error: brokers_error.clone(),
        }));
        Ok(SpooledSink {
            kafka,
            queue,
            writer,
            after: Duration::from_millis(config.after_ms),
            wake,
            stop,
            replayer: Mutex::new(Some(replayer)),
            brokers_error,
        })
    }

    async fn spool(&self, records: Vec<Record>) -> Result<(), SinkError> {
        let reservation = self.queue.reserve(&records).map_err(|full| {
            metrics::counter!("slog_spool_full_total").increment(1);
            SinkError::Unavailable {
                sink: SINK,
                reason: format!("the brokers cannot take events and {full}"),
            }
        })?;
        match self.writer.write(records).await {
            Ok(()) => {
                metrics::counter!("slog_spool_appended_total").increment(reservation.records);
                self.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                self.queue.unreserve(reservation);
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Sink for SpooledSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        if self.queue.is_empty() {
            match tokio::time::timeout(self.after, self.kafka.send(&records)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => tracing::debug!(error = %e, "brokers refused a request; spooling it"),
                Err(_) => {
                    tracing::debug!(after = ?self.after, "brokers are slow; spooling a request")
                }
            }
        }
        self.spool(records).await
    }

    /// Ready while the brokers are, or while the spool has room for what they cannot take (no
    /// request was refused for want of it since the replayer last freed some).
    async fn check_ready(&self) -> Result<(), SinkError> {
        match self.kafka.ready().await {
            Ok(()) => {
                *lock(&self.brokers_error) = None;
                Ok(())
            }
            Err(e) => {
                *lock(&self.brokers_error) = Some(e.to_string());
                if !self.queue.is_full() {
                    Ok(())
                } else {
                    Err(SinkError::Unavailable {
                        sink: SINK,
                        reason: format!("{e}, and the spool is full"),
                    })
                }
            }
        }
    }

    async fn close(&self) -> Result<(), SinkError> {
        let _ = self.stop.send(true);
        let replayer = lock(&self.replayer).take();
        if let Some(task) = replayer {
            let _ = task.await;
        }
        self.writer.close().await?;
        let left = self.queue.depth().records;
        if left > 0 {
            tracing::warn!(
                records = left,
                "records are left in the spool; the next start replays them"
            );
        }
        self.kafka.close().await
    }

    fn retry_after(&self) -> Duration {
        self.kafka.retry_after()
    }

    fn spool_status(&self) -> Option<SpoolStatus> {
        let depth = self.queue.depth();
        Some(SpoolStatus {
            records: depth.records,
            bytes: depth.bytes,
            max_bytes: self.queue.max_bytes(),
            oldest_age_ms: depth.oldest_ms.map(|t| now_ms().saturating_sub(t)),
            brokers_error: lock(&self.brokers_error).clone(),
        })
    }
}

struct SpoolWriter {
    appender: Appender,
    segment_bytes: u64,
}

impl Destination for SpoolWriter {
    fn write(&mut self, record: &Record) -> io::Result<()> {
        self.appender.append(record);
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        self.appender.commit(self.segment_bytes)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Epoch milliseconds, as the spool's frames carry them.
fn now_ms() -> u64 {
    crate::clock::now_ms() as u64
}
