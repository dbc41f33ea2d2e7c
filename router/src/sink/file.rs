//! The file sink, the embedded default: one JSON line per record in `<dir>/<topic>.jsonl`.
//!
//! A request is answered after its lines are written to the files (flushed to the OS, so they
//! survive a slog crash); with `fsync = true` also after they reach the disk. A file is checked
//! for a torn last line (`torn_tail.rs`) when it is first opened, before anything is appended.
//!
//! The writing is the line writer thread's (`line_writer.rs`), with group commit. Writing on the
//! request's own task under a lock, to spare single-event requests the thread handoff, was tried
//! and reverted: the gain for single events was inside the noise, nothing for batches, and it
//! made a second write path to keep correct.
use super::config::FileSinkConfig;
use super::line_writer::{Destination, LineWriter};
use super::{torn_tail, Record, Sink, SinkError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct FileSink {
    dir: PathBuf,
    writer: LineWriter,
}

impl FileSink {
    pub fn open(config: &FileSinkConfig) -> Result<Self, SinkError> {
        let setup = |e: io::Error| SinkError::Setup {
            sink: "file",
            reason: format!("{}: {e}", config.dir.display()),
        };
        std::fs::create_dir_all(&config.dir).map_err(setup)?;
        let destination = TopicFiles {
            dir: config.dir.clone(),
            fsync: config.fsync,
            files: HashMap::new(),
        };
        Ok(FileSink {
            dir: config.dir.clone(),
            writer: LineWriter::spawn("file", destination).map_err(setup)?,
        })
    }

    /// The file that holds `topic`'s records.
    pub fn path_of(dir: &Path, topic: &str) -> PathBuf {
        dir.join(format!("{topic}.jsonl"))
    }
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        self.writer.write(records).await
    }

    async fn check_ready(&self) -> Result<(), SinkError> {
        match std::fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() && !m.permissions().readonly() => Ok(()),
            Ok(_) => Err(SinkError::Unavailable {
                sink: "file",
                reason: format!("{} is not a writable directory", self.dir.display()),
            }),
            Err(e) => Err(SinkError::Unavailable {
                sink: "file",
                reason: format!("{}: {e}", self.dir.display()),
            }),
        }
    }

    async fn close(&self) -> Result<(), SinkError> {
        self.writer.close().await
    }
}

/// The open files, one per topic, created on first use.
struct TopicFiles {
    dir: PathBuf,
    fsync: bool,
    files: HashMap<Arc<str>, BufWriter<File>>,
}

impl Destination for TopicFiles {
    fn write(&mut self, record: &Record) -> io::Result<()> {
        if !self.files.contains_key(&record.topic) {
            let path = FileSink::path_of(&self.dir, &record.topic);
            let torn = torn_tail::set_apart(&path)?;
            if torn > 0 {
                tracing::warn!(
                    topic = %record.topic,
                    bytes = torn,
                    quarantine = %torn_tail::quarantine_path(&path).display(),
                    "the file ended in half a record (a crash mid-write); set it apart before appending"
                );
                metrics::counter!("slog_file_sink_torn_tails_total", "topic" => record.topic.to_string())
                    .increment(1);
            }
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.files.insert(
                record.topic.clone(),
                BufWriter::with_capacity(64 * 1024, file),
            );
        }
        let out = self.files.get_mut(&record.topic).expect("inserted above");
        out.write_all(&record.payload)?;
        out.write_all(b"\n")
    }

    fn commit(&mut self) -> io::Result<()> {
        for out in self.files.values_mut() {
            out.flush()?;
            if self.fsync {
                out.get_ref().sync_data()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, body: &str) -> Record {
        Record {
            topic: topic.into(),
            key: None,
            payload: body.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn records_are_on_disk_when_deliver_returns_one_line_each_per_topic() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::open(&FileSinkConfig {
            dir: dir.path().join("nested"),
            fsync: true,
        })
        .unwrap();
        sink.deliver(vec![
            record("events", "{\"a\":1}"),
            record("users", "{\"u\":1}"),
        ])
        .await
        .unwrap();
        sink.deliver(vec![record("events", "{\"a\":2}")])
            .await
            .unwrap();
        let read = |t| std::fs::read_to_string(FileSink::path_of(&dir.path().join("nested"), t));
        assert_eq!(read("events").unwrap(), "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(read("users").unwrap(), "{\"u\":1}\n");
        sink.check_ready().await.unwrap();
    }

    /// With and without fsync: every line of concurrent requests lands whole, and a closed sink
    /// refuses later requests.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deliveries_all_land_and_close_refuses_later_ones() {
        for fsync in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let sink = Arc::new(
                FileSink::open(&FileSinkConfig {
                    dir: dir.path().to_owned(),
                    fsync,
                })
                .unwrap(),
            );
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let sink = sink.clone();
                    tokio::spawn(async move {
                        sink.deliver(vec![
                            record("t", &i.to_string()),
                            record("u", &i.to_string()),
                        ])
                        .await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            sink.close().await.unwrap();
            for topic in ["t", "u"] {
                let text =
                    std::fs::read_to_string(dir.path().join(format!("{topic}.jsonl"))).unwrap();
                let mut lines: Vec<i32> = text.lines().map(|l| l.parse().unwrap()).collect();
                lines.sort();
                assert_eq!(lines, (0..50).collect::<Vec<_>>(), "fsync = {fsync}");
            }
            let err = sink.deliver(vec![record("t", "late")]).await.unwrap_err();
            assert!(
                matches!(err, SinkError::Closed { .. }),
                "fsync = {fsync}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn a_torn_tail_is_set_apart_before_the_first_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = FileSink::path_of(dir.path(), "events");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":").unwrap();
        let sink = FileSink::open(&FileSinkConfig {
            dir: dir.path().to_owned(),
            fsync: false,
        })
        .unwrap();
        sink.deliver(vec![record("events", "{\"a\":2}")])
            .await
            .unwrap();
        sink.close().await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(
            std::fs::read_to_string(torn_tail::quarantine_path(&path)).unwrap(),
            "{\"a\":\n"
        );
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_a_setup_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let err = FileSink::open(&FileSinkConfig {
            dir: blocker.join("sub"),
            fsync: false,
        })
        .err()
        .unwrap();
        assert!(matches!(err, SinkError::Setup { .. }), "{err}");
    }
}
