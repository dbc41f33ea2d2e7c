//! Closes sessions whose user went quiet: every `plugins.session_sweep_ms`, expired sessions are
//! handed to their plugin's `session-close`, and the events it emits (the session summaries) go
//! out through the pipeline like any other derived records.
use super::Pipeline;
use crate::clock::now_ms;
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(pipeline: Arc<Pipeline>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = now_ms();
            let host = pipeline.plugins();
            let expired = host.sessions().take_expired(now);
            if expired.is_empty() {
                continue;
            }
            let chain = host.chain();
            // Plugin calls block: keep them off the async workers.
            let closing =
                tokio::task::spawn_blocking(move || chain.close_sessions(expired, now)).await;
            let Ok(events) = closing else { continue };
            if events.is_empty() {
                continue;
            }
            if let Err(e) = pipeline.emit(&events).await {
                // Nobody can resend these: the loss is logged and counted.
                tracing::error!(error = %e, events = events.len(), "closing session events not delivered");
                metrics::counter!("slog_plugin_session_events_lost_total")
                    .increment(events.len() as u64);
            }
        }
    });
}
