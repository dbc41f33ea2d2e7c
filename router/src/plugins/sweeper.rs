//! Closes sessions whose user went quiet: every `plugins.session_sweep_ms`, expired sessions are
//! handed to their plugin's `session-close` and the events it emits (the session summaries) are
//! delivered through the sink like any other records.
use super::host::PluginHost;
use crate::pipeline::Pipeline;
use crate::sink::Sink;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn spawn(host: Arc<PluginHost>, pipeline: Arc<Pipeline>, sink: Arc<dyn Sink>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
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
            let records: Vec<_> = events.iter().map(|e| pipeline.router().route(e)).collect();
            let count = records.len() as u64;
            match sink.deliver(records).await {
                Ok(()) => metrics::counter!("slog_events_derived_total").increment(count),
                Err(e) => {
                    // Nobody can resend these: the loss is logged and counted.
                    tracing::error!(error = %e, events = count, "closing session events not delivered");
                    metrics::counter!("slog_plugin_session_events_lost_total").increment(count);
                }
            }
        }
    });
}
