//! The replayer: sends what waits in the spool to the brokers, oldest first, and acknowledges
//! it in the spool only once the brokers did. When they cannot take it, it waits (250 ms,
//! doubling to 5 s) and asks the Kafka sink whether it is ready — which also recreates routing
//! topics a restarted broker lost — so recovery needs no probe from outside.
use super::queue::Queue;
use super::{lock, now_ms};
use crate::sink::kafka::KafkaSink;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Records per delivery while replaying, and their bytes at most.
const BATCH_RECORDS: usize = 500;
const BATCH_BYTES: u64 = 4 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle replayer looks anyway (and refreshes the gauges).
const IDLE_TICK: Duration = Duration::from_secs(1);

pub struct Replay {
    pub kafka: Arc<KafkaSink>,
    pub queue: Arc<Queue>,
    pub wake: Arc<Notify>,
    pub stopped: watch::Receiver<bool>,
    pub brokers_error: Arc<Mutex<Option<String>>>,
}

pub async fn run(mut replay: Replay) {
    let mut backoff = FIRST_BACKOFF;
    while !*replay.stopped.borrow() {
        publish_gauges(&replay.queue);
        let queue = replay.queue.clone();
        let batch =
            match tokio::task::spawn_blocking(move || queue.read(BATCH_RECORDS, BATCH_BYTES)).await
            {
                Ok(Ok(batch)) => batch,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the spool");
                    pause(&mut replay, &mut backoff).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the spool reader panicked");
                    pause(&mut replay, &mut backoff).await;
                    continue;
                }
            };
        if batch.records.is_empty() {
            if batch.end != replay.queue.cursor() {
                // Only finished segments between the cursor and the writer: let them go.
                let queue = replay.queue.clone();
                let _ = tokio::task::spawn_blocking(move || queue.acknowledge(&batch)).await;
                continue;
            }
            idle(&mut replay).await;
            continue;
        }
        match replay.kafka.send(&batch.records).await {
            Ok(()) => {
                let count = batch.records.len() as u64;
                let queue = replay.queue.clone();
                match tokio::task::spawn_blocking(move || queue.acknowledge(&batch)).await {
                    Ok(Ok(())) => {}
                    // The brokers have them; the cursor did not move, so they are sent again.
                    Ok(Err(e)) => tracing::error!(error = %e, "cannot move the spool cursor"),
                    Err(e) => tracing::error!(error = %e, "the spool cursor writer panicked"),
                }
                metrics::counter!("slog_spool_replayed_total").increment(count);
                if backoff > FIRST_BACKOFF {
                    tracing::info!("brokers are taking the spool again");
                }
                *lock(&replay.brokers_error) = None;
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                if backoff == FIRST_BACKOFF {
                    tracing::warn!(error = %e, "brokers cannot take the spool yet; retrying");
                }
                *lock(&replay.brokers_error) = Some(e.to_string());
                pause(&mut replay, &mut backoff).await;
                // Recreates routing topics a restarted broker lost, when `create_topics` is on.
                let _ = replay.kafka.ready().await;
            }
        }
    }
    publish_gauges(&replay.queue);
}

async fn idle(replay: &mut Replay) {
    tokio::select! {
        () = replay.wake.notified() => {}
        () = tokio::time::sleep(IDLE_TICK) => {}
        _ = replay.stopped.changed() => {}
    }
}

async fn pause(replay: &mut Replay, backoff: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = replay.stopped.changed() => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}

fn publish_gauges(queue: &Queue) {
    let depth = queue.depth();
    metrics::gauge!("slog_spool_records").set(depth.records as f64);
    metrics::gauge!("slog_spool_bytes").set(depth.bytes as f64);
    let age = depth
        .oldest_ms
        .map_or(0.0, |t| now_ms().saturating_sub(t) as f64 / 1000.0);
    metrics::gauge!("slog_spool_oldest_age_seconds").set(age);
}
