//! Closes sessions whose user went quiet: every `plugins.session_sweep_ms`, expired sessions are
//! taken from the session store (each by one instance only, whichever sweeps first) and handed
//! to their plugin's `session-close`, and the events it emits (the session summaries) go out
//! through the pipeline like any other derived records.
use super::Pipeline;
use crate::clock::now_ms;
use std::sync::Arc;
use std::time::Duration;

/// Sessions closed per round trip to the store.
const BATCH: usize = 500;

pub fn spawn(pipeline: Arc<Pipeline>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // A backlog (slog stopped while sessions expired) closes batch after batch.
            while sweep_once(&pipeline).await == BATCH {}
            let host = pipeline.plugins();
            match host.sessions().count().await {
                Ok(open) => host.note_open_sessions(open),
                Err(e) => {
                    tracing::warn!(error = %e, "session store: counting open sessions failed")
                }
            }
        }
    });
}

/// Closes up to one batch of expired sessions; how many were taken.
async fn sweep_once(pipeline: &Pipeline) -> usize {
    let now = now_ms();
    let host = pipeline.plugins();
    let expired = match host.sessions().take_expired(now, BATCH).await {
        Ok(expired) => expired,
        Err(e) => {
            tracing::warn!(error = %e, "session store: expired sessions not taken; trying again");
            return 0;
        }
    };
    let taken = expired.len();
    if taken == 0 {
        return 0;
    }
    metrics::counter!("slog_plugin_sessions_closed_total").increment(taken as u64);
    let chain = host.chain();
    // Plugin calls block: keep them off the async workers.
    let closing = tokio::task::spawn_blocking(move || chain.close_sessions(expired, now)).await;
    let Ok(events) = closing else { return taken };
    if events.is_empty() {
        return taken;
    }
    if let Err(e) = pipeline.emit(&events).await {
        // The session is closed and taken: nobody can resend these. The loss is logged and counted.
        tracing::error!(error = %e, events = events.len(), "closing session events not delivered");
        metrics::counter!("slog_plugin_session_events_lost_total").increment(events.len() as u64);
    }
    taken
}
