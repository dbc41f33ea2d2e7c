//! Sends again the merges the outbox still holds: a merge is committed in the identity store
//! before its request's records reach the sink, so when the sink refuses the request (or slog
//! stops in between), the client's retry finds nothing left to merge. Every
//! `identity.merge_resend_interval_ms`, merges older than `identity.merge_resend_after_ms` are
//! delivered with the event_id they were given at the merge, and taken out once acknowledged:
//! the users topic hears of each merge at least once (twice when two instances re-send the same
//! one at the same moment, or an acknowledgement is lost; consumers deduplicate on event_id).
use super::Pipeline;
use crate::clock::now_ms;
use crate::identity::store::PendingMerge;
use crate::sink::Record;
use std::sync::Arc;
use std::time::Duration;

/// Merges re-sent in one delivery.
const BATCH: usize = 500;

pub fn spawn(pipeline: Arc<Pipeline>, every: Duration, after: Duration) {
    let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // A backlog (a long sink outage) drains batch after batch, until a short one.
            while resend_once(&pipeline, now_ms().saturating_sub(after_ms)).await == BATCH {}
        }
    });
}

/// Re-sends up to one batch of the merges committed before `before`; how many went out.
pub async fn resend_once(pipeline: &Pipeline, before: i64) -> usize {
    let Some(identity) = &pipeline.identity else {
        return 0;
    };
    let store = identity.resolver().store().store();
    let pending = match store.pending_merges(before, BATCH).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(error = %e, "merge outbox unreadable; trying again later");
            return 0;
        }
    };
    if pending.is_empty() {
        return 0;
    }
    let records: Vec<Record> = pending.iter().map(|p| record(pipeline, p)).collect();
    if let Err(e) = pipeline.deliver(records).await {
        tracing::warn!(error = %e, merges = pending.len(), "merges not re-sent; the sink refused them");
        return 0;
    }
    let ids: Vec<uuid::Uuid> = pending.iter().map(|p| p.merge.event_id).collect();
    metrics::counter!("slog_identity_merges_resent_total").increment(ids.len() as u64);
    if !identity.merges_delivered(&ids).await {
        // Sent, but still in the outbox: the next round sends them again.
        return 0;
    }
    tracing::info!(merges = ids.len(), "merges re-sent from the outbox");
    ids.len()
}

fn record(pipeline: &Pipeline, pending: &PendingMerge) -> Record {
    pipeline.stages.records().merge_record(
        &pending.project,
        pending.received_at,
        pending.time,
        &pending.merge,
    )
}
