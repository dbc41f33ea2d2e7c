//! A request's counts, turned into one metrics call per label instead of one per event, and
//! recorded only once the request's records are durable.
use crate::error::{Code, Rejection};
use crate::telemetry::{count_rejection, IngestMetrics};
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Tally {
    /// Accepted events per topic (a request has one or two topics).
    accepted: Vec<(Arc<str>, u64)>,
    derived: u64,
    dead_letters: Vec<(Code, u64)>,
    warnings: Vec<(Code, u64)>,
    rejected: Vec<(Code, u64)>,
}

impl Tally {
    pub(super) fn accepted(&mut self, topic: &Arc<str>, derived: usize, warnings: &[Rejection]) {
        bump(&mut self.accepted, topic, |t| t.clone());
        self.derived += derived as u64;
        for warning in warnings {
            bump(&mut self.warnings, &warning.code, |c| *c);
        }
    }

    pub(super) fn rejected(&mut self, rejection: &Rejection, dead_lettered: bool) {
        bump(&mut self.rejected, &rejection.code, |c| *c);
        if dead_lettered {
            bump(&mut self.dead_letters, &rejection.code, |c| *c);
        }
    }

    /// Records the counts of a request whose records are durable.
    pub(super) fn record(self, metrics: &IngestMetrics) {
        for (topic, n) in self.accepted {
            metrics.accepted(&topic, n);
        }
        for (code, n) in self.dead_letters {
            metrics::counter!("slog_dead_letters_total", "code" => code.as_str()).increment(n);
        }
        if self.derived > 0 {
            metrics::counter!("slog_events_derived_total").increment(self.derived);
        }
        for (code, n) in self.warnings {
            metrics::counter!("slog_events_warnings_total", "code" => code.as_str()).increment(n);
        }
        for (code, n) in self.rejected {
            count_rejection(code, n);
        }
    }
}

fn bump<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: &K, own: impl FnOnce(&K) -> K) {
    match counts.iter_mut().find(|(k, _)| k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((own(key), 1)),
    }
}
