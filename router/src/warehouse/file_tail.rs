//! Loads one file sink topic (`<dir>/<topic>.jsonl`) into the SQLite warehouse, from where it
//! was loaded up to: whole lines only. A last line without its newline is being written (the
//! sink writes a line, then the next); it is waited for, never skipped or read half.
use super::rows::Row;
use super::sqlite_writer::{Applied, SqliteWarehouse};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// One topic's file.
#[derive(Debug, Clone)]
pub struct FileSource {
    /// The name its progress is saved under: the topic.
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing the warehouse: {0}")]
    Store(#[from] sqlx::Error),
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    pub applied: Applied,
    /// Records that could not be read (logged and counted, then passed over).
    pub unreadable: u64,
    /// Whether the file holds more whole lines than this step took.
    pub more: bool,
}

impl FileSource {
    /// Loads at most `max_bytes` of whole lines past the saved position.
    pub async fn step(
        &self,
        warehouse: &SqliteWarehouse,
        max_bytes: usize,
    ) -> Result<Step, TailError> {
        let progress = warehouse.progress(&self.name).await?;
        // A line longer than `max_bytes` is read whole by reading more.
        let mut limit = max_bytes;
        let (chunk, position, end) = loop {
            let (chunk, position) = self.read_from(progress.position, limit)?;
            match chunk.iter().rposition(|b| *b == b'\n') {
                Some(end) => break (chunk, position, end),
                None if chunk.len() < limit => return Ok(Step::default()),
                None => limit *= 2,
            }
        };
        let whole = &chunk[..=end];
        let mut rows = Vec::new();
        let mut unreadable = 0;
        for line in whole.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match Row::parse(line) {
                Ok(row) => rows.push(row),
                Err(e) => {
                    unreadable += 1;
                    tracing::error!(source = %self.name, error = %e, "warehouse: a record cannot be read; passed over");
                }
            }
        }
        if unreadable > 0 {
            metrics::counter!("slog_warehouse_unreadable_total", "source" => self.name.clone())
                .increment(unreadable);
        }
        // Everything up to the newest receive time read is in; lines still being written are
        // at most a request's wait behind it.
        let watermark = rows.iter().filter_map(Row::received_at).max();
        let next = position + whole.len() as u64;
        let applied = warehouse.apply(&self.name, &rows, next, watermark).await?;
        Ok(Step {
            applied,
            unreadable,
            more: chunk.len() == limit,
        })
    }

    /// Up to `max_bytes` from `position` (from the start when the file is shorter than that:
    /// it was replaced), and the position they start at.
    fn read_from(&self, position: u64, max_bytes: usize) -> Result<(Vec<u8>, u64), TailError> {
        let failed = |source| TailError::Read {
            path: self.path.clone(),
            source,
        };
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            // Nothing written to this topic yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), position))
            }
            Err(e) => return Err(failed(e)),
        };
        let len = file.metadata().map_err(failed)?.len();
        let start = if len < position {
            tracing::warn!(source = %self.name, path = %self.path.display(),
                "warehouse: the file is shorter than what was loaded from it (replaced?); reading it from the start");
            0
        } else {
            position
        };
        file.seek(SeekFrom::Start(start)).map_err(failed)?;
        let mut chunk = Vec::with_capacity(max_bytes.min((len - start) as usize));
        file.take(max_bytes as u64)
            .read_to_end(&mut chunk)
            .map_err(failed)?;
        Ok((chunk, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::open;
    use std::io::Write;

    fn line(id: &str, received_at: i64) -> String {
        format!(
            "{{\"event_id\":\"{id}\",\"received_at\":{received_at},\"time\":{received_at},\"stype\":100,\"type\":\"track\",\"eid\":\"pageview\",\"project\":\"p\",\"ps\":{{}},\"uidentity\":{{\"uuid\":\"U\"}}}}\n"
        )
    }

    async fn setup() -> (SqliteWarehouse, FileSource, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let warehouse = SqliteWarehouse::new(open(&url).await.unwrap());
        let source = FileSource {
            name: "events".into(),
            path: dir.path().join("events.jsonl"),
        };
        (warehouse, source, dir)
    }

    async fn stored(warehouse: &SqliteWarehouse) -> Vec<String> {
        sqlx::query_scalar("SELECT event_id FROM wh_events ORDER BY event_id")
            .fetch_all(warehouse.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_torn_last_line_is_waited_for_and_loaded_once_whole() {
        let (warehouse, source, _dir) = setup().await;
        assert_eq!(
            source.step(&warehouse, 1 << 20).await.unwrap(),
            Step::default()
        );
        let mut file = std::fs::File::create(&source.path).unwrap();
        let second = line("e2", 2);
        let (head, tail) = second.split_at(30);
        write!(file, "{}{head}", line("e1", 1)).unwrap();
        let step = source.step(&warehouse, 1 << 20).await.unwrap();
        assert_eq!(step.applied.events, 1);
        assert_eq!(stored(&warehouse).await, ["e1"]);
        write!(file, "{tail}").unwrap();
        source.step(&warehouse, 1 << 20).await.unwrap();
        assert_eq!(stored(&warehouse).await, ["e1", "e2"]);
        let progress = warehouse.progress("events").await.unwrap();
        assert_eq!(
            progress.position,
            std::fs::metadata(&source.path).unwrap().len()
        );
        assert_eq!(progress.watermark, Some(2));
    }

    #[tokio::test]
    async fn a_restart_resumes_where_the_last_batch_ended_and_bad_lines_are_passed_over() {
        let (warehouse, source, dir) = setup().await;
        let text = format!("{}not json\n{}", line("e1", 1), line("e2", 2));
        std::fs::write(&source.path, &text).unwrap();
        // A small batch size: several steps, each resuming from the saved position.
        let mut steps = 0;
        let mut unreadable = 0;
        loop {
            let step = source.step(&warehouse, 200).await.unwrap();
            unreadable += step.unreadable;
            steps += 1;
            if !step.more {
                break;
            }
        }
        assert!(steps > 1);
        assert_eq!(unreadable, 1);
        // A new loader on the same database (a restart) finds nothing left to do.
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let reopened = SqliteWarehouse::new(open(&url).await.unwrap());
        let step = source.step(&reopened, 1 << 20).await.unwrap();
        assert_eq!(step.applied.events, 0);
        assert_eq!(stored(&reopened).await, ["e1", "e2"]);
    }
}
