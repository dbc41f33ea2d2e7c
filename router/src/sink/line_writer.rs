//! A writer thread shared by the line-oriented sinks (file, stdout), with group commit.
//!
//! Requests hand their records to one thread over a channel and wait for its answer. The thread
//! takes every job that is queued, writes them all, flushes (and optionally fsyncs) once, and then
//! answers them all: under load one flush serves many requests, and no request is answered before
//! its lines are written. Blocking file I/O stays off the async runtime.
use super::{Record, SinkError};
use std::io;
use tokio::sync::{mpsc, oneshot};

/// Where a line writer puts records.
pub(super) trait Destination: Send + 'static {
    fn write(&mut self, record: &Record) -> io::Result<()>;
    /// Makes everything written so far durable to the degree the sink promises.
    fn commit(&mut self) -> io::Result<()>;
}

/// Jobs taken into one commit at most, so a flood cannot starve the answers.
const MAX_JOBS_PER_COMMIT: usize = 256;
const QUEUE_DEPTH: usize = 1024;

enum Job {
    Write(Vec<Record>, oneshot::Sender<io::Result<()>>),
    Close(oneshot::Sender<io::Result<()>>),
}

pub(super) struct LineWriter {
    sink: &'static str,
    jobs: mpsc::Sender<Job>,
}

impl LineWriter {
    pub(super) fn spawn(sink: &'static str, destination: impl Destination) -> io::Result<Self> {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name(format!("slog-{sink}-writer"))
            .spawn(move || run(destination, rx))?;
        Ok(LineWriter { sink, jobs })
    }

    pub(super) async fn write(&self, records: Vec<Record>) -> Result<(), SinkError> {
        let (done, answer) = oneshot::channel();
        self.submit(Job::Write(records, done), answer).await
    }

    pub(super) async fn close(&self) -> Result<(), SinkError> {
        let (done, answer) = oneshot::channel();
        self.submit(Job::Close(done), answer).await
    }

    async fn submit(
        &self,
        job: Job,
        answer: oneshot::Receiver<io::Result<()>>,
    ) -> Result<(), SinkError> {
        let closed = SinkError::Closed { sink: self.sink };
        self.jobs.send(job).await.map_err(|_| closed)?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SinkError::Unavailable {
                sink: self.sink,
                reason: e.to_string(),
            }),
            Err(_) => Err(SinkError::Closed { sink: self.sink }),
        }
    }
}

fn run(mut destination: impl Destination, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut waiting = Vec::with_capacity(batch.len());
        let mut closing = None;
        for job in batch.drain(..) {
            match job {
                Job::Write(records, done) => {
                    let written = records.iter().try_for_each(|r| destination.write(r));
                    waiting.push((written, done));
                }
                Job::Close(done) => closing = Some(done),
            }
        }
        let committed = destination.commit();
        for (written, done) in waiting {
            let outcome = match (&written, &committed) {
                (Err(e), _) | (Ok(()), Err(e)) => Err(io::Error::new(e.kind(), e.to_string())),
                (Ok(()), Ok(())) => Ok(()),
            };
            // The requester may have gone away (client disconnected); the lines are written anyway.
            let _ = done.send(outcome);
        }
        if let Some(done) = closing {
            let _ = done.send(committed);
            return;
        }
    }
}
