//! The memory sink: records kept in a list in the process, and a switch that makes it refuse
//! deliveries as an unreachable broker would.
//!
//! For in-process tests of the HTTP app and for embedding slog as a library; a served slog
//! never uses it (records in memory do not survive the process, so a 200 would promise nothing).
use super::{Record, Sink, SinkError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct MemorySink {
    records: Mutex<Vec<Record>>,
    refusing: AtomicBool,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// While `refusing`, every delivery fails as unavailable and stores nothing.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Every record delivered so far, in delivery order.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().expect("memory sink lock").clone()
    }

    /// The records delivered to `topic`, as JSON.
    pub fn topic(&self, topic: &str) -> Vec<serde_json::Value> {
        self.records()
            .iter()
            .filter(|r| &*r.topic == topic)
            .map(|r| serde_json::from_slice(&r.payload).expect("records are JSON"))
            .collect()
    }
}

#[async_trait]
impl Sink for MemorySink {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        self.check_ready().await?;
        self.records
            .lock()
            .expect("memory sink lock")
            .extend(records);
        Ok(())
    }

    async fn check_ready(&self) -> Result<(), SinkError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(SinkError::Unavailable {
                sink: "memory",
                reason: "refusing deliveries".into(),
            });
        }
        Ok(())
    }

    async fn close(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
