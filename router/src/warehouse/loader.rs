//! The loader's loop: each source is loaded until it has caught up, then the loader waits
//! `poll_ms` and looks again, until it is told to stop (it then finishes the batch in hand).
use super::file_tail::{FileSource, TailError};
use super::sqlite_writer::SqliteWarehouse;
use std::time::Duration;
use tokio::sync::watch;

/// After an error (the store, a file or the broker unreachable), a loader tries again after
/// this long.
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(2);

pub struct Loader {
    pub warehouse: SqliteWarehouse,
    pub sources: Vec<FileSource>,
    pub poll: Duration,
    pub batch_bytes: usize,
}

impl Loader {
    /// Loads until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(sources = ?self.sources.iter().map(|s| &s.name).collect::<Vec<_>>(), "warehouse loader started");
        while !*stop.borrow() {
            let pause = match self.catch_up().await {
                Ok(()) => self.poll,
                Err(e) => {
                    tracing::error!(error = %e, "warehouse loader failed; retrying");
                    metrics::counter!("slog_warehouse_load_errors_total").increment(1);
                    RETRY_AFTER_ERROR
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("warehouse loader stopped");
    }

    /// Loads every source up to the end of what is written now.
    pub async fn catch_up(&self) -> Result<(), TailError> {
        for source in &self.sources {
            loop {
                let step = source.step(&self.warehouse, self.batch_bytes).await?;
                count_loaded(
                    &source.name,
                    step.applied.events,
                    step.applied.profiles,
                    step.applied.merges,
                );
                if !step.more {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Counts what a batch stored in `slog_warehouse_loaded_total{source,kind}`.
pub fn count_loaded(source: &str, events: u64, profiles: u64, merges: u64) {
    for (kind, n) in [("event", events), ("profile", profiles), ("merge", merges)] {
        if n > 0 {
            metrics::counter!("slog_warehouse_loaded_total", "source" => source.to_owned(), "kind" => kind)
                .increment(n);
        }
    }
}
