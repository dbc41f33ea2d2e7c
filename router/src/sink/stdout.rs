//! The stdout sink: one line per record, `{"topic": ..., "key": ..., "value": <output record>}`.
//!
//! For piping slog into another tool or watching events while developing. Logs go to stderr, so
//! standard output carries records only.
use super::line_writer::{Destination, LineWriter};
use super::{Record, Sink, SinkError};
use async_trait::async_trait;
use serde_json::value::RawValue;
use std::io::{self, BufWriter, Stdout, Write};

pub struct StdoutSink {
    writer: LineWriter,
}

impl StdoutSink {
    pub fn new() -> Self {
        let destination = Envelopes {
            out: BufWriter::new(io::stdout()),
        };
        StdoutSink {
            writer: LineWriter::spawn("stdout", destination)
                .expect("spawning the stdout writer thread"),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        self.writer.write(records).await
    }

    async fn check_ready(&self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn close(&self) -> Result<(), SinkError> {
        self.writer.close().await
    }
}

struct Envelopes {
    out: BufWriter<Stdout>,
}

#[derive(serde::Serialize)]
struct Envelope<'a> {
    topic: &'a str,
    key: Option<&'a str>,
    value: &'a RawValue,
}

impl Destination for Envelopes {
    fn write(&mut self, record: &Record) -> io::Result<()> {
        let value: &RawValue = serde_json::from_slice(&record.payload).map_err(io::Error::other)?;
        let envelope = Envelope {
            topic: &record.topic,
            key: record.key.as_deref(),
            value,
        };
        serde_json::to_writer(&mut self.out, &envelope).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn commit(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
