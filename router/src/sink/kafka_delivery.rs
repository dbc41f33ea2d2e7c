//! Delivery reports of the Kafka sink, counted per request: the producer's delivery callback
//! counts a request's records down and wakes the request once, when its last report is in.
//!
//! rdkafka's `FutureProducer` gives every record its own future: a oneshot channel allocated per
//! record, and a wake of the waiting task per report, so 100 wakes (and as many polls of a
//! 100-future join) for a 100-event batch. Here a request shares one [`Reports`] among its
//! records (an `Arc` passed as librdkafka's per-message opaque), and only the report that brings
//! the count to zero wakes it. The answer is the same: Ok when every record was acknowledged,
//! else the first failure.
//!
//! Every enqueued record gets exactly one report, a failure at the latest after
//! `message.timeout.ms`, so [`Reports::wait`] always ends.
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The producer the Kafka sink uses: librdkafka's, polled by its own thread, reporting per request.
pub type CountingProducer = ThreadedProducer<CountingContext>;

/// The reports still expected for one request, and its first failure.
pub struct Reports {
    pending: AtomicUsize,
    first_failure: Mutex<Option<String>>,
    all_in: Notify,
}

impl Reports {
    /// Expects `records` reports.
    pub fn expecting(records: usize) -> Arc<Self> {
        Arc::new(Reports {
            pending: AtomicUsize::new(records),
            first_failure: Mutex::new(None),
            all_in: Notify::new(),
        })
    }

    /// Waits for every expected report: Ok when all records were acknowledged, else the first
    /// failure's reason.
    pub async fn wait(&self) -> Result<(), String> {
        // `notify_one` keeps a permit when nobody waits yet, so a last report that lands between
        // the check and the await is not missed.
        while self.pending.load(Ordering::Acquire) > 0 {
            self.all_in.notified().await;
        }
        match self.lock().take() {
            None => Ok(()),
            Some(reason) => Err(reason),
        }
    }

    fn report(&self, outcome: Result<(), String>) {
        if let Err(reason) = outcome {
            self.lock().get_or_insert(reason);
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_in.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.first_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The producer context: each record carries its request's [`Reports`].
pub struct CountingContext;

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = Arc<Reports>;

    fn delivery(&self, result: &DeliveryResult<'_>, reports: Arc<Reports>) {
        reports.report(match result {
            Ok(_) => Ok(()),
            Err((e, _message)) => Err(e.to_string()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_the_last_report_and_keeps_the_first_failure() {
        let reports = Reports::expecting(3);
        let waiter = tokio::spawn({
            let reports = reports.clone();
            async move { reports.wait().await }
        });
        reports.report(Ok(()));
        reports.report(Err("first".into()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "answered before the last report");
        reports.report(Err("second".into()));
        assert_eq!(waiter.await.unwrap(), Err("first".to_owned()));
    }

    #[tokio::test]
    async fn reports_in_before_the_wait_are_not_missed() {
        let reports = Reports::expecting(2);
        reports.report(Ok(()));
        reports.report(Ok(()));
        let answer = tokio::time::timeout(Duration::from_secs(1), reports.wait()).await;
        assert_eq!(answer.expect("wait never ended"), Ok(()));
    }
}
