//! Prometheus metrics: the recorder, `GET /metrics`, and the per-request counter middleware.
//!
//! Series (all prefixed `slog_`):
//! - `http_requests_total{path, status}` and `http_request_duration_seconds{path}`
//! - `events_accepted_total{topic}`, `events_rejected_total{code}`, `events_warnings_total{code}`,
//!   `dead_letters_total{code}`, `events_derived_total`
//! - `registry_version`, `registry_stale` (1 while refreshes fail), `registry_cache_up` (Redis),
//!   `registry_refresh_failures_total`,
//!   `registry_auto_registered_total`
//! - `sink_delivery_seconds{sink}`, `sink_failures_total{sink}`
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::time::{Duration, Instant};

/// Latency buckets in seconds, from sub-millisecond file writes to Kafka timeouts.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder and keeps its histograms trimmed. Call once, from `serve`.
pub fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Every `slog_` series in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
            content_type = "text/plain"),
        (status = 404, description = "No metrics recorder in this process (slog serve always has one)",
            body = String, content_type = "text/plain"),
    )
)]
pub async fn render(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The route pattern, not the raw path, so that junk paths cannot explode the label set.
    let path = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.http_metrics.record(
        path.as_ref().map_or("unmatched", |p| p.as_str()),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
