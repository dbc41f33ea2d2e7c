//! Metric handles registered once and reused on every request.
//!
//! `metrics::counter!(name, labels)` builds a key (allocating its label strings) and looks it up
//! in the recorder's registry on every call. The per-request series below are hit several times
//! per request, so they keep their handles: [`HttpMetrics`] per route pattern and status,
//! [`IngestMetrics`] per routing topic and for the sink. Recording through a kept handle is an
//! atomic add.
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// `slog_http_requests_total{path, status}` and `slog_http_request_duration_seconds{path}`,
/// kept per route pattern (a bounded set: patterns, never raw paths).
#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<Box<str>, RouteSeries>>,
}

struct RouteSeries {
    duration: Histogram,
    /// A route answers with a handful of statuses; a scan beats hashing.
    by_status: Vec<(u16, Counter)>,
}

impl HttpMetrics {
    /// Counts one answered request of route `path` with `status`, which took `seconds`.
    pub fn record(&self, path: &str, status: u16, seconds: f64) {
        {
            let routes = self.routes.read().expect("http metrics lock");
            if let Some(series) = routes.get(path) {
                if let Some(counter) = series.counter(status) {
                    series.duration.record(seconds);
                    counter.increment(1);
                    return;
                }
            }
        }
        // First request of this route and status: register, then record.
        let mut routes = self.routes.write().expect("http metrics lock");
        let series = routes.entry(path.into()).or_insert_with(|| RouteSeries {
            duration: metrics::histogram!("slog_http_request_duration_seconds", "path" => path.to_owned()),
            by_status: Vec::new(),
        });
        series.duration.record(seconds);
        if series.counter(status).is_none() {
            // Another request may have registered it between the two locks.
            let counter = metrics::counter!(
                "slog_http_requests_total",
                "path" => path.to_owned(),
                "status" => status.to_string()
            );
            series.by_status.push((status, counter));
        }
        series
            .counter(status)
            .expect("registered above")
            .increment(1);
    }
}

impl RouteSeries {
    fn counter(&self, status: u16) -> Option<&Counter> {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, counter)| counter)
    }
}

/// The ingest handler's per-request series: `slog_events_accepted_total{topic}` for the routing
/// topics and `slog_sink_delivery_seconds{sink}`.
pub struct IngestMetrics {
    accepted: HashMap<Arc<str>, Counter>,
    sink_delivery: Histogram,
}

impl IngestMetrics {
    /// Registers the series of `topics` (the router's) and of the sink named `sink`.
    pub fn new(topics: &[Arc<str>], sink: &'static str) -> Self {
        IngestMetrics {
            accepted: topics
                .iter()
                .map(|t| (t.clone(), accepted_counter(t)))
                .collect(),
            sink_delivery: metrics::histogram!("slog_sink_delivery_seconds", "sink" => sink),
        }
    }

    /// Counts `n` events accepted into `topic`.
    pub fn accepted(&self, topic: &str, n: u64) {
        match self.accepted.get(topic) {
            Some(counter) => counter.increment(n),
            // Not a routing topic known at start-up; slower, still counted.
            None => accepted_counter(topic).increment(n),
        }
    }

    pub fn sink_delivery(&self, seconds: f64) {
        self.sink_delivery.record(seconds);
    }
}

/// Counts `n` events refused with `code` (`slog_events_rejected_total{code}`).
pub fn count_rejection(code: crate::error::Code, n: u64) {
    metrics::counter!("slog_events_rejected_total", "code" => code.as_str()).increment(n);
}

fn accepted_counter(topic: &str) -> Counter {
    metrics::counter!("slog_events_accepted_total", "topic" => topic.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    /// The kept handles feed the same series `metrics::counter!` would: the rendered output
    /// carries each route/status and topic with the right counts.
    #[test]
    fn kept_handles_count_into_the_rendered_series() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let http = HttpMetrics::default();
            http.record("/slog/event", 200, 0.001);
            http.record("/slog/event", 200, 0.002);
            http.record("/slog/event", 400, 0.001);
            let ingest = IngestMetrics::new(&[Arc::from("events")], "file");
            ingest.accepted("events", 3);
            ingest.accepted("other", 2);
            ingest.sink_delivery(0.001);
        });
        let text = handle.render();
        for line in [
            r#"slog_http_requests_total{path="/slog/event",status="200"} 2"#,
            r#"slog_http_requests_total{path="/slog/event",status="400"} 1"#,
            r#"slog_events_accepted_total{topic="events"} 3"#,
            r#"slog_events_accepted_total{topic="other"} 2"#,
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        for line in [
            r#"slog_http_request_duration_seconds_count{path="/slog/event"} 3"#,
            r#"slog_sink_delivery_seconds_count{sink="file"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
    }
}
