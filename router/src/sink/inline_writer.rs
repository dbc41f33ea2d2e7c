//! Writes a request's records on the calling task, under a lock: the file sink's path when it
//! does not fsync.
//!
//! Without fsync, a commit is a `write(2)` into the page cache, a few microseconds. Handing that
//! to the line writer's thread (`line_writer.rs`) costs more than the write itself on a small
//! request: a futex wake of the writer thread, a context switch, and another wake for the answer
//! (about 8% of slog's CPU for single-event requests in `perf record -e cpu-clock`). So the
//! requesting task writes and flushes its own lines, holding the lock only for that; requests
//! on other workers wait on the lock, which is the same serialisation the writer thread gives.
//! With fsync a commit waits for the disk (milliseconds) and must not block a runtime worker:
//! that mode keeps the writer thread and its group commit.
use super::line_writer::Destination;
use super::{Record, SinkError};
use std::io;
use std::sync::{Mutex, MutexGuard};

pub(super) struct InlineWriter<D> {
    sink: &'static str,
    /// `None` once closed: later writes are refused, as the writer thread refuses them.
    destination: Mutex<Option<D>>,
}

impl<D: Destination> InlineWriter<D> {
    pub(super) fn new(sink: &'static str, destination: D) -> Self {
        InlineWriter {
            sink,
            destination: Mutex::new(Some(destination)),
        }
    }

    /// Writes and commits `records`; returns once they are with the OS.
    pub(super) fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        let mut guard = self.lock();
        let destination = guard
            .as_mut()
            .ok_or(SinkError::Closed { sink: self.sink })?;
        let written = records.iter().try_for_each(|r| destination.write(r));
        // Commit even after a failed write: earlier requests' buffered lines must still go out.
        let committed = destination.commit();
        written.and(committed).map_err(|e| self.unavailable(e))
    }

    /// Commits what is buffered and refuses every later write.
    pub(super) fn close(&self) -> Result<(), SinkError> {
        match self.lock().take() {
            Some(mut destination) => destination.commit().map_err(|e| self.unavailable(e)),
            None => Ok(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<D>> {
        // A panic while writing leaves the files as they were; keep serving.
        self.destination
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unavailable(&self, e: io::Error) -> SinkError {
        SinkError::Unavailable {
            sink: self.sink,
            reason: e.to_string(),
        }
    }
}
