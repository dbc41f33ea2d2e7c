//! The pipeline: owns the event path from decoded SDK messages to durable records.
//!
//! [`Pipeline::run`] is the one entry point for a request: it takes the registry snapshot and the
//! plugin chain once, runs every message through the first half of the [`Stages`], resolves
//! identities for the whole request (`identify`), runs the second half, hands every record to
//! the sink in one delivery, and only then registers new names and counts what was accepted.
//! Events that plugins emit on their own (session summaries) go out through [`Pipeline::emit`].
//!
//! Each stage lives in its own file here and is unit-tested on plain values: `normalize`,
//! `validate`, `enrich`, `derive`, `records`; `stages` chains them; `identify` is the identity
//! step; `completion` runs the second half over a request and `session_steps` stores its
//! session steps; `tally` counts a request; `session_sweeper` closes idle sessions; `merge_resender`
//! sends again the merges whose records the sink has not acknowledged.
mod completion;
pub mod derive;
pub mod enrich;
pub mod identify;
pub mod merge_resender;
pub mod normalize;
pub mod records;
mod session_steps;
pub mod session_sweeper;
pub mod stages;
mod tally;
pub mod validate;

pub use enrich::RequestContext;
pub use identify::IdentityStage;
pub use stages::{Admitted, Outcome, Refused, Stages};

use crate::admission::Buckets;
use crate::error::{Code, Rejection};
use crate::event::Event;
use crate::metadata::Registry;
use crate::plugins::PluginHost;
use crate::sink::{Record, Sink, SinkError};
use crate::telemetry::IngestMetrics;
use completion::Completed;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What a 503 for an unreachable identity store suggests to the SDK.
const IDENTITY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The parts of the event path, assembled once at start-up.
pub struct Pipeline {
    stages: Stages,
    registry: Arc<Registry>,
    plugins: Arc<PluginHost>,
    /// `None` when `identity.enabled` is false.
    identity: Option<IdentityStage>,
    sink: Arc<dyn Sink>,
    metrics: IngestMetrics,
    /// Events per second per project (`limits.per_project_events_per_sec`); `None` is no limit.
    project_rate: Option<Arc<Buckets<String>>>,
}

/// One message's answer in a request whose records are all durable.
#[derive(Debug)]
pub enum ItemOutcome {
    Accepted {
        event_id: Uuid,
        /// Unknown names accepted under the `lenient` policy.
        warnings: Vec<Rejection>,
    },
    Rejected(Rejection),
}

/// How a request ended.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Every record of the request is durable; one outcome per message, in order.
    Done(Vec<ItemOutcome>),
    /// Nothing of the request was accepted: a store or the sink could not take it, or a project
    /// is over its rate, and the client should send it again after `retry_after`.
    Unavailable {
        code: Code,
        retry_after: Duration,
        reason: String,
    },
}

impl Pipeline {
    pub fn new(
        stages: Stages,
        registry: Arc<Registry>,
        plugins: Arc<PluginHost>,
        identity: Option<IdentityStage>,
        sink: Arc<dyn Sink>,
    ) -> Self {
        let metrics = IngestMetrics::new(&stages.records().topics(), sink.name());
        Pipeline {
            stages,
            registry,
            plugins,
            identity,
            sink,
            metrics,
            project_rate: None,
        }
    }

    /// Holds every project to the rate of `buckets` (nothing when `None`).
    pub fn with_project_rate(mut self, buckets: Option<Arc<Buckets<String>>>) -> Self {
        self.project_rate = buckets;
        self
    }

    pub fn stages(&self) -> &Stages {
        &self.stages
    }

    pub fn plugins(&self) -> &Arc<PluginHost> {
        &self.plugins
    }

    /// Runs one request's messages (slog's wire format), received at `received_at` (epoch ms),
    /// to durable records.
    pub async fn run(
        &self,
        request: &RequestContext,
        messages: Vec<Value>,
        received_at: i64,
    ) -> BatchOutcome {
        let events = messages
            .into_iter()
            .map(|m| normalize::normalize(m, received_at).map_err(Refused::malformed))
            .collect();
        self.run_events(request, events).await
    }

    /// Runs one request's messages, already parsed from their wire format (or refused by its
    /// parser), to durable records.
    pub async fn run_events(
        &self,
        request: &RequestContext,
        events: Vec<Result<Event, Refused>>,
    ) -> BatchOutcome {
        let count = events.len();
        if let Err(outcome) = self.take_project_rate(&events) {
            return outcome;
        }
        let snapshot = self.registry.snapshot();
        // One chain for the whole request: a reload swapping in a new one mid-batch does not split it.
        let chain = self.plugins.chain();
        let mut admissions: Vec<Result<Admitted, Refused>> = events
            .into_iter()
            .map(|parsed| {
                parsed.and_then(|event| self.stages.admit_event(&chain, &snapshot, request, event))
            })
            .collect();
        if let Some(identity) = &self.identity {
            let admitted = admissions.iter_mut().filter_map(|a| a.as_mut().ok());
            if let Err(e) = identity.apply(&snapshot, admitted).await {
                tracing::warn!(error = %e, "identity store failed; asking the client to retry");
                return unavailable(Code::IdentityUnavailable, IDENTITY_RETRY_AFTER, count, &e);
            }
        }

        let Completed {
            records,
            items,
            tally,
            to_register,
            announced,
        } = match self.complete_with_sessions(&chain, admissions).await {
            Ok(completed) => completed,
            Err(outcome) => return outcome,
        };
        if let Err(e) = self.deliver(records).await {
            tracing::warn!(error = %e, "sink refused a request's events");
            return unavailable(Code::SinkUnavailable, self.sink.retry_after(), count, &e);
        }
        if let (Some(identity), false) = (&self.identity, announced.is_empty()) {
            // Not cleared: the re-sender sends them again; the request is done either way.
            let _ = identity.merges_delivered(&announced).await;
        }
        // Counted and registered only once the events are durable: a 503 accepted nothing.
        if !to_register.is_empty() {
            self.registry.auto_register(to_register);
        }
        tally.record(&self.metrics);
        BatchOutcome::Done(items)
    }

    /// Delivers events a plugin emitted outside any request (session summaries), counted as
    /// derived events once durable.
    pub async fn emit(&self, events: &[Event]) -> Result<(), SinkError> {
        let records: Vec<Record> = events
            .iter()
            .map(|e| self.stages.records().record(e))
            .collect();
        self.deliver(records).await?;
        metrics::counter!("slog_events_derived_total").increment(events.len() as u64);
        Ok(())
    }

    async fn deliver(&self, records: Vec<Record>) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let delivered = self.sink.deliver(records).await;
        self.metrics.sink_delivery(started.elapsed().as_secs_f64());
        if delivered.is_err() {
            metrics::counter!("slog_sink_failures_total", "sink" => self.sink.name()).increment(1);
        }
        delivered
    }
}

/// A request none of whose `count` events was accepted, counted as refused under `code`.
impl Pipeline {
    /// Takes each project's events from its bucket; a request with a project over its rate is
    /// refused whole (429), before any work, so that a resend is not a duplicate. Buckets taken
    /// before the refusing one stay taken: tokens are cheaper than a second pass.
    fn take_project_rate(&self, events: &[Result<Event, Refused>]) -> Result<(), BatchOutcome> {
        let Some(buckets) = &self.project_rate else {
            return Ok(());
        };
        let mut per_project: Vec<(&str, u32)> = Vec::new();
        for event in events.iter().flatten() {
            match per_project.iter_mut().find(|(p, _)| *p == event.project) {
                Some((_, n)) => *n += 1,
                None => per_project.push((&event.project, 1)),
            }
        }
        for (project, n) in per_project {
            if let Err(wait) = buckets.take(&project.to_owned(), n) {
                crate::admission::count("project_rate");
                return Err(unavailable(
                    Code::RateLimited,
                    wait.max(Duration::from_secs(1)),
                    events.len(),
                    &format!("project {project:?} is over limits.per_project_events_per_sec"),
                ));
            }
        }
        Ok(())
    }
}

fn unavailable(
    code: Code,
    retry_after: Duration,
    count: usize,
    reason: &impl std::fmt::Display,
) -> BatchOutcome {
    metrics::counter!("slog_events_rejected_total", "code" => code.as_str())
        .increment(count as u64);
    BatchOutcome::Unavailable {
        code,
        retry_after,
        reason: reason.to_string(),
    }
}
