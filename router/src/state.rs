//! The state every HTTP handler shares: the pipeline, the registry, the sink, the identity step,
//! the plugins, the admin token, the reports, the request limits and the metric handles. It sits below the
//! HTTP modules (ingest, admin) so that they depend on it and never on each other.
use crate::admission::Admission;
use crate::enrich::Enrichers;
use crate::metadata::Registry;
use crate::pipeline::{IdentityStage, Pipeline};
use crate::plugins::PluginHost;
use crate::reports::Reports;
use crate::sensors::SensorsConfig;
use crate::sink::Sink;
use crate::telemetry::HttpMetrics;
use std::sync::Arc;

/// The body and batch limits every event request is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_decoded_bytes: usize,
    pub max_batch_events: usize,
    pub max_string_bytes: usize,
}

/// What every handler shares, behind one `Arc`: axum clones the state for every request (the
/// extractor and the metrics middleware), and one reference count is cheaper than cloning and
/// dropping every field (it showed in the profile of single-event load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The event path: `POST /slog/event` hands its messages to it.
    pub pipeline: Arc<Pipeline>,
    pub registry: Arc<Registry>,
    pub enrichers: Arc<Enrichers>,
    pub sink: Arc<dyn Sink>,
    /// The identity step (for the identity admin API); `None` when `identity.enabled` is false.
    pub identity: Option<IdentityStage>,
    /// The WebAssembly plugins: the chain every request runs, reloads, status.
    pub plugins: Arc<PluginHost>,
    /// Admin API bearer token; `None` turns the admin API off.
    pub admin_token: Option<Arc<str>>,
    /// The report API over the warehouse; `None` when `reports.enabled` is false.
    pub reports: Option<Arc<Reports>>,
    /// The Sensors SDKs' receiver (`/sa`, `/sa.gif`); `None` when `sensors.enabled` is false.
    pub sensors: Option<Arc<SensorsConfig>>,
    pub limits: Limits,
    /// Rates, caps and lockouts every request is admitted by.
    pub admission: Arc<Admission>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Handles of the per-request HTTP series, registered once.
    pub http_metrics: Arc<HttpMetrics>,
}
